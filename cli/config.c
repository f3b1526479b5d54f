/*
 * config.c - configuration files of the key = value kind for subcommands
 * (see config.h): read, checked entry by entry with the subcommand's own
 * option parser so that an error names FILE:LINE, and turned into options
 * in front of the command line's.
 * Depends on config.h, opts.h and the C library.
 */
#include "config.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_ENTRIES 512

struct entry {
    const struct cli_config_key *k;
    char *value;
    unsigned line;
};

/* "--flag VALUE" or "--flag=VALUE" at argv[i], or the short alias. */
static int names_flag(const char *arg, const struct cli_config_key *k)
{
    size_t n = strlen(k->flag);
    if (strncmp(arg, k->flag, n) == 0 && (arg[n] == '\0' || arg[n] == '='))
        return 1;
    return k->alias && strcmp(arg, k->alias) == 0;
}

static char *trim(char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static const struct cli_config_key *find_key(const char *key, const struct cli_config_key *keys,
                                             size_t nkeys, const char **near)
{
    size_t best = 3;
    *near = NULL;
    for (size_t i = 0; i < nkeys; i++) {
        size_t d;
        if (strcmp(key, keys[i].key) == 0)
            return &keys[i];
        d = cli_edit_distance(keys[i].key, key, strlen(key));
        if (d < best) {
            best = d;
            *near = keys[i].key;
        }
    }
    return NULL;
}

static int bool_value(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
            *out = strcmp(v, yes[i]) == 0;
            return 1;
        }
    }
    return 0;
}

static int read_file(const char *cmd, const char *path, char **text)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    *text = NULL;
    if (!f)
        return cli_usage_error(cmd, "--config %s: cannot read it: %s", path, strerror(errno));
    *text = malloc(CONFIG_MAX_BYTES + 1);
    if (!*text) {
        fclose(f);
        return cli_usage_error(cmd, "--config %s: out of memory", path);
    }
    n = fread(*text, 1, CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        fclose(f);
        return cli_usage_error(cmd, "--config %s: cannot read it: %s", path, strerror(errno));
    }
    fclose(f);
    if (n > CONFIG_MAX_BYTES)
        return cli_usage_error(cmd, "--config %s: over %d bytes; is it a configuration file?",
                               path, CONFIG_MAX_BYTES);
    if (memchr(*text, '\0', n))
        return cli_usage_error(cmd, "--config %s: has a NUL byte; is it a configuration file?",
                               path);
    (*text)[n] = '\0';
    return -1;
}

/* One line: an entry in *e, or nothing (blank, comment). Returns -1 to go
 * on, else an exit status (the error printed with FILE:LINE). */
static int parse_line(const char *cmd, char *line, unsigned no, const char *path,
                      const struct cli_config_key *keys, size_t nkeys,
                      struct entry *e, int *got)
{
    char *eq, *key, *value;
    const char *near;
    *got = 0;
    line = trim(line);
    if (*line == '\0' || *line == '#')
        return -1;
    eq = strchr(line, '=');
    if (!eq)
        return cli_usage_error(cmd, "%s:%u: expected KEY = VALUE, got '%.80s'", path, no, line);
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    for (char *p = key; *p; p++)
        if (*p == '_')
            *p = '-';
    if (*key == '\0')
        return cli_usage_error(cmd, "%s:%u: a value without a key", path, no);
    e->k = find_key(key, keys, nkeys, &near);
    if (!e->k) {
        if (near)
            return cli_usage_error(cmd, "%s:%u: unknown key '%.64s'; did you mean '%s'?",
                                   path, no, key, near);
        return cli_usage_error(cmd, "%s:%u: unknown key '%.64s' (the --config line of "
                               "'floret %s --help' says which keys a file takes)",
                               path, no, key, cmd);
    }
    if (*value == '\0')
        return cli_usage_error(cmd, "%s:%u: %s has no value", path, no, key);
    e->value = value;
    e->line = no;
    *got = 1;
    return -1;
}

static int overridden(const struct cli_config_key *k, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (names_flag(argv[i], k))
            return 1;
    if (k->env && getenv(k->env) && *getenv(k->env))
        return 1;
    return k->env2 && getenv(k->env2) && *getenv(k->env2);
}

static int find_config(const char *cmd, int argc, char **argv, const char **path, int *at,
                       int *width)
{
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int j = i;
        int m = cli_opt(argc, argv, &j, "--config", &v, cmd);
        if (m < 0)
            return 2;
        if (m == 0)
            continue;
        if (*path)
            return cli_usage_error(cmd, "--config given twice");
        *path = v;
        *at = i;
        *width = j - i + 1;
        i = j;
    }
    return -1;
}

int cli_config_args(const char *cmd, int argc, char **argv,
                    const struct cli_config_key *keys, size_t nkeys,
                    int (*check)(int argc, char **argv, void *ud), void *ud,
                    struct cli_config_argv *out)
{
    const char *path;
    int at = 0, width = 0, rc;
    struct entry *es = NULL;
    size_t n = 0;
    unsigned no = 0;

    memset(out, 0, sizeof *out);
    if ((rc = find_config(cmd, argc, argv, &path, &at, &width)) >= 0 || !path)
        return rc;
    if ((rc = read_file(cmd, path, &out->text)) >= 0) {
        cli_config_argv_free(out);
        return rc;
    }
    es = calloc(CONFIG_MAX_ENTRIES, sizeof *es);
    if (!es)
        return cli_usage_error(cmd, "--config %s: out of memory", path);
    for (char *line = out->text, *next; line; line = next) {
        int got;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        no++;
        rc = parse_line(cmd, line, no, path, keys, nkeys, &es[n], &got);
        if (rc >= 0)
            goto done;
        if (!got)
            continue;
        for (size_t i = 0; i < n && es[n].k->kind != CLI_KEY_REPEAT; i++)
            if (es[i].k == es[n].k) {
                rc = cli_usage_error(cmd, "%s:%u: %s is set twice (first on line %u)", path,
                                     no, es[n].k->key, es[i].line);
                goto done;
            }
        if (++n == CONFIG_MAX_ENTRIES) {
            rc = cli_usage_error(cmd, "%s:%u: over %d settings", path, no, CONFIG_MAX_ENTRIES);
            goto done;
        }
    }
    /* Room: argv[0], two per entry, the command line, a NULL. */
    out->argv = calloc((size_t)argc + 2 * n + 2, sizeof *out->argv);
    if (!out->argv) {
        rc = cli_usage_error(cmd, "--config %s: out of memory", path);
        goto done;
    }
    out->argv[out->argc++] = argv[0];
    for (size_t i = 0; i < n; i++) {
        const struct cli_config_key *k = es[i].k;
        char *one[3] = {argv[0], (char *)k->flag, es[i].value};
        int on = 1;
        if (k->kind == CLI_KEY_BOOL && !bool_value(es[i].value, &on)) {
            rc = cli_usage_error(cmd, "%s:%u: %s = '%.64s': expected true or false", path,
                                 es[i].line, k->key, es[i].value);
            goto done;
        }
        snprintf(out->where, sizeof out->where, "%s:%u", path, es[i].line);
        cli_error_where = out->where;
        rc = (k->kind == CLI_KEY_BOOL && !on) ? -1
             : check(k->kind == CLI_KEY_BOOL ? 2 : 3, one, ud);
        cli_error_where = NULL;
        if (rc >= 0)
            goto done;
        if (!on || overridden(k, argc, argv))
            continue;
        out->argv[out->argc++] = (char *)k->flag;
        if (k->kind != CLI_KEY_BOOL)
            out->argv[out->argc++] = es[i].value;
    }
    for (int i = 1; i < argc; i++)
        if (i < at || i >= at + width)
            out->argv[out->argc++] = argv[i];
    out->argv[out->argc] = NULL;
    rc = -1;
done:
    free(es);
    if (rc >= 0)
        cli_config_argv_free(out);
    return rc;
}

void cli_config_argv_free(struct cli_config_argv *a)
{
    free(a->argv);
    free(a->text);
    memset(a, 0, sizeof *a);
}
