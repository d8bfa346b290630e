/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_test.h - the minimal test harness every unit test uses.
 *
 * CHECK() records a failure with file:line and goes on; REQUIRE() returns from
 * the current test function.  Each test program ends with
 * EGIDE_TEST_DONE(), printing "N passed, N failed" and exiting non-zero on any
 * failure.  Tests find shared data through EGIDE_SHARED_DIR / EGIDE_SOURCE_DIR
 * (set by CMake).
 */
#ifndef EGIDE_TEST_H
#define EGIDE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int egide_test_pass_ = 0, egide_test_fail_ = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            egide_test_pass_++;                                                                    \
        } else {                                                                                   \
            egide_test_fail_++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_RC(expr, want)                                                                       \
    do {                                                                                           \
        int got_ = (int)(expr);                                                                    \
        if (got_ == (int)(want)) {                                                                 \
            egide_test_pass_++;                                                                    \
        } else {                                                                                   \
            egide_test_fail_++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %d (%s), wanted %d (%s)\n", __FILE__, __LINE__,    \
                    #expr, got_, egide_rc_name((egide_rc)got_), (int)(want),                       \
                    egide_rc_name((egide_rc)(want)));                                              \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (cond) {                                                                                \
            egide_test_pass_++;                                                                    \
        } else {                                                                                   \
            egide_test_fail_++;                                                                    \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ && b_ && strcmp(a_, b_) == 0) {                                                     \
            egide_test_pass_++;                                                                    \
        } else {                                                                                   \
            egide_test_fail_++;                                                                    \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)",   \
                    b_ ? b_ : "(null)");                                                           \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int before_ = egide_test_fail_;                                                            \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", egide_test_fail_ == before_ ? "ok  " : "FAIL", #fn);            \
    } while (0)

#define EGIDE_TEST_DONE()                                                                          \
    do {                                                                                           \
        printf("%d passed, %d failed\n", egide_test_pass_, egide_test_fail_);                      \
        return egide_test_fail_ ? 1 : 0;                                                           \
    } while (0)

#endif
