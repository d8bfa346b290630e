/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_log.c - logging: level filtering, level names, control characters never reach a log line,
 * warn adds strerror. */
#include <errno.h>

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

int main(void)
{
    RUN(test_levels);
    RUN(test_sanitize);
    RUN(test_warn);
    EGIDE_TEST_DONE();
}
