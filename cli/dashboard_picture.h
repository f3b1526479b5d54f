/*
 * dashboard_picture.h - the picture a dashboard shows (docs/protocol.md
 * 3.15): the `picture` and `tiles` messages read on node/+/picture,
 * checked whole (a message with anything wrong changes nothing and is
 * counted as rejected), kept for the latest run as Server-Sent Events
 * ready to stream (a page that opens mid-run gets the run so far), and
 * summarised as JSON for /api/picture. Not thread-safe: the caller locks.
 * Depends on the public header (JSON values) and dashboard_data.h.
 */
#ifndef FLORET_CLI_DASHBOARD_PICTURE_H
#define FLORET_CLI_DASHBOARD_PICTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dashboard_data.h"

#define DASH_PIC_MAX_MSG (8u << 20)      /* a message, as protocol.md 8 */
#define DASH_PIC_MAX_PIXELS (4096u * 4096u) /* a picture the page is sent */
#define DASH_PIC_MAX_TILES 100000u
#define DASH_PIC_MAX_NODES 32

struct dash_pic_event {
    char *text; /* "event: ...\ndata: ...\n\n" */
    size_t len;
};

struct dash_pic {
    /* the run shown; run_seq changes with every new run */
    bool active, ended;
    uint64_t run, run_seq;
    char from[65], client[65];
    uint32_t width, height, tile, total, cols, done;
    uint8_t *have; /* total flags: that tile came */
    char nodes[DASH_PIC_MAX_NODES][65];
    uint32_t per_node[DASH_PIC_MAX_NODES];
    int nnodes;
    /* the run's events: [0] the start, then one per accepted batch */
    struct dash_pic_event *ev;
    size_t nev, cap;
    /* what was refused */
    uint64_t rejected;
    char last_error[160];
};

void dash_pic_init(struct dash_pic *p);
void dash_pic_free(struct dash_pic *p);

/*
 * One message read on topic (floret/v1/<cluster>/node/<id>/picture).
 * 0 when it was taken (or changed nothing, as a tile seen before), -1
 * when refused: p is as it was, rejected counted and last_error says why
 * (which member, what was wrong).
 */
int dash_pic_on_message(struct dash_pic *p, const char *topic, const void *payload,
                        size_t len);

/* /api/picture: the run shown (null when none) and what was refused. */
void dash_pic_json(struct sbuf *b, const struct dash_pic *p);

#endif
