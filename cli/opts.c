/*
 * opts.c - option parsing shared by the node, call and status subcommands
 * (see opts.h). Hand-written rather than getopt_long so that negative
 * numbers can be task arguments and options may follow them.
 * Depends on opts.h and the C library.
 */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_error_where;

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "floret %s: ", cmd);
    if (cli_error_where)
        fprintf(stderr, "%s: ", cli_error_where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'floret %s --help'.\n", cmd);
    return 2;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val,
            const char *cmd)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "option %s needs a value", name);
        return -1;
    }
    *i += 1;
    *val = argv[*i];
    return 1;
}

bool cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    if (!s || !*s)
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_seconds(const char *s, double max, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

int cli_parse_timeout(const char *cmd, const char *opt, const char *s, double max,
                      double *out)
{
    char *end;
    double v;

    errno = 0;
    v = s ? strtod(s, &end) : 0;
    if (!s || !*s || end == s || *end != '\0' || isnan(v))
        return cli_usage_error(cmd, "%s '%s': not a number of seconds", opt, s ? s : "");
    if (v <= 0)
        return cli_usage_error(cmd, "%s '%s': must be above 0 seconds", opt, s);
    /* Waits are kept in 32-bit milliseconds: say the limit, do not wrap. */
    if (!isfinite(v) || errno == ERANGE || v > max)
        return cli_usage_error(cmd, "%s '%s': at most %.0f seconds (%.0f days)", opt, s, max,
                               max / 86400);
    *out = v;
    return 0;
}
