/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * egide_date.c - strict date and RFC 3339 parsing and UTC calendar arithmetic
 * (see egide_date.h).  The civil-date conversions are Howard Hinnant's
 * days_from_civil / civil_from_days algorithms, exact for every date of the
 * proleptic Gregorian calendar; nothing here depends on the process's time
 * zone or locale.
 */
#include "egide/base/egide_date.h"

#include <stdio.h>
#include <string.h>

int64_t egide_date_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void egide_date_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    const unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}

static unsigned s_days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

bool egide_date_valid(int64_t y, unsigned m, unsigned d)
{
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= s_days_in_month(y, m);
}

/* Read exactly n decimal digits at s; false on any non-digit. */
static bool s_digits(const char *s, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD" at the start of s (no terminator check). */
static bool s_parse_ymd(const char *s, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t yy, mm, dd;
    if (!s_digits(s, 4, &yy) || s[4] != '-' || !s_digits(s + 5, 2, &mm) || s[7] != '-' ||
        !s_digits(s + 8, 2, &dd))
        return false;
    if (!egide_date_valid(yy, (unsigned)mm, (unsigned)dd))
        return false;
    *y = yy;
    *m = (unsigned)mm;
    *d = (unsigned)dd;
    return true;
}

egide_rc egide_date_parse(const char *s, int64_t *ms)
{
    int64_t y;
    unsigned m, d;
    if (!s || !ms || strlen(s) != 10 || !s_parse_ymd(s, &y, &m, &d))
        return EGIDE_ERR_INVALID;
    *ms = egide_date_days_from_civil(y, m, d) * EGIDE_MS_PER_DAY;
    return EGIDE_OK;
}

egide_rc egide_date_parse_month(const char *s, int *year, int *month)
{
    int64_t y, m;
    if (!s || !year || !month || strlen(s) != 7 || !s_digits(s, 4, &y) || s[4] != '-' ||
        !s_digits(s + 5, 2, &m) || y < 1900 || y > 2199 || m < 1 || m > 12)
        return EGIDE_ERR_INVALID;
    *year = (int)y;
    *month = (int)m;
    return EGIDE_OK;
}

egide_rc egide_datetime_parse(const char *s, int64_t *ms)
{
    int64_t y, hh, mi, ss, oh = 0, om = 0;
    unsigned m, d;
    if (!s || !ms || strlen(s) < 20 || !s_parse_ymd(s, &y, &m, &d))
        return EGIDE_ERR_INVALID;
    if ((s[10] != 'T' && s[10] != 't') || !s_digits(s + 11, 2, &hh) || s[13] != ':' ||
        !s_digits(s + 14, 2, &mi) || s[16] != ':' || !s_digits(s + 17, 2, &ss))
        return EGIDE_ERR_INVALID;
    if (hh > 23 || mi > 59 || ss > 59)
        return EGIDE_ERR_INVALID;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n < 1 || n > 9)
            return EGIDE_ERR_INVALID;
        for (int i = 0; i < 3; i++)
            frac_ms = frac_ms * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    int sign = 0;
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && s_digits(p + 1, 2, &oh) &&
               p[3] == ':' && s_digits(p + 4, 2, &om) && oh <= 23 && om <= 59) {
        sign = p[0] == '+' ? 1 : -1;
    } else {
        return EGIDE_ERR_INVALID;
    }
    int64_t t = egide_date_days_from_civil(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss;
    t -= sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac_ms;
    return EGIDE_OK;
}

/* Floor division of ms into days, correct for instants before 1970. */
static int64_t s_floor_days(int64_t ms)
{
    int64_t q = ms / EGIDE_MS_PER_DAY;
    if (ms % EGIDE_MS_PER_DAY < 0)
        q--;
    return q;
}

egide_rc egide_date_format(int64_t ms, char *out, size_t outsz)
{
    int64_t y;
    unsigned m, d;
    egide_date_civil_from_days(s_floor_days(ms), &y, &m, &d);
    int n = snprintf(out, outsz, "%04lld-%02u-%02u", (long long)y, m, d);
    return (n < 0 || (size_t)n >= outsz) ? EGIDE_ERR_LIMIT : EGIDE_OK;
}

egide_rc egide_datetime_format(int64_t ms, char *out, size_t outsz)
{
    int64_t y;
    unsigned m, d;
    const int64_t days = s_floor_days(ms);
    const int64_t sec = (ms - days * EGIDE_MS_PER_DAY) / 1000;
    egide_date_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, outsz, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)y, m, d,
                     (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60));
    return (n < 0 || (size_t)n >= outsz) ? EGIDE_ERR_LIMIT : EGIDE_OK;
}

egide_rc egide_datetime_format_ms(int64_t ms, char *out, size_t outsz)
{
    /* 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z */
    const int64_t lo = -62167219200000LL, hi = 253402300799999LL;
    if (!out || outsz == 0)
        return EGIDE_ERR_LIMIT;
    out[0] = '\0';
    if (ms < lo || ms > hi)
        return EGIDE_ERR_INVALID;
    int64_t y;
    unsigned m, d;
    const int64_t days = s_floor_days(ms);
    const int64_t tod = ms - days * EGIDE_MS_PER_DAY;
    const int64_t sec = tod / 1000;
    egide_date_civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, outsz, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m,
                     d, (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60),
                     (long long)(tod % 1000));
    if (n < 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return EGIDE_ERR_LIMIT;
    }
    return EGIDE_OK;
}

int64_t egide_date_add_months(int64_t ms, int64_t n)
{
    const int64_t days = s_floor_days(ms);
    const int64_t tod = ms - days * EGIDE_MS_PER_DAY;
    int64_t y;
    unsigned m, d;
    egide_date_civil_from_days(days, &y, &m, &d);
    int64_t idx = y * 12 + (m - 1) + n;
    int64_t ny = idx >= 0 ? idx / 12 : -((-idx + 11) / 12);
    unsigned nm = (unsigned)(idx - ny * 12) + 1;
    unsigned dim = s_days_in_month(ny, nm);
    if (d > dim)
        d = dim;
    return egide_date_days_from_civil(ny, nm, d) * EGIDE_MS_PER_DAY + tod;
}

void egide_date_year_month(int64_t ms, int *year, int *month)
{
    int64_t y;
    unsigned m, d;
    egide_date_civil_from_days(s_floor_days(ms), &y, &m, &d);
    *year = (int)y;
    *month = (int)m;
}
