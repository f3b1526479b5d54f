/*
 * dashboard_tiles.h - what `floret mandelbrot` shows dashboards while it
 * runs (docs/protocol.md 3.15): a `picture` message when a run starts and,
 * every SHOW_PERIOD_MS at most, one `tiles` message with the tiles that
 * came in since, their gray pixels as the message's attachment, published
 * at QoS 0 on node/<feed id>/picture through the picture feed
 * (dashboard_feed.h). Nothing here may slow the run: a message that cannot
 * leave is dropped.
 * Depends on conn.h.
 */
#ifndef FLORET_CLI_DASHBOARD_TILES_H
#define FLORET_CLI_DASHBOARD_TILES_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

#define SHOW_PERIOD_MS 100

/* The picture being made. */
struct show_geom {
    uint32_t width, height, tile, total, iter;
    double cx, cy, span;
};

struct show;

/*
 * Connect a feed for the client node node_id and announce the run. NULL,
 * with a reason in err, when it cannot (the caller goes on without).
 */
struct show *show_start(const struct cli_conn *conn, const char *cluster,
                        const char *node_id, const struct show_geom *g, char *err,
                        size_t errlen);

/*
 * A finished tile: where, its pixels (w * h gray bytes, copied), and the
 * node that ran it, node_index in the order the nodes' first tiles came
 * (the PNG's tint order). Sends what is pending when the period is over.
 */
void show_tile(struct show *s, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
               int node_index, const char *node, const uint8_t *px);

/* Send what is pending if the period is over (call between waits). */
void show_tick(struct show *s);

/* Send the rest, marked last, wait briefly until it left, and disconnect. */
void show_end(struct show *s);

#endif
