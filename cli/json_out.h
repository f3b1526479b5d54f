/*
 * json_out.h - the JSON output the subcommands print by hand (status
 * --json, wordcount --json): one escaped string at a time on stdout.
 * Depends on the C library only.
 */
#ifndef FLORET_CLI_JSON_OUT_H
#define FLORET_CLI_JSON_OUT_H

/* s as a JSON string on stdout: quotes, backslash and control bytes
 * escaped, other bytes as they are. */
void cli_json_string(const char *s);

#endif
