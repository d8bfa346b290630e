/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_metrics.h - Prometheus text exposition (version 0.0.4) written into
 * a bounded buffer, for the daemons' /metrics.  Label values are escaped.
 */
#ifndef EGIDE_METRICS_H
#define EGIDE_METRICS_H

#include <stdint.h>
#include "egide/base/egide_util.h"

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void egide_metrics_family(egide_buf_t *b, const char *name, const char *type, const char *help);
/* "name{label="value"} v", or "name v" when label is NULL. */
void egide_metrics_value(egide_buf_t *b, const char *name, const char *label, const char *value,
                         uint64_t v);
/* The same with a value in milliseconds written in seconds, the base unit
 * ("1.250", "-86400.000"). */
void egide_metrics_value_ms(egide_buf_t *b, const char *name, const char *label, const char *value,
                            int64_t ms);
void egide_metrics_single_ms(egide_buf_t *b, const char *name, const char *type, const char *help,
                             int64_t ms);
/* A family with a single unlabelled sample. */
void egide_metrics_single(egide_buf_t *b, const char *name, const char *type, const char *help,
                          uint64_t v);

#endif
