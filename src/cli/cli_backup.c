/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_backup.c - `egide backup --db PATH --out FILE`: an online, consistent
 * copy of an edge's or an SQLite broker's database while its daemon runs
 * (egide_db_backup in the store layer: one snapshot, a new 0600 file, one
 * file, integrity-checked, synced).  On a terminal the progress is shown.
 * A broker on PostgreSQL is backed up with PostgreSQL's own tools
 * (docs/backup.md).
 */
#include <stdio.h>

#include "cli.h"
#include "egide/store/egide_db.h"

static const cli_opt_t s_opts[] = {
    {"--db", CLI_VALUE, "PATH", "the database to copy (edge.sqlite, broker.sqlite)", true},
    {"--out", CLI_VALUE, "FILE", "the copy to make (must not exist; made mode 0600)", true},
    {NULL, CLI_FLAG, NULL, NULL, false},
};
static const char s_about[] =
    "Copy an edge's or a broker's SQLite database while its daemon runs: one consistent "
    "snapshot, written to a new 0600 file, checked, synced.  Restore: stop the daemon, put the "
    "copy in place of the database (removing its -wal and -shm files), start it (docs/backup.md).";
static const cli_cmd_t s_cmd = CLI_CMD("backup", NULL, 0, 0, s_about, s_opts);

/* egide_db_backup's page counts into the progress line (cli_progress.c). */
static void s_progress(void *arg, int done, int total)
{
    cli_progress_update(arg, done > 0 ? (uint64_t)done : 0, total > 0 ? (uint64_t)total : 0);
}

static int s_backup(const cli_args_t *a)
{
    const char *what = a->cmd->name;
    const char *db = cli_get(a, "--db"), *out = cli_get(a, "--out");
    egide_db_backup_info_t info;
    char err[512];
    cli_progress_t pg;
    cli_progress_start(&pg, "backup", "pages");
    egide_rc rc = egide_db_backup(db, out, pg.out ? s_progress : NULL, &pg, &info, err, sizeof err);
    cli_progress_end(&pg);
    if (rc == EGIDE_ERR_NOTFOUND)
        return cli_fail(what, "%s", err) + 1;
    if (rc == EGIDE_ERR_EXISTS)
        return cli_fail(what, "%s (a backup is never written over a file)", err);
    if (rc)
        return cli_fail_rc(what, rc, "%s; no copy left behind", err);
    printf("%s: a consistent copy of %s, %d pages (%lld bytes), integrity ok, mode 0600\n", out, db,
           info.pages, (long long)info.bytes);
    return 0;
}

const cli_entry_t cli_backup = {&s_cmd, s_backup};
