/*
 * dashboard_tiles.c - the `picture` and `tiles` messages of a mandelbrot
 * run (dashboard_tiles.h). A batch is its JSON (tile places and the nodes
 * that ran them) with "bin", a NUL and the pixels of its tiles one after
 * the other, each tile naming its range ("att"), as every floret message
 * carries bytes (protocol.md section 3): no base64 on the wire.
 * Depends on dashboard_tiles.h, dashboard_feed.h, dashboard_data.h (the
 * text buffer) and the C library.
 */
#include "dashboard_tiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dashboard_data.h"
#include "dashboard_feed.h"

#define MAX_NODES 32             /* as many as mandelbrot.c keeps */
#define BATCH_TILES 512          /* the protocol's items per message */
#define BATCH_BYTES (1u << 20)   /* pixels per message: well below 8 MiB */
#define END_WAIT_MS 1000

struct show {
    struct cli_feed *feed;
    char topic[256];
    char id[65];
    uint64_t run;
    struct show_geom g;
    char nodes[MAX_NODES][65];
    int nnodes;
    struct sbuf list; /* the tile entries of the batch, comma-separated */
    struct sbuf px;   /* their pixels */
    size_t ntiles;
    uint64_t next_ms;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A run id nobody else picks: random, below 2^53 (a JSON integer). */
static uint64_t new_run(void)
{
    uint64_t r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
    }
    if (f)
        fclose(f);
    return r & ((1ull << 53) - 1);
}

/* The members every message of a run has. */
static void head(struct show *s, struct sbuf *b, const char *kind)
{
    sb_printf(b, "{\"v\":1,\"kind\":\"%s\",\"from\":", kind);
    sb_str(b, s->id);
    sb_printf(b, ",\"run\":%llu,\"width\":%u,\"height\":%u,\"tile\":%u,\"total\":%u",
              (unsigned long long)s->run, (unsigned)s->g.width, (unsigned)s->g.height,
              (unsigned)s->g.tile, (unsigned)s->g.total);
}

static void send_batch(struct show *s, bool last)
{
    struct sbuf b = {0};
    head(s, &b, "tiles");
    sb_printf(&b, ",\"nodes\":[");
    for (int i = 0; i < s->nnodes; i++) {
        sb_printf(&b, i ? "," : "");
        sb_str(&b, s->nodes[i]);
    }
    sb_printf(&b, "],\"tiles\":[");
    if (s->list.len)
        sb_add(&b, s->list.s, s->list.len);
    sb_printf(&b, "]%s,\"bin\":%zu}", last ? ",\"last\":true" : "", s->px.len);
    sb_add(&b, "", 1);
    if (s->px.len)
        sb_add(&b, s->px.s, s->px.len);
    if (!b.failed && !s->list.failed && !s->px.failed) {
        if (last)
            cli_feed_publish_wait(s->feed, s->topic, b.s, b.len, END_WAIT_MS);
        else
            cli_feed_publish(s->feed, s->topic, b.s, b.len);
    }
    sb_free(&b);
    s->list.len = s->px.len = 0;
    s->list.failed = s->px.failed = 0;
    s->ntiles = 0;
    s->next_ms = mono_ms() + SHOW_PERIOD_MS;
}

struct show *show_start(const struct cli_conn *conn, const char *cluster,
                        const char *node_id, const struct show_geom *g, char *err,
                        size_t errlen)
{
    struct show *s = calloc(1, sizeof *s);
    struct sbuf b = {0};
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->g = *g;
    s->run = new_run();
    if (cli_feed_id(conn, node_id, s->id, err, errlen) != 0 ||
        !(s->feed = cli_feed_open(conn, s->id, NULL, NULL, NULL, 3000, err, errlen))) {
        free(s);
        return NULL;
    }
    snprintf(s->topic, sizeof s->topic, "floret/v1/%s/node/%s/picture",
             cluster ? cluster : "default", s->id);
    head(s, &b, "picture");
    sb_printf(&b, ",\"client\":");
    sb_str(&b, node_id);
    sb_printf(&b, ",\"iter\":%u,\"cx\":%.17g,\"cy\":%.17g,\"span\":%.17g}", (unsigned)g->iter,
              g->cx, g->cy, g->span);
    if (!b.failed)
        cli_feed_publish(s->feed, s->topic, b.s, b.len);
    sb_free(&b);
    s->next_ms = mono_ms() + SHOW_PERIOD_MS;
    return s;
}

static bool plain_id(const char *id)
{
    size_t n = strlen(id);
    if (n < 1 || n > 64)
        return false;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

void show_tile(struct show *s, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
               int node_index, const char *node, const uint8_t *px)
{
    size_t len = (size_t)w * h;
    if (!s || node_index < 0 || node_index >= MAX_NODES)
        return;
    while (s->nnodes <= node_index) /* names as the caller numbers them */
        snprintf(s->nodes[s->nnodes++], sizeof s->nodes[0], "?");
    if (strcmp(s->nodes[node_index], "?") == 0 && plain_id(node))
        snprintf(s->nodes[node_index], sizeof s->nodes[0], "%s", node);
    if (s->ntiles == BATCH_TILES || (s->px.len && s->px.len + len > BATCH_BYTES))
        send_batch(s, false);
    sb_printf(&s->list, "%s{\"x\":%u,\"y\":%u,\"w\":%u,\"h\":%u,\"node\":%d,\"att\":[%zu,%zu]}",
              s->ntiles ? "," : "", (unsigned)x, (unsigned)y, (unsigned)w, (unsigned)h,
              node_index, s->px.len, len);
    sb_add(&s->px, px, len);
    s->ntiles++;
    show_tick(s);
}

void show_tick(struct show *s)
{
    if (s && s->ntiles && mono_ms() >= s->next_ms)
        send_batch(s, false);
}

void show_end(struct show *s)
{
    if (!s)
        return;
    send_batch(s, true);
    cli_feed_close(s->feed);
    sb_free(&s->list);
    sb_free(&s->px);
    free(s);
}
