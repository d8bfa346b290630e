/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * test_cli_progress.c - the progress line of the long `egide` commands
 * (cli_progress.c): its text, at most one redraw per CLI_PROGRESS_EVERY_MS
 * on a fake clock, erased at the end and before an error line, padded over
 * a longer line, and off when stderr is not a terminal.  The commands under
 * a real pseudo-terminal are in test_auditcli (audit export and verify) and
 * tests/integration/test_cli_progress.sh (backup, directory build).
 */
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "egide_test.h"

static int64_t s_clock;
static int64_t s_fake_now(void)
{
    return s_clock;
}

/* Everything written to f so far (static buffer). */
static const char *s_text(FILE *f)
{
    static char buf[8192];
    fflush(f);
    long end = ftell(f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fseek(f, end, SEEK_SET);
    return buf;
}

static void test_line(void)
{
    FILE *f = tmpfile();
    REQUIRE(f);
    cli_progress_t p;
    cli_progress_start_on(&p, f, "audit verify", "entries");
    p.now_ms = s_fake_now;
    s_clock = 1000;
    cli_progress_update(&p, 0, 3000);
    CHECK_STREQ(s_text(f), "\regide audit verify: 0 of 3000 entries (0%)");
    /* Same instant, and 249 ms later: not redrawn. */
    for (int i = 1; i <= 100; i++)
        cli_progress_update(&p, (uint64_t)i, 3000);
    s_clock += CLI_PROGRESS_EVERY_MS - 1;
    cli_progress_update(&p, 200, 3000);
    CHECK(p.draws == 1);
    s_clock += 1;
    cli_progress_update(&p, 750, 3000);
    CHECK(p.draws == 2);
    CHECK(strstr(s_text(f), "\regide audit verify: 750 of 3000 entries (25%)") != NULL);
    s_clock += CLI_PROGRESS_EVERY_MS;
    cli_progress_update(&p, 3000, 3000);
    CHECK(strstr(s_text(f), "3000 of 3000 entries (100%)") != NULL);
    size_t w = p.width;
    CHECK(w == strlen("egide audit verify: 3000 of 3000 entries (100%)"));
    /* A clock that went back does not stop the line. */
    s_clock -= 10000;
    cli_progress_update(&p, 3000, 3000);
    CHECK(p.draws == 4);
    /* End: blanks over the line, the cursor back at its start. */
    long before = ftell(f);
    cli_progress_end(&p);
    const char *all = s_text(f);
    char want[128];
    snprintf(want, sizeof want, "\r%*s\r", (int)w, "");
    CHECK_STREQ(all + before, want);
    CHECK(p.width == 0);
    before = ftell(f);
    cli_progress_end(&p); /* idempotent: nothing more */
    CHECK(ftell(f) == before);
    fclose(f);
}

static void test_shorter_and_unknown_total(void)
{
    FILE *f = tmpfile();
    REQUIRE(f);
    cli_progress_t p;
    cli_progress_start_on(&p, f, "backup", "pages");
    p.now_ms = s_fake_now;
    s_clock = 0;
    cli_progress_update(&p, 123456, 0); /* total unknown: the count alone */
    CHECK_STREQ(s_text(f), "\regide backup: 123456 pages");
    s_clock += CLI_PROGRESS_EVERY_MS;
    long before = ftell(f);
    cli_progress_update(&p, 1, 2);
    CHECK_STREQ(s_text(f) + before, "\regide backup: 1 of 2 pages (50%)");
    s_clock += CLI_PROGRESS_EVERY_MS;
    before = ftell(f);
    cli_progress_update(&p, 7, 0); /* shorter than the line on screen: padded */
    char want[80];
    snprintf(want, sizeof want, "\r%-*s", (int)strlen("egide backup: 1 of 2 pages (50%)"),
             "egide backup: 7 pages");
    CHECK_STREQ(s_text(f) + before, want);
    cli_progress_end(&p);
    fclose(f);
}

static void test_error_erases(void)
{
    FILE *f = tmpfile();
    REQUIRE(f);
    cli_progress_t p;
    cli_progress_start_on(&p, f, "audit export", "entries");
    cli_progress_update(&p, 5, 10);
    size_t w = p.width;
    CHECK(w > 0);
    /* cli_fail erases the line (on f) before its message (on stderr, here a file). */
    FILE *e = tmpfile();
    REQUIRE(e);
    int saved = dup(STDERR_FILENO);
    REQUIRE(saved >= 0 && dup2(fileno(e), STDERR_FILENO) >= 0);
    long before = ftell(f);
    CHECK(cli_fail("audit export", "the broker returned no entries at %d", 5) == 1);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char want[128];
    snprintf(want, sizeof want, "\r%*s\r", (int)w, "");
    CHECK_STREQ(s_text(f) + before, want);
    CHECK_STREQ(s_text(e), "egide: audit export: the broker returned no entries at 5\n");
    CHECK(p.width == 0);
    cli_progress_end(&p);
    fclose(e);
    fclose(f);
}

/* stderr a file or a pipe: off, every call a no-op. */
static void test_off_without_terminal(void)
{
    FILE *e = tmpfile();
    REQUIRE(e);
    int saved = dup(STDERR_FILENO);
    REQUIRE(saved >= 0 && dup2(fileno(e), STDERR_FILENO) >= 0);
    cli_progress_t p;
    cli_progress_start(&p, "backup", "pages");
    CHECK(p.out == NULL);
    cli_progress_update(&p, 1, 2);
    cli_progress_cb(&p, 2, 2);
    cli_progress_end(&p);
    fflush(stderr);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    dup2(fds[1], STDERR_FILENO);
    cli_progress_start(&p, "backup", "pages");
    CHECK(p.out == NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[0]);
    close(fds[1]);
    CHECK(p.draws == 0);
    CHECK_STREQ(s_text(e), "");
    cli_progress_update(NULL, 1, 1); /* NULL-safe */
    cli_progress_end(NULL);
    fclose(e);
}

int main(void)
{
    RUN(test_line);
    RUN(test_shorter_and_unknown_total);
    RUN(test_error_erases);
    RUN(test_off_without_terminal);
    EGIDE_TEST_DONE();
}
