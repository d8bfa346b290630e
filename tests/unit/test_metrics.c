/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_metrics.c - Prometheus text exposition: families, samples, label escaping. */
#include "egide/net/egide_metrics.h"
#include "egide_test.h"

static void test_metrics(void)
{
    egide_buf_t b;
    egide_buf_init(&b, 4096);
    egide_metrics_single(&b, "egide_x_total", "counter", "Things.", 7);
    egide_metrics_family(&b, "egide_y", "gauge", "By state.");
    egide_metrics_value(&b, "egide_y", "state", "open", 3);
    egide_metrics_value(&b, "egide_y", "state", "we\"ird\\\n", 1);
    egide_buf_append(&b, "", 1);
    CHECK_STREQ((const char *)b.data,
                "# HELP egide_x_total Things.\n# TYPE egide_x_total counter\negide_x_total 7\n"
                "# HELP egide_y By state.\n# TYPE egide_y gauge\negide_y{state=\"open\"} 3\n"
                "egide_y{state=\"we\\\"ird\\\\\\n\"} 1\n");
    egide_buf_free(&b);
    /* A full buffer refuses further text instead of overflowing. */
    egide_buf_init(&b, 10);
    egide_metrics_single(&b, "egide_long_name_total", "counter", "Too long.", 1);
    CHECK(b.len <= 10);
    egide_buf_free(&b);
}

int main(void)
{
    RUN(test_metrics);
    EGIDE_TEST_DONE();
}
