/*
 * mandelbrot.c - `floret mandelbrot`: the cluster's showcase. It splits a
 * Mandelbrot image into tiles, one "mandel.tile" task per tile (calls from
 * a zero-slot client, like `floret call`), places each tile's pixels where
 * its value says, and writes a PNG in which every tile is tinted by the
 * node that computed it (or gray, or a PGM). --reference renders the same
 * tiles through the task itself (fl_registry_apply) in this process,
 * without a broker: the image a cluster must reproduce byte for byte.
 * While it runs it shows the tiles to every dashboard (dashboard_tiles.h)
 * unless --no-show.
 * Exit status: 0 written, 1 a tile failed or the file could not be
 * written, 2 usage error, 3 broker unreachable.
 * Depends on cli.h, client.h, dashboard_tiles.h, image.h, opts.h and the
 * public header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "dashboard_tiles.h"
#include "image.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 120.0
#define NTINTS CLI_TINTS
#define LEVELS CLI_TINT_LEVELS /* NTINTS * LEVELS = 256 colours */
#define MAX_TILES 100000u /* tasks in flight at once, each with its handle */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret mandelbrot [OPTIONS]\n\n"
            "Render the Mandelbrot set on the cluster, one task per tile, into a PNG\n"
            "where each tile is tinted by the node that computed it.\n\n"
            "Options:\n"
            "  -o, --output FILE  FILE.png (default mandelbrot.png) or FILE.pgm (gray)\n"
            "  --size WxH         image size in pixels (default 640x400)\n"
            "  --tile N           tiles of N x N pixels (default 40)\n"
            "  --iter N           iterations per pixel (default 256)\n"
            "  --center X,Y       centre of the view (default -0.6,0)\n"
            "  --span S           width of the view (default 3.2)\n"
            "  --no-tint          gray PNG: the same pixels whichever node ran a tile\n"
            "  --no-show          do not show the tiles on dashboards while they arrive\n"
            "  --reference        render in this process, no cluster (same code)\n"
            "  --timeout SECONDS  wait at most this long for all tiles (default 120)\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n\n"
            "Exit status: 0 written, 1 a tile failed or the file could not be\n"
            "written, 2 usage error, 3 broker unreachable.\n");
}

struct mandel_args {
    const char *out;
    uint32_t width, height, tile, iter;
    double cx, cy, span, timeout_s;
    bool tint, reference, pgm, show;
    struct cli_client client;
};

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    unsigned long a, b;
    char x, end;
    if (sscanf(s, "%lu%c%lu%c", &a, &x, &b, &end) != 3 || (x != 'x' && x != 'X'))
        return false;
    if (a < 1 || b < 1 || a > FL_MANDEL_MAX_SIDE || b > FL_MANDEL_MAX_SIDE)
        return false;
    *w = (uint32_t)a;
    *h = (uint32_t)b;
    return true;
}

static bool parse_point(const char *s, double *x, double *y)
{
    char end;
    return sscanf(s, "%lf,%lf%c", x, y, &end) == 2 && *x >= -4 && *x <= 4 &&
           *y >= -4 && *y <= 4;
}

static int parse_value(int argc, char **argv, int *i, struct mandel_args *a)
{
    const char *v = NULL;
    long n;
    int m;
    char *end;
    if ((m = cli_opt(argc, argv, i, "--output", &v, "mandelbrot")) != 0 ||
        (m = cli_opt(argc, argv, i, "-o", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        a->out = v;
    } else if ((m = cli_opt(argc, argv, i, "--size", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        if (!parse_size(v, &a->width, &a->height))
            return cli_usage_error("mandelbrot", "--size '%s': expected WxH, each 1 to %u",
                                   v, FL_MANDEL_MAX_SIDE);
    } else if ((m = cli_opt(argc, argv, i, "--tile", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_long(v, 1, 512, &n))
            return cli_usage_error("mandelbrot", "--tile '%s': expected 1 to 512 pixels", v);
        a->tile = (uint32_t)n;
    } else if ((m = cli_opt(argc, argv, i, "--iter", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_long(v, 1, FL_MANDEL_MAX_ITER, &n))
            return cli_usage_error("mandelbrot", "--iter '%s': expected 1 to %u", v,
                                   FL_MANDEL_MAX_ITER);
        a->iter = (uint32_t)n;
    } else if ((m = cli_opt(argc, argv, i, "--center", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        if (!parse_point(v, &a->cx, &a->cy))
            return cli_usage_error("mandelbrot", "--center '%s': expected X,Y, each -4 to 4", v);
    } else if ((m = cli_opt(argc, argv, i, "--span", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        a->span = strtod(v, &end);
        if (end == v || *end || !(a->span >= 1e-12 && a->span <= 16))
            return cli_usage_error("mandelbrot", "--span '%s': expected 1e-12 to 16", v);
    } else if ((m = cli_opt(argc, argv, i, "--timeout", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        if (cli_parse_timeout("mandelbrot", "--timeout", v, CLI_MAX_SECONDS, &a->timeout_s) != 0)
            return 2;
    } else if ((m = cli_conn_opt(argc, argv, i, &a->client.conn, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
    } else if ((m = cli_opt(argc, argv, i, "--cluster", &v, "mandelbrot")) != 0) {
        if (m < 0)
            return 2;
        a->client.cluster = v;
    } else {
        return cli_unknown_arg_help("mandelbrot", argv[*i], usage);
    }
    return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int parse(int argc, char **argv, struct mandel_args *a)
{
    int rc;
    memset(a, 0, sizeof *a);
    a->out = "mandelbrot.png";
    a->width = 640;
    a->height = 400;
    a->tile = 40;
    a->iter = 256;
    a->cx = -0.6;
    a->span = 3.2;
    a->timeout_s = DEFAULT_TIMEOUT_S;
    a->tint = true;
    a->show = true;
    a->client.cmd = "mandelbrot";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            a->client.verbose = true;
        } else if (strcmp(s, "--no-tint") == 0) {
            a->tint = false;
        } else if (strcmp(s, "--no-show") == 0) {
            a->show = false;
        } else if (strcmp(s, "--reference") == 0) {
            a->reference = true;
        } else if (s[0] == '-') {
            if ((rc = parse_value(argc, argv, &i, a)) >= 0)
                return rc;
        } else {
            return cli_usage_error("mandelbrot", "unexpected argument '%s'", s);
        }
    }
    a->pgm = ends_with(a->out, ".pgm");
    if (!a->pgm && !ends_with(a->out, ".png"))
        return cli_usage_error("mandelbrot", "--output '%s': expected a .png or .pgm file", a->out);
    if (a->pgm || a->reference)
        a->tint = false; /* gray: no node to tint by */
    size_t tiles = (size_t)((a->width + a->tile - 1) / a->tile) *
                   ((a->height + a->tile - 1) / a->tile);
    if (tiles > MAX_TILES)
        return cli_usage_error("mandelbrot", "--tile %u makes %zu tiles of a %ux%u image; "
                               "at most %u: use bigger tiles", (unsigned)a->tile, tiles,
                               (unsigned)a->width, (unsigned)a->height, MAX_TILES);
    return -1;
}

/* One tile: where it is, its task, who ran it. */
struct tile {
    uint32_t x, y, w, h;
    fl_result *r;
    int node; /* index in the nodes seen, -1 before */
    bool taken;
};

static char *tile_kwargs(const struct mandel_args *a, const struct tile *t)
{
    char *s = malloc(320);
    if (s)
        snprintf(s, 320,
                 "{\"width\":%u,\"height\":%u,\"x\":%u,\"y\":%u,\"w\":%u,\"h\":%u,"
                 "\"iter\":%u,\"cx\":%.17g,\"cy\":%.17g,\"span\":%.17g}",
                 (unsigned)a->width, (unsigned)a->height, (unsigned)t->x,
                 (unsigned)t->y, (unsigned)t->w, (unsigned)t->h, (unsigned)a->iter,
                 a->cx, a->cy, a->span);
    return s;
}

static struct tile *make_tiles(const struct mandel_args *a, size_t *n)
{
    size_t cols = (a->width + a->tile - 1) / a->tile;
    size_t rows = (a->height + a->tile - 1) / a->tile;
    struct tile *t = calloc(cols * rows, sizeof *t);
    if (!t)
        return NULL;
    for (size_t j = 0; j < rows; j++)
        for (size_t i = 0; i < cols; i++) {
            struct tile *k = &t[j * cols + i];
            k->x = (uint32_t)(i * a->tile);
            k->y = (uint32_t)(j * a->tile);
            k->w = a->width - k->x < a->tile ? a->width - k->x : a->tile;
            k->h = a->height - k->y < a->tile ? a->height - k->y : a->tile;
            k->node = -1;
        }
    *n = cols * rows;
    return t;
}

static void place(const struct mandel_args *a, uint8_t *img, const struct tile *t,
                  const uint8_t *px)
{
    for (uint32_t j = 0; j < t->h; j++)
        memcpy(img + (size_t)(t->y + j) * a->width + t->x, px + (size_t)j * t->w, t->w);
}

/* The same tile through the task itself, run here (fl_registry_apply). */
static int render_here(const fl_registry *reg, const struct mandel_args *a,
                       const struct tile *t, uint8_t *img)
{
    char *kw = tile_kwargs(a, t), err[300];
    void *px = NULL;
    size_t len = 0;
    int rc = 1;
    fl_status st = kw ? fl_registry_apply(reg, "mandel.tile", NULL, kw, NULL, 0, NULL, &px,
                                          &len, err, sizeof err)
                      : FL_ENOMEM;
    if (st == FL_OK && len == (size_t)t->w * t->h) {
        place(a, img, t, px);
        rc = 0;
    } else {
        fprintf(stderr, "error: tile at %u,%u: %s\n", (unsigned)t->x, (unsigned)t->y,
                st == FL_OK ? "wrong size" : st == FL_ENOMEM ? "out of memory" : err);
    }
    fl_free(px);
    free(kw);
    return rc;
}

/* Nodes in the order their first tile arrived: tint i is node i's. */
struct nodes {
    char id[NTINTS * 4][FL_REMOTE_ID_MAX];
    size_t count[NTINTS * 4];
    size_t n;
};

static int node_index(struct nodes *ns, const char *id)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->id[i], id) == 0)
            return (int)i;
    if (ns->n == sizeof ns->id / sizeof ns->id[0])
        return (int)(ns->n - 1); /* more nodes than names kept: the last */
    snprintf(ns->id[ns->n], sizeof ns->id[0], "%s", id);
    return (int)ns->n++;
}

/* A tile's answer checked against what was asked, then placed. */
static int take_tile(struct mandel_args *a, struct tile *t, uint8_t *img,
                     struct nodes *ns, struct show *sh)
{
    const fl_value *v = fl_result_value(t->r);
    size_t len = 0;
    const uint8_t *px = fl_result_attachment(t->r, &len);
    if (fl_result_state(t->r) != FL_SUCCESS) {
        fprintf(stderr, "error: tile at %u,%u: %s: %s\n", (unsigned)t->x, (unsigned)t->y,
                fl_result_error_type(t->r) ? fl_result_error_type(t->r) : "Error",
                fl_result_error_message(t->r) ? fl_result_error_message(t->r) : "");
        return 1;
    }
    if (fl_value_number(fl_value_get(v, "x")) != t->x ||
        fl_value_number(fl_value_get(v, "y")) != t->y ||
        fl_value_number(fl_value_get(v, "w")) != t->w ||
        fl_value_number(fl_value_get(v, "h")) != t->h || !px ||
        len != (size_t)t->w * t->h) {
        fprintf(stderr, "error: tile at %u,%u: %s sent %zu bytes for another tile\n",
                (unsigned)t->x, (unsigned)t->y, fl_result_worker(t->r), len);
        return 1;
    }
    place(a, img, t, px);
    t->node = node_index(ns, fl_result_worker(t->r));
    ns->count[t->node]++;
    t->taken = true;
    show_tile(sh, t->x, t->y, t->w, t->h, t->node, fl_result_worker(t->r), px);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Submit every tile, then take each as it comes. Showing, every period
 * the tiles that finished out of order are taken too, so a dashboard sees
 * them when they arrive, not when the ones before them do. */
static int render_on_cluster(struct mandel_args *a, struct tile *ts, size_t n,
                             uint8_t *img, struct nodes *ns, struct show *sh)
{
    double start = now_s(), next_sweep = 0;
    size_t first = 0, taken = 0;
    for (size_t i = 0; i < n; i++) {
        char *kw = tile_kwargs(a, &ts[i]);
        fl_status st = kw ? fl_node_call(a->client.node, "mandel.tile", NULL, kw, NULL, 0,
                                         NULL, &ts[i].r)
                          : FL_ENOMEM;
        free(kw);
        if (st != FL_OK) {
            fprintf(stderr, "error: cannot submit tile %zu: %s\n", i, fl_strerror(st));
            return st == FL_ENOMEM ? 1 : 2;
        }
    }
    while (first < n) {
        double left = a->timeout_s - (now_s() - start);
        uint32_t ms = left > 0 ? (uint32_t)(left * 1000.0) : 0;
        if (sh && ms > SHOW_PERIOD_MS)
            ms = SHOW_PERIOD_MS;
        if (fl_result_wait(ts[first].r, ms) == FL_OK) {
            if (take_tile(a, &ts[first], img, ns, sh) != 0)
                return 1;
            taken++;
        } else if (left <= 0) {
            fprintf(stderr, "error: no result within %g s for tile at %u,%u (%zu of %zu "
                            "tiles in; is a node running mandel.tile?)\n",
                    a->timeout_s, (unsigned)ts[first].x, (unsigned)ts[first].y, taken, n);
            return 1;
        }
        if (sh && now_s() >= next_sweep) {
            for (size_t i = first + 1; i < n; i++)
                if (!ts[i].taken && fl_result_ready(ts[i].r)) {
                    if (take_tile(a, &ts[i], img, ns, sh) != 0)
                        return 1;
                    taken++;
                }
            next_sweep = now_s() + SHOW_PERIOD_MS / 1000.0;
        }
        while (first < n && ts[first].taken)
            first++;
        show_tick(sh);
    }
    return 0;
}

static int write_image(const struct mandel_args *a, uint8_t *img,
                       const struct tile *ts, size_t n)
{
    uint8_t pal[NTINTS * LEVELS * 3];
    int rc;
    if (a->pgm)
        rc = cli_write_pgm(a->out, img, a->width, a->height);
    else if (!a->tint)
        rc = cli_write_png(a->out, img, a->width, a->height, NULL, 0);
    else {
        /* Palette index: the tile's tint, then its gray level / 8. */
        for (size_t i = 0; i < n; i++) {
            const struct tile *t = &ts[i];
            uint8_t base = (uint8_t)((t->node % NTINTS) * LEVELS);
            for (uint32_t j = 0; j < t->h; j++) {
                uint8_t *row = img + (size_t)(t->y + j) * a->width + t->x;
                /* Only 0 is inside: the outside starts at level 1. */
                for (uint32_t k = 0; k < t->w; k++)
                    row[k] = (uint8_t)(base + cli_tint_level(row[k]));
            }
        }
        cli_tint_palette(pal);
        rc = cli_write_png(a->out, img, a->width, a->height, pal, NTINTS * LEVELS);
    }
    if (rc != 0)
        fprintf(stderr, "error: cannot write %s: %s\n", a->out, strerror(errno));
    return rc == 0 ? 0 : 1;
}

static void report(const struct mandel_args *a, size_t n, const struct nodes *ns,
                   double secs)
{
    fprintf(stderr, "mandelbrot: %ux%u, %zu tiles of %u px, %s in %.2f s -> %s\n",
            (unsigned)a->width, (unsigned)a->height, n, (unsigned)a->tile,
            a->reference ? "in this process" : "on the cluster", secs, a->out);
    for (size_t i = 0; i < ns->n; i++)
        fprintf(stderr, "  %-24s %5zu tiles%s%s\n", ns->id[i], ns->count[i],
                a->tint ? "  " : "", a->tint ? cli_tint_names[i % NTINTS] : "");
}

/* Dashboards see the run unless --no-show; one that cannot be shown is
 * still made (a warning says why). */
static struct show *start_show(const struct mandel_args *a, size_t n)
{
    struct show_geom g = {a->width, a->height, a->tile, (uint32_t)n, a->iter,
                          a->cx, a->cy, a->span};
    char err[300];
    struct show *sh = show_start(&a->client.conn, a->client.cluster,
                                 fl_node_id(a->client.node), &g, err, sizeof err);
    if (!sh)
        fprintf(stderr, "warning: the tiles will not show on dashboards: %s\n", err);
    return sh;
}

int cli_mandelbrot(int argc, char **argv)
{
    struct mandel_args a;
    struct nodes *ns = NULL;
    struct tile *ts = NULL;
    uint8_t *img = NULL;
    size_t n = 0;
    double start = now_s();
    int rc = parse(argc, argv, &a);

    if (rc >= 0)
        return rc;
    ts = make_tiles(&a, &n);
    img = malloc((size_t)a.width * a.height);
    ns = calloc(1, sizeof *ns);
    if (!ts || !img || !ns) {
        fprintf(stderr, "error: out of memory for a %ux%u image\n", (unsigned)a.width,
                (unsigned)a.height);
        rc = 1;
    } else if (a.reference) {
        fl_registry *reg = fl_registry_new();
        rc = reg && fl_register_mandelbrot(reg) == FL_OK ? 0 : 1;
        if (rc)
            fprintf(stderr, "error: out of memory\n");
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = render_here(reg, &a, &ts[i], img);
        fl_registry_free(reg);
    } else if ((rc = cli_client_start(&a.client)) < 0) {
        struct show *sh = a.show ? start_show(&a, n) : NULL;
        rc = render_on_cluster(&a, ts, n, img, ns, sh);
        show_end(sh);
    }
    if (rc == 0)
        rc = write_image(&a, img, ts, n);
    if (rc == 0)
        report(&a, n, ns, now_s() - start);
    for (size_t i = 0; ts && i < n; i++)
        fl_result_free(ts[i].r);
    cli_client_stop(&a.client);
    free(ts);
    free(img);
    free(ns);
    return rc;
}
