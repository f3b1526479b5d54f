/*
 * wordcount.c - `floret wordcount [OPTIONS] [FILE...|-]`: the distributed
 * word count (docs/wordcount.md). Parses the command line, finds a cluster
 * (--broker or $FLORET_BROKER; with neither it starts the embedded local
 * cluster and stops it at the end), runs the count (wordcount_run.c) and
 * prints the result (wordcount_report.c).
 * Exit status: 0 success, 1 the count failed (an input could not be read,
 * a chunk failed), 2 usage error, 3 cluster unreachable or not started.
 * Depends on cli.h, client.h, data_dirs.h, opts.h, local_cluster.h and
 * wordcount_cli.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cli.h"
#include "data_dirs.h"
#include "client.h"
#include "local_cluster.h"
#include "malloc_tune.h"
#include "opts.h"
#include "wordcount_cli.h"

#define CMD "wordcount"
/* The chunk size of standard input and the largest adaptive chunk whose
 * bytes travel (the library picks file chunk sizes as the input runs
 * out): it fits in one 8 MiB message with room for the envelope, and its
 * partial count merges at a fraction of the cost of counting it. */
#define DEFAULT_CHUNK (4u * 1024u * 1024u)
#define MAX_CHUNK (64u * 1024u * 1024u)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret wordcount [OPTIONS] [FILE...|-]\n\n"
            "Count the words of the FILEs (standard input when none, or for '-') on the\n"
            "cluster: every chunk is a map task, the partial counts are merged here.\n"
            "A word is a run of ASCII letters, digits and bytes >= 0x80, lowercased\n"
            "(docs/wordcount.md). Without --broker and $FLORET_BROKER a private local\n"
            "cluster is started for the run (one node per core) and removed after.\n\n"
            "Options:\n"
            "  --top N           list the N most frequent words (default 10; 0: all)\n"
            "  --min-length L    count only words of at least L bytes (Broccoli: 4)\n"
            "  --chunk SIZE      bytes per map task, suffix k or M (default: from 16M\n"
            "                    down to 1M as the input runs out; 4M for stdin)\n"
            "  --no-locality     always send the chunks' bytes through the broker, even\n"
            "                    to nodes that could read the file themselves\n"
            "  --compress LIST   compress the chunks that travel with these codecs\n"
            "                    (zstd,lz4) for nodes that list one: for slow links\n"
            "                    (docs/scaling.md); the embedded cluster's nodes then\n"
            "                    compress their partial counts too. Default\n"
            "                    ($FLORET_COMPRESS unset): sent as they are\n"
            "  --no-compress     the same as --compress none\n"
            "  --json            print one JSON object\n"
            "  -q, --quiet       print only the counts (no timings, no progress)\n"
            "  --all             print every word as `sort | uniq -c` would, nothing else\n"
            "  --map MODULE.FN   map with a deployed Lua task instead of the native one;\n"
            "                    it gets the chunk as its attachment and returns\n"
            "                    {word: count} (examples/lua/tasks.lua: tasks.wc_map)\n"
            "  --nodes N         nodes of the embedded local cluster (default: one per core)\n"
            CLI_CONN_HELP
            "  --cluster NAME    default: default\n"
            "  -v, --verbose     show the client node's log and locality fallbacks\n"
            "  -h, --help        show this help\n\n"
            "Exit status: 0 success, 1 the count failed, 2 usage error, 3 no cluster.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A size with an optional k/K (KiB) or M/m (MiB) suffix. */
static bool parse_size(const char *s, size_t max, size_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    if (errno || *end != '\0' || v == 0 || v > max / mul)
        return false;
    *out = (size_t)(v * mul);
    return true;
}

static int parse_number_opt(int argc, char **argv, int *i, struct wc_opts *o, int *matched)
{
    const char *v = NULL;
    long num;
    int m;
    *matched = 1;
    if ((m = cli_opt(argc, argv, i, "--top", &v, CMD)) != 0) {
        if (m < 0 || !cli_parse_long(v, 0, 100000000L, &num))
            return m < 0 ? 2 : cli_usage_error(CMD, "--top '%s': expected a number from 0 to 100000000", v);
        o->top = (size_t)num;
    } else if ((m = cli_opt(argc, argv, i, "--min-length", &v, CMD)) != 0) {
        if (m < 0 || !cli_parse_long(v, 0, 1000000000L, &num))
            return m < 0 ? 2 : cli_usage_error(CMD, "--min-length '%s': expected a number of bytes from 0 to 1000000000", v);
        o->min_length = (size_t)num;
    } else if ((m = cli_opt(argc, argv, i, "--chunk", &v, CMD)) != 0) {
        if (m < 0 || !parse_size(v, MAX_CHUNK, &o->chunk))
            return m < 0 ? 2 : cli_usage_error(CMD, "--chunk '%s': expected a size from 1 byte to 64M, e.g. 512k or 4M", v);
        o->chunk_set = true;
    } else if ((m = cli_opt(argc, argv, i, "--nodes", &v, CMD)) != 0) {
        if (m < 0 || !cli_parse_long(v, 1, 256, &num))
            return m < 0 ? 2 : cli_usage_error(CMD, "--nodes '%s': expected a number from 1 to 256", v);
        o->nodes = (int)num;
    } else if ((m = cli_conn_opt(argc, argv, i, &o->conn, CMD)) != 0) {
        if (m < 0)
            return 2;
    } else if ((m = cli_opt(argc, argv, i, "--compress", &v, CMD)) != 0) {
        if (m < 0 || !cli_compress_ok(v))
            return m < 0 ? 2 : cli_usage_error(CMD, "--compress '%s': expected none or codecs "
                                                    "from zstd,lz4, comma-separated", v);
        o->compress = v;
    } else if ((m = cli_opt(argc, argv, i, "--cluster", &v, CMD)) != 0) {
        if (m < 0)
            return 2;
        o->cluster = v;
    } else if ((m = cli_opt(argc, argv, i, "--map", &v, CMD)) != 0) {
        if (m < 0)
            return 2;
        if (!strchr(v, '.') || v[0] == '.' || v[strlen(v) - 1] == '.')
            return cli_usage_error(CMD, "--map '%s': expected MODULE.FUNCTION of a deployed "
                                        "Lua module, e.g. tasks.wc_map", v);
        o->map = v;
    } else {
        *matched = 0;
    }
    return -1;
}

static bool flag(const char *s, const char *name, bool *out)
{
    if (strcmp(s, name) != 0)
        return false;
    *out = true;
    return true;
}

/* Returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, struct wc_opts *o)
{
    bool no_locality = false, only_files = false, no_compress = false;
    memset(o, 0, sizeof *o);
    o->top = 10;
    o->min_length = 1;
    o->chunk = DEFAULT_CHUNK;
    o->files = calloc((size_t)argc, sizeof *o->files);
    if (!o->files)
        return fprintf(stderr, "floret wordcount: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int matched, rc;
        if (only_files || s[0] != '-' || strcmp(s, "-") == 0) {
            o->files[o->nfiles++] = argv[i];
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_files = true;
        } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (flag(s, "--json", &o->json) || flag(s, "--quiet", &o->quiet) ||
                   flag(s, "-q", &o->quiet) ||
                   flag(s, "--all", &o->all) || flag(s, "--no-locality", &no_locality) ||
                   flag(s, "--no-compress", &no_compress) ||
                   flag(s, "-v", &o->verbose) || flag(s, "--verbose", &o->verbose)) {
        } else if ((rc = parse_number_opt(argc, argv, &i, o, &matched)) >= 0) {
            return rc;
        } else if (!matched) {
            return cli_usage_error(CMD, "unknown option '%s'", s);
        }
    }
    if (o->json + o->all + o->quiet > 1)
        return cli_usage_error(CMD, "--json, --quiet and --all exclude one another");
    o->locality = !no_locality && !o->map; /* a Lua mapper gets the bytes */
    if (no_compress)
        o->compress = "none";
    o->progress = !o->quiet && !o->all && isatty(STDERR_FILENO);
    return -1;
}

static bool broker_configured(const struct wc_opts *o)
{
    const char *env = getenv("FLORET_BROKER");
    return o->conn.broker || (env && *env);
}

static int count_on(struct cli_client *c, const struct wc_opts *o, const struct wc_where *w)
{
    fl_wordcount_options wo;
    fl_wordcount *wc = NULL;
    char err[600];
    fl_wordcount_options_init(&wo);
    wo.min_length = o->min_length;
    wo.chunk = o->chunk_set ? o->chunk : 0;
    wo.locality = o->locality;
    wo.map = o->map;
    wo.verbose = o->verbose;
    wo.progress = o->progress ? wc_progress : NULL;
    fl_status st = fl_wordcount_files(c->node, (const char *const *)o->files,
                                      (size_t)o->nfiles, &wo, &wc, err, sizeof err);
    if (o->progress)
        wc_progress_clear();
    if (st != FL_OK) {
        fprintf(stderr, "floret wordcount: %s\n", err);
        return 1;
    }
    int rc = wc_report(o, wc, w);
    fl_wordcount_free(wc);
    return rc;
}

int cli_wordcount(int argc, char **argv)
{
#if defined(__GLIBC__)
    /* One malloc arena for this client (its threads are the main one and
     * the node's event loop): a second arena is capped at 64 MiB, so the
     * window's chunk copies would make it map and unmap whole heaps, one
     * page fault per 4 KiB each time (docs/wordcount.md, Memory). */
    (void)mallopt(M_ARENA_MAX, 1);
#endif
    /* The window of chunks in flight, each held about three times (read,
     * encoded, queued in the MQTT library): about 64 MiB at the largest. */
    cli_prefer_huge_pages(64u << 20);
    struct wc_opts o;
    struct wc_where s;
    struct local_cluster *lc = NULL;
    struct cli_client c = {.cmd = CMD};
    int rc = parse(argc, argv, &o);
    memset(&s, 0, sizeof s);
    s.cluster_start_s = -1;
    if (rc >= 0)
        goto out;
    /* Through the environment, so that the embedded cluster's nodes, which
     * are this command's children, use the same codecs as its client. */
    if (o.compress && setenv("FLORET_COMPRESS", o.compress, 1) != 0) {
        fprintf(stderr, "floret wordcount: out of memory\n");
        rc = 1;
        goto out;
    }
    if (o.map && !broker_configured(&o)) {
        rc = cli_usage_error(CMD, "--map %s needs the cluster it is deployed on: give "
                                  "--broker or set FLORET_BROKER", o.map);
        goto out;
    }
    if (!broker_configured(&o)) {
        char err[512];
        double t0 = now_s();
        /* The embedded nodes may read the inputs by reference. */
        for (int i = 0; i < o.nfiles; i++)
            if (strcmp(o.files[i], "-") != 0)
                (void)cli_data_dir_add(o.files[i], true);
        rc = local_cluster_start(o.nodes, &lc, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "floret wordcount: cannot start the local cluster: %s\n", err);
            goto out;
        }
        s.cluster_start_s = now_s() - t0;
        s.where = "embedded local cluster";
        o.conn.broker = local_cluster_url(lc);
    } else {
        /* The URL without its password, for the report. */
        static struct cli_url url;
        char err[CLI_PATH_BUF + 400];
        if (cli_conn_resolve(&o.conn, &url, err, sizeof err) == FL_OK)
            s.where = url.text;
    }
    c.conn = o.conn;
    c.cluster = o.cluster;
    c.verbose = o.verbose;
    rc = cli_client_start(&c);
    if (rc < 0) {
        rc = count_on(&c, &o, &s);
        cli_client_stop(&c);
    }
out:
    local_cluster_stop(lc);
    free(o.files);
    return rc;
}
