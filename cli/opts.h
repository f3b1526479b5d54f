/*
 * opts.h - option parsing shared by the node, call and status subcommands:
 * --name VALUE and --name=VALUE, numbers with range checks, and the
 * one-line usage error every subcommand ends a bad command line with.
 * Depends on the C library only.
 */
#ifndef FLORET_CLI_OPTS_H
#define FLORET_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * If argv[*i] is the option name ("--broker"), take its value from
 * "--broker=V" or from the next argument (advancing *i). Returns 1 when it
 * matched (*val set), 0 when argv[*i] is another option, -1 when the value
 * is missing (a usage error was printed for subcommand cmd).
 */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val,
            const char *cmd);

/* A --compress value: "none", or a comma-separated list of the codecs
 * zstd and lz4 (docs/protocol.md section 3). */
bool cli_compress_ok(const char *s);

/* A whole number in [min, max]. */
bool cli_parse_long(const char *s, long min, long max, long *out);

/* A non-negative number of seconds (fractions allowed), at most max. */
bool cli_parse_seconds(const char *s, double max, double *out);

/* A --timeout-like option's value opt=s: above 0, at most max seconds.
 * 0 when *out is set, else 2 after a usage error that says what was wrong
 * (not a number, not above 0, over the maximum, which it names). */
int cli_parse_timeout(const char *cmd, const char *opt, const char *s, double max,
                      double *out);

/* The usage error for an argument no option of cmd took: "unknown option
 * 'ARG'" (with "did you mean --X?" for a long option within two edits of
 * one in known, a NULL-terminated list, which may be NULL) or, for a word
 * that is not an option, "unexpected argument 'ARG'". Returns 2. */
int cli_unknown_arg(const char *cmd, const char *arg, const char *const *known);

/* cli_unknown_arg with the long options the help text usage(f) lists as
 * the known ones ("  -v, --verbose  ..."), so that the suggestions cannot
 * drift from the help. Returns 2. */
int cli_unknown_arg_help(const char *cmd, const char *arg, void (*usage)(FILE *f));

/* Edit distance of a and the first bn bytes of b, for "did you mean"
 * suggestions; capped at 64 (names of 64 bytes or more are never near). */
size_t cli_edit_distance(const char *a, const char *b, size_t bn);

/* Where the arguments being parsed came from, for error messages: a
 * configuration file's "FILE:LINE" while its entries are checked (config.c),
 * else NULL (the command line). */
extern const char *cli_error_where;

/* Print "floret CMD: MESSAGE" (or "floret CMD: FILE:LINE: MESSAGE" while
 * cli_error_where is set) and a hint to run --help on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
