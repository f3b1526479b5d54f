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

bool cli_compress_ok(const char *s)
{
    if (strcmp(s, "none") == 0)
        return true;
    do {
        size_t n = strcspn(s, ",");
        if (!(n == 4 && strncmp(s, "zstd", 4) == 0) &&
            !(n == 3 && strncmp(s, "lz4", 3) == 0))
            return false;
        s += n;
    } while (*s++ == ',');
    return true;
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

size_t cli_edit_distance(const char *a, const char *b, size_t bn)
{
    size_t an = strlen(a), row[64], prev, tmp;
    if (an >= 64 || bn >= 64)
        return 64;
    for (size_t j = 0; j <= bn; j++)
        row[j] = j;
    for (size_t i = 1; i <= an; i++) {
        prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            tmp = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = tmp;
        }
    }
    return row[bn];
}

int cli_unknown_arg(const char *cmd, const char *arg, const char *const *known)
{
    const char *best = NULL;
    size_t best_d = 3, n;

    if (arg[0] != '-' || arg[1] == '\0')
        return cli_usage_error(cmd, "unexpected argument '%s'", arg);
    n = strcspn(arg, "=");
    for (size_t k = 0; known && known[k] && arg[1] == '-'; k++) {
        size_t d = cli_edit_distance(known[k], arg, n);
        if (d < best_d) {
            best_d = d;
            best = known[k];
        }
    }
    if (best)
        return cli_usage_error(cmd, "unknown option '%s'; did you mean %s?", arg, best);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}

#define HELP_MAX_BYTES 16384
#define HELP_MAX_OPTS 96

/* The option names of one help line: "  --x ...", "  -x, --y ..." */
static size_t help_line_opts(char *line, const char **names, size_t n, size_t max)
{
    char *p = line;
    if (strncmp(p, "  -", 3) != 0)
        return n;
    p += 2;
    while (*p == '-' && n < max) {
        char *end = p + strcspn(p, " ,=\n");
        bool more = *end == ',';
        if (p[1] == '-')
            names[n++] = p;
        if (*end)
            *end++ = '\0';
        if (!more)
            break;
        p = end + strspn(end, " ");
    }
    return n;
}

int cli_unknown_arg_help(const char *cmd, const char *arg, void (*usage)(FILE *f))
{
    static char text[HELP_MAX_BYTES];
    const char *names[HELP_MAX_OPTS + 1];
    size_t n = 0, len;
    FILE *f = fmemopen(text, sizeof text - 1, "w");

    if (!f)
        return cli_unknown_arg(cmd, arg, NULL);
    usage(f);
    len = (size_t)ftell(f);
    fclose(f);
    text[len < sizeof text ? len : sizeof text - 1] = '\0';
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        n = help_line_opts(line, names, n, HELP_MAX_OPTS);
    }
    names[n] = NULL;
    return cli_unknown_arg(cmd, arg, names);
}
