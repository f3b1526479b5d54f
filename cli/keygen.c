/*
 * keygen.c - `floret keygen [--out PREFIX]`: write an Ed25519 key pair for
 * signing control messages: PREFIX.key (secret, mode 0600) for `floret
 * deploy --key`, PREFIX.pub for `floret node --trust`. Never overwrites.
 * Depends on cli.h, opts.h and the public header (fl_key_generate).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "floret/floret.h"
#include "opts.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret keygen [--out PREFIX]\n\n"
            "Write a new Ed25519 key pair: PREFIX.key (secret, mode 0600: sign with\n"
            "'floret deploy --key PREFIX.key') and PREFIX.pub (give it to nodes with\n"
            "'floret node --trust PREFIX.pub'). Existing files are never overwritten.\n\n"
            "Options:\n"
            "  --out PREFIX   where to write (default: floret)\n"
            "  -h, --help     show this help\n");
}

int cli_keygen(int argc, char **argv)
{
    const char *prefix = "floret";
    char err[600];
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if ((m = cli_opt(argc, argv, &i, "--out", &v, "keygen")) != 0) {
            if (m < 0)
                return 2;
            if (!*v)
                return cli_usage_error("keygen", "--out: empty prefix");
            prefix = v;
        } else {
            return cli_unknown_arg_help("keygen", argv[i], usage);
        }
    }
    fl_status st = fl_key_generate(prefix, err, sizeof err);
    if (st != FL_OK) {
        fprintf(stderr, "floret keygen: %s%s\n", err,
                st == FL_EEXIST ? " (choose another --out, or remove it)" : "");
        return 1;
    }
    printf("wrote %s.key (secret: keep it) and %s.pub (give it to nodes: --trust %s.pub)\n",
           prefix, prefix, prefix);
    return 0;
}
