/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_date.h - strict calendar dates and RFC 3339 date-times for payloads
 * and legal deadlines.
 *
 * Payloads keep dates as text ("YYYY-MM-DD", "YYYY-MM", RFC 3339 date-times
 * with an explicit offset); this module checks them strictly (real calendar
 * dates, years 1900-2199) and turns them into milliseconds since the Unix epoch.
 * Calendar arithmetic (add N months, the 30 April of next year) is done on the
 * proleptic Gregorian calendar in UTC: a date "YYYY-MM-DD" means 00:00 UTC of
 * that day.  No function here reads the clock or the time zone database.
 */
#ifndef EGIDE_DATE_H
#define EGIDE_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "egide/base/egide_rc.h"

#define EGIDE_MS_PER_DAY (86400LL * 1000LL)

/* Days since 1970-01-01 of the civil date y-m-d (no range check). */
int64_t egide_date_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The civil date of a day count since 1970-01-01. */
void egide_date_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* true when y-m-d is a real date with 1900 <= y <= 2199. */
bool egide_date_valid(int64_t y, unsigned m, unsigned d);

/* Parse exactly "YYYY-MM-DD" (a real date); *ms = 00:00 UTC of that day.
 * EGIDE_ERR_INVALID otherwise (also for NULL). */
egide_rc egide_date_parse(const char *s, int64_t *ms);
/* Parse exactly "YYYY-MM" (month 01-12); *year and *month set. */
egide_rc egide_date_parse_month(const char *s, int *year, int *month);
/* Parse an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"
 * ('t' and 'z' accepted, leap second 60 refused, fraction up to 9 digits,
 * truncated to ms).  *ms is the UTC instant.  EGIDE_ERR_INVALID otherwise. */
egide_rc egide_datetime_parse(const char *s, int64_t *ms);

/* Format ms as "YYYY-MM-DD" (UTC) into out (>= 11 bytes). */
egide_rc egide_date_format(int64_t ms, char *out, size_t outsz);
/* Format ms as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out (>= 21 bytes). */
egide_rc egide_datetime_format(int64_t ms, char *out, size_t outsz);
/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 3339, UTC, milliseconds)
 * into out (>= 25 bytes).  EGIDE_ERR_LIMIT if out is too small,
 * EGIDE_ERR_INVALID for an instant before year 0 or after year 9999. */
egide_rc egide_datetime_format_ms(int64_t ms, char *out, size_t outsz);

/* ms plus n calendar months, same time of day; the day is clamped to the
 * end of a shorter month (31 Jan + 1 month = 28/29 Feb).  n may be negative. */
int64_t egide_date_add_months(int64_t ms, int64_t n);

/* The UTC calendar year and month (1-12) of ms. */
void egide_date_year_month(int64_t ms, int *year, int *month);

#endif
