/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pg_fixture.h - a PostgreSQL server for the unit tests that run a store
 * conformance test on the PostgreSQL backend, and a fresh empty database
 * per test.
 *
 * The server is EGIDE_TEST_PG (the conninfo of a server where the test may
 * CREATE DATABASE) when it is set; otherwise a temporary PostgreSQL 15
 * cluster in the test's own temporary directory: initdb with trust
 * authentication, on 127.0.0.1 and a free port, its unix socket in that
 * directory, fsync off (it is thrown away), stopped with pg_ctl at the end.
 * As root, the server tools run as the postgres user (runuser), since they
 * refuse root.  No password anywhere.
 *
 * When neither is possible the PostgreSQL tests are skipped, unless
 * EGIDE_TEST_PG_REQUIRED=1 (which CMake sets when it found initdb): then
 * it is a failure, so that CI cannot skip them silently.
 */
#ifndef PG_FIXTURE_H
#define PG_FIXTURE_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char pg_fx_admin[256];  /* conninfo of the server's postgres database */
static char pg_fx_dir[300];    /* the temporary cluster's directory, "" when none */
static char pg_fx_runas[64];   /* "runuser -u postgres -- " as root */
static char pg_fx_bindir[256]; /* PostgreSQL's server tools */
static int pg_fx_n;            /* databases made */
static char pg_fx_start[2048]; /* the command that starts our cluster */

/* A free TCP port on 127.0.0.1 (0 when none). */
static inline int pg_fx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline int pg_fx_sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "pg fixture: failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Start the temporary cluster under dir; 0 when it runs. */
static inline int pg_fx_cluster(const char *dir)
{
    const char *bindir = getenv("EGIDE_PG_BINDIR");
    snprintf(pg_fx_bindir, sizeof pg_fx_bindir, "%s",
             bindir && bindir[0] ? bindir : "/usr/lib/postgresql/15/bin");
    char initdb[300];
    snprintf(initdb, sizeof initdb, "%s/initdb", pg_fx_bindir);
    if (access(initdb, X_OK) != 0) {
        fprintf(stderr, "pg fixture: no %s\n", initdb);
        return -1;
    }
    snprintf(pg_fx_dir, sizeof pg_fx_dir, "%s/pg", dir);
    if (mkdir(pg_fx_dir, 0700) != 0) {
        pg_fx_dir[0] = '\0';
        return -1;
    }
    pg_fx_runas[0] = '\0';
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw || chown(dir, pw->pw_uid, pw->pw_gid) != 0 ||
            chown(pg_fx_dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "pg fixture: no postgres user to run the server as\n");
            return -1;
        }
        snprintf(pg_fx_runas, sizeof pg_fx_runas, "runuser -u postgres -- ");
    }
    int port = pg_fx_free_port();
    if (!port)
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s'%s' -D '%s/data' -A trust -U postgres -E UTF8 --locale=C --no-sync"
             " >'%s/initdb.log' 2>&1",
             pg_fx_runas, initdb, pg_fx_dir, pg_fx_dir);
    if (pg_fx_sh(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof cmd,
             "%s'%s/pg_ctl' -D '%s/data' -l '%s/server.log' -w -t 60 -o \"-p %d -k '%s'"
             " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60\" start"
             " >/dev/null 2>&1",
             pg_fx_runas, pg_fx_bindir, pg_fx_dir, pg_fx_dir, port, pg_fx_dir);
    snprintf(pg_fx_start, sizeof pg_fx_start, "%s", cmd);
    if (pg_fx_sh(cmd) != 0)
        return -1;
    snprintf(pg_fx_admin, sizeof pg_fx_admin,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=10", port);
    return 0;
}

/* Find or start a server.  1: up; 0: skipped (said why); -1: failure. */
static inline int pg_fixture_start(const char *dir)
{
    const char *given = getenv("EGIDE_TEST_PG");
    const char *req = getenv("EGIDE_TEST_PG_REQUIRED");
    bool required = req && strcmp(req, "1") == 0;
    if (given && given[0])
        snprintf(pg_fx_admin, sizeof pg_fx_admin, "%s", given);
    else if (pg_fx_cluster(dir) != 0) {
        fprintf(stderr, "pg fixture: EGIDE_TEST_PG unset and no server could be started: %s\n",
                required ? "FAILED (EGIDE_TEST_PG_REQUIRED=1)" : "PostgreSQL tests SKIPPED");
        return required ? -1 : 0;
    }
    PGconn *c = PQconnectdb(pg_fx_admin);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (!ok)
        fprintf(stderr, "pg fixture: cannot connect: %s", PQerrorMessage(c));
    PQfinish(c);
    return ok ? 1 : -1;
}

/* Stop the temporary cluster (if we started one). */
static inline void pg_fixture_stop(void)
{
    if (!pg_fx_dir[0])
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s'%s/pg_ctl' -D '%s/data' -m fast -w stop >/dev/null 2>&1",
             pg_fx_runas, pg_fx_bindir, pg_fx_dir);
    (void)pg_fx_sh(cmd);
    pg_fx_dir[0] = '\0';
}

/* Our cluster down (fast shutdown: sessions are cut) or up again; -1
 * when the server is not ours (EGIDE_TEST_PG): the caller skips. */
static inline int pg_fixture_server(bool up)
{
    if (!pg_fx_dir[0])
        return -1;
    char cmd[1024];
    if (up)
        return pg_fx_sh(pg_fx_start);
    snprintf(cmd, sizeof cmd, "%s'%s/pg_ctl' -D '%s/data' -m fast -w stop >/dev/null 2>&1",
             pg_fx_runas, pg_fx_bindir, pg_fx_dir);
    return pg_fx_sh(cmd);
}

/* Run one SQL command on the admin connection; 0 when it worked. */
static inline int pg_fixture_admin(const char *sql)
{
    PGconn *c = PQconnectdb(pg_fx_admin);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc)
            fprintf(stderr, "pg fixture: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

/* A fresh, empty database: its conninfo into out; 0 when made. */
static inline int pg_fixture_db(char *out, size_t size)
{
    char name[64], sql[128];
    snprintf(name, sizeof name, "egide_t%d_%d", (int)getpid(), ++pg_fx_n);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (pg_fixture_admin(sql) != 0)
        return -1;
    int n = snprintf(out, size, "%s dbname=%s", pg_fx_admin, name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Cut every session on the database of conninfo (its last dbname=), as a
 * server restart or a network cut would: 0 when done. */
static inline int pg_fixture_cut(const char *conninfo)
{
    const char *d = NULL;
    for (const char *p = strstr(conninfo, "dbname="); p; p = strstr(p + 1, "dbname="))
        d = p + 7;
    char name[64] = "", sql[256];
    if (!d || sscanf(d, "%63[a-z0-9_]", name) != 1)
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'"
             " AND pid <> pg_backend_pid()",
             name);
    PGconn *c = PQconnectdb(pg_fx_admin);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? 0 : -1;
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

/* Drop the databases made (on a server we did not start). */
static inline void pg_fixture_drop_all(void)
{
    for (int i = 1; i <= pg_fx_n && !pg_fx_dir[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS egide_t%d_%d", (int)getpid(), i);
        (void)pg_fixture_admin(sql);
    }
}

#endif
