/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_log.c - logging: level filtering, level names, control characters never reach a log line,
 * warn adds strerror; under the journal the structured fields (through a fake journal writer), the
 * text line on stderr unchanged otherwise, and $JOURNAL_STREAM detection. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egide/base/egide_log.h"
#include "egide_test.h"

static char s_last[1100];
static int s_count;
static egide_log_level s_level;

static void s_sink(egide_log_level level, const char *line, void *arg)
{
    (void)arg;
    s_level = level;
    s_count++;
    snprintf(s_last, sizeof s_last, "%s", line);
}

static void test_levels(void)
{
    egide_log_init("test", false, EGIDE_LOG_NOTICE);
    egide_log_set_sink(s_sink, NULL);
    s_count = 0;
    egide_log(EGIDE_LOG_DEBUG, "hidden %d", 1);
    egide_log(EGIDE_LOG_INFO, "hidden %d", 2);
    CHECK(s_count == 0);
    egide_log(EGIDE_LOG_ERROR, "shown %d", 3);
    CHECK(s_count == 1 && s_level == EGIDE_LOG_ERROR);
    CHECK_STREQ(s_last, "shown 3");
    egide_log_set_level(EGIDE_LOG_DEBUG);
    CHECK(egide_log_get_level() == EGIDE_LOG_DEBUG);
    egide_log(EGIDE_LOG_DEBUG, "now %s", "shown");
    CHECK(s_count == 2);
    egide_log_level l;
    CHECK_RC(egide_log_parse_level("WARNING", &l), EGIDE_OK);
    CHECK(l == EGIDE_LOG_WARNING);
    CHECK_RC(egide_log_parse_level("loud", &l), EGIDE_ERR_INVALID);
}

static void test_sanitize(void)
{
    egide_log_set_level(EGIDE_LOG_DEBUG);
    /* A peer-supplied string with a newline must not forge a second line. */
    egide_log(EGIDE_LOG_NOTICE, "node %s", "71.crip\n2026-01-01 egide: error: forged\x1b[31m");
    CHECK(strchr(s_last, '\n') == NULL);
    CHECK(strchr(s_last, '\x1b') == NULL);
    CHECK(strstr(s_last, "71.crip?2026") != NULL);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    egide_log(EGIDE_LOG_NOTICE, "%s", big);
    CHECK(strlen(s_last) < 1024); /* bounded, not overflowing */
}

static void test_warn(void)
{
    errno = ENOENT;
    egide_log_warn("open %s", "/nope");
    CHECK(s_level == EGIDE_LOG_WARNING);
    CHECK(strstr(s_last, "open /nope: ") == s_last);
    CHECK(strstr(s_last, "No such file") != NULL);
    egide_log_set_level(EGIDE_LOG_ERROR);
    int before = s_count;
    egide_log_warn("filtered");
    CHECK(s_count == before);
    egide_log_set_sink(NULL, NULL);
}

/* ---- the journal ---- */

#define S_FIELDS 16
static char s_field[S_FIELDS][1200];
static int s_nfields, s_jcalls, s_jresult;

/* A fake sd_journal_sendv(): keeps the fields as strings. */
static int s_fake_journal(const struct iovec *iov, int n, void *arg)
{
    CHECK(arg == &s_jcalls);
    s_jcalls++;
    s_nfields = 0;
    for (int i = 0; i < n && i < S_FIELDS; i++) {
        size_t l = iov[i].iov_len < sizeof s_field[i] - 1 ? iov[i].iov_len : sizeof s_field[i] - 1;
        memcpy(s_field[i], iov[i].iov_base, l);
        s_field[i][l] = '\0';
        s_nfields++;
    }
    return s_jresult;
}

/* The value of field name in the last journal line, or NULL. */
static const char *s_jget(const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < s_nfields; i++)
        if (strncmp(s_field[i], name, l) == 0 && s_field[i][l] == '=')
            return s_field[i] + l + 1;
    return NULL;
}

/* Run fn with stderr sent to a file; returns what it wrote (static). */
static const char *s_capture_stderr(void (*fn)(void))
{
    static char buf[4096];
    char path[] = "/tmp/egide-test-log.XXXXXX";
    int fd = mkstemp(path);
    int saved = fd >= 0 ? dup(STDERR_FILENO) : -1;
    if (saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
        CHECK(!"stderr cannot be redirected");
        return "";
    }
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void s_plain_line(void)
{
    egide_log(EGIDE_LOG_NOTICE, "rejected %s from %s (%s): %s", "a001", "71.crip",
              "REASON_FORBIDDEN_TYPE", "no");
}
static void s_kv_line(void)
{
    egide_log_kv(EGIDE_LOG_NOTICE,
                 &(egide_log_fields){.component = "submit",
                                     .msg_id = "a001",
                                     .peer = "71.crip",
                                     .reason = "REASON_FORBIDDEN_TYPE"},
                 "rejected %s from %s (%s): %s", "a001", "71.crip", "REASON_FORBIDDEN_TYPE", "no");
}

/* The text after "<time> " of a stderr line. */
static const char *s_after_time(const char *line)
{
    const char *sp = strchr(line, ' ');
    return sp ? sp + 1 : "";
}

static void test_journal_fields(void)
{
    egide_log_init("egide-broker", false, EGIDE_LOG_INFO);
    egide_log_set_sink(NULL, NULL); /* a test sink would take the lines first */
    egide_log_set_node("71.broker");
    egide_log_set_journal(s_fake_journal, &s_jcalls);
    s_jcalls = 0;
    s_jresult = 0;
    s_kv_line();
    CHECK(s_jcalls == 1);
    CHECK_STREQ(s_jget("PRIORITY"), "5"); /* LOG_NOTICE */
    CHECK_STREQ(s_jget("MESSAGE"), "rejected a001 from 71.crip (REASON_FORBIDDEN_TYPE): no");
    CHECK_STREQ(s_jget("SYSLOG_IDENTIFIER"), "egide-broker");
    CHECK_STREQ(s_jget("EGIDE_NODE"), "71.broker");
    CHECK_STREQ(s_jget("EGIDE_COMPONENT"), "submit");
    CHECK_STREQ(s_jget("EGIDE_MSG_ID"), "a001");
    CHECK_STREQ(s_jget("EGIDE_PEER"), "71.crip");
    CHECK_STREQ(s_jget("EGIDE_REASON"), "REASON_FORBIDDEN_TYPE");
    CHECK(s_nfields == 8);

    /* A plain line: only what is known, the thread's component. */
    egide_log_set_component("relay");
    egide_log(EGIDE_LOG_ERROR, "store: %s", "down");
    CHECK(s_jcalls == 2);
    CHECK_STREQ(s_jget("PRIORITY"), "3"); /* LOG_ERR */
    CHECK_STREQ(s_jget("EGIDE_COMPONENT"), "relay");
    CHECK(s_jget("EGIDE_MSG_ID") == NULL && s_jget("EGIDE_PEER") == NULL);
    CHECK(s_jget("EGIDE_REASON") == NULL);
    CHECK(s_nfields == 5);
    egide_log_set_component(NULL);
    egide_log_set_node(NULL);
    egide_log_kv(EGIDE_LOG_DEBUG, NULL, "%s", "filtered out"); /* level INFO */
    CHECK(s_jcalls == 2);
    egide_log_kv(EGIDE_LOG_INFO, NULL, "%s", "bare");
    CHECK(s_jcalls == 3);
    CHECK_STREQ(s_jget("PRIORITY"), "6");
    CHECK(s_jget("EGIDE_NODE") == NULL && s_jget("EGIDE_COMPONENT") == NULL);
    CHECK(s_nfields == 3);

    /* A peer's string cannot add a field nor break a value. */
    egide_log_kv(EGIDE_LOG_WARNING,
                 &(egide_log_fields){.peer = "71.crip\nEGIDE_NODE=forged", .msg_id = ""}, "x\ny");
    CHECK_STREQ(s_jget("EGIDE_PEER"), "71.crip?EGIDE_NODE=forged");
    CHECK_STREQ(s_jget("MESSAGE"), "x?y");
    CHECK(s_jget("EGIDE_MSG_ID") == NULL); /* empty: left out */
    CHECK(s_nfields == 4);

    /* warn's strerror is in MESSAGE too. */
    errno = EACCES;
    egide_log_warn("open %s", "/k");
    CHECK(strstr(s_jget("MESSAGE"), "open /k: Permission denied") != NULL);
    CHECK_STREQ(s_jget("PRIORITY"), "4");

    /* The journal refusing a line: the text goes to stderr instead. */
    s_jresult = -ENOENT;
    const char *out = s_capture_stderr(s_kv_line);
    CHECK(strstr(out, "egide-broker[") != NULL);
    CHECK(strstr(out, "] notice: rejected a001 from 71.crip (REASON_FORBIDDEN_TYPE): no\n") !=
          NULL);
    s_jresult = 0;
    /* Syslog, like a test sink, goes first: the journal is not used. */
    s_jcalls = 0;
    egide_log_set_sink(s_sink, NULL);
    egide_log(EGIDE_LOG_NOTICE, "to the sink");
    CHECK(s_jcalls == 0);
    CHECK_STREQ(s_last, "to the sink");
    egide_log_set_sink(NULL, NULL);
    egide_log_set_journal(NULL, NULL);
}

/* Without the journal: egide_log_kv writes exactly the line egide_log
 * writes, and no field appears in it. */
static void test_text_unchanged(void)
{
    egide_log_init("egide-broker", false, EGIDE_LOG_NOTICE);
    egide_log_set_sink(NULL, NULL);
    egide_log_set_node("71.broker");
    static char plain[4096];
    snprintf(plain, sizeof plain, "%s", s_capture_stderr(s_plain_line));
    const char *kv = s_capture_stderr(s_kv_line);
    char want[256];
    snprintf(want, sizeof want,
             "egide-broker[%ld] notice: rejected a001 from 71.crip (REASON_FORBIDDEN_TYPE): no\n",
             (long)getpid());
    CHECK_STREQ(s_after_time(plain), want);
    CHECK_STREQ(s_after_time(kv), want);
    /* "2026-12-01T17:20:22.123Z " */
    CHECK(strlen(plain) > 25 && plain[4] == '-' && plain[10] == 'T' && plain[23] == 'Z' &&
          plain[24] == ' ');
    CHECK(strstr(kv, "EGIDE_") == NULL && strstr(kv, "PRIORITY") == NULL);
    egide_log_set_node(NULL);
}

static void test_journal_stream(void)
{
    struct stat st;
    REQUIRE(fstat(STDERR_FILENO, &st) == 0);
    char v[64];
    unsetenv("JOURNAL_STREAM");
    CHECK(!egide_log_journal_stream());
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
    CHECK(egide_log_journal_stream());
    /* stderr redirected elsewhere (a file): not the journal's stream any more. */
    const char *bad[] = {"", ":", "12", "12:", ":34", "x:y", "12:34:56", "12:34x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("JOURNAL_STREAM", bad[i], 1);
        CHECK(!egide_log_journal_stream());
    }
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", v, 1);
    CHECK(!egide_log_journal_stream());
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev + 1,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
    CHECK(!egide_log_journal_stream());
    unsetenv("JOURNAL_STREAM");
}

int main(void)
{
    RUN(test_levels);
    RUN(test_sanitize);
    RUN(test_warn);
    RUN(test_journal_fields);
    RUN(test_text_unchanged);
    RUN(test_journal_stream);
    EGIDE_TEST_DONE();
}
