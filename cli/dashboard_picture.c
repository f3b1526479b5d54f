/*
 * dashboard_picture.c - the picture of the latest mandelbrot run, as the
 * dashboard receives it (dashboard_picture.h). Every message is untrusted:
 * it is read whole and checked member by member (the topic's id, the
 * geometry, every tile on the run's grid with an attachment range of its
 * size) before anything changes, so a bad one leaves no trace on the page.
 * Accepted tiles become Server-Sent Events with their pixels in base64,
 * which the page paints with the palette of the PNG (image.h).
 * Depends on dashboard_picture.h, dashboard_data.h, image.h, the public
 * header and the C library.
 */
#include "dashboard_picture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floret/floret.h"
#include "image.h"

#define MAX_SIDE 16384u
#define MAX_TILE 512u
#define MAX_BATCH 512u
#define MAX_RUN ((1ull << 53) - 1)

/* One tile of a message, checked. */
struct ptile {
    uint32_t x, y, w, h, node;
    const uint8_t *px;
};

/* What a message says, checked. */
struct pmsg {
    bool start, last;
    uint64_t run;
    const char *from, *client;
    uint32_t width, height, tile, total;
    const char *names[DASH_PIC_MAX_NODES];
    size_t nnames;
    struct ptile *tiles;
    size_t ntiles;
};

void dash_pic_init(struct dash_pic *p)
{
    memset(p, 0, sizeof *p);
}

static void clear_run(struct dash_pic *p)
{
    for (size_t i = 0; i < p->nev; i++)
        free(p->ev[i].text);
    free(p->ev);
    free(p->have);
    p->ev = NULL;
    p->have = NULL;
    p->nev = p->cap = 0;
    p->active = p->ended = false;
    p->done = 0;
    p->nnodes = 0;
    memset(p->per_node, 0, sizeof p->per_node);
}

void dash_pic_free(struct dash_pic *p)
{
    clear_run(p);
}

static int refuse(struct dash_pic *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int refuse(struct dash_pic *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->last_error, sizeof p->last_error, fmt, ap);
    va_end(ap);
    p->rejected++;
    return -1;
}

static bool plain_id(const char *s, size_t n)
{
    return n >= 1 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* The <id> of .../node/<id>/picture, or NULL. */
static const char *topic_id(const char *topic, char *id)
{
    const char *s = strstr(topic, "/node/");
    const char *end;
    if (!s)
        return NULL;
    s += 6;
    end = strchr(s, '/');
    if (!end || strcmp(end, "/picture") != 0 || !plain_id(s, (size_t)(end - s)))
        return NULL;
    memcpy(id, s, (size_t)(end - s));
    id[end - s] = '\0';
    return id;
}

/* Member key of o: an integer 0..max. */
static bool get_uint(const fl_value *o, const char *key, uint64_t max, uint64_t *out)
{
    const fl_value *v = fl_value_get(o, key);
    int64_t n;
    if (!fl_value_int64(v, &n) || n < 0 || (uint64_t)n > max)
        return false;
    *out = (uint64_t)n;
    return true;
}

static const char *get_id(const fl_value *o, const char *key)
{
    size_t n;
    const char *s = fl_value_string(fl_value_get(o, key), &n);
    return s && plain_id(s, n) ? s : NULL;
}

static int check_geometry(struct dash_pic *p, const fl_value *o, struct pmsg *m)
{
    uint64_t w, h, t, total;
    if (!get_uint(o, "width", MAX_SIDE, &w) || w == 0)
        return refuse(p, "width: expected an integer 1 to %u", MAX_SIDE);
    if (!get_uint(o, "height", MAX_SIDE, &h) || h == 0)
        return refuse(p, "height: expected an integer 1 to %u", MAX_SIDE);
    if (w * h > DASH_PIC_MAX_PIXELS)
        return refuse(p, "width x height: %llu pixels, over the %u shown",
                      (unsigned long long)(w * h), DASH_PIC_MAX_PIXELS);
    if (!get_uint(o, "tile", MAX_TILE, &t) || t == 0)
        return refuse(p, "tile: expected an integer 1 to %u", MAX_TILE);
    if (!get_uint(o, "total", DASH_PIC_MAX_TILES, &total) ||
        total != ((w + t - 1) / t) * ((h + t - 1) / t))
        return refuse(p, "total: expected the number of %llu px tiles of %llux%llu",
                      (unsigned long long)t, (unsigned long long)w, (unsigned long long)h);
    m->width = (uint32_t)w;
    m->height = (uint32_t)h;
    m->tile = (uint32_t)t;
    m->total = (uint32_t)total;
    return 0;
}

static int check_tile(struct dash_pic *p, const struct pmsg *m, const fl_value *o,
                      size_t i, const uint8_t *att, size_t att_len, struct ptile *t)
{
    uint64_t x, y, w, h, node, off, len;
    const fl_value *a = fl_value_get(o, "att");
    if (fl_value_type(o) != FL_TYPE_OBJECT)
        return refuse(p, "tiles[%zu]: expected an object", i);
    if (!get_uint(o, "x", m->width - 1, &x) || x % m->tile ||
        !get_uint(o, "y", m->height - 1, &y) || y % m->tile)
        return refuse(p, "tiles[%zu]: x and y: expected a corner of the %u px grid", i,
                      (unsigned)m->tile);
    if (!get_uint(o, "w", MAX_TILE, &w) || !get_uint(o, "h", MAX_TILE, &h) ||
        w != (m->width - x < m->tile ? m->width - x : m->tile) ||
        h != (m->height - y < m->tile ? m->height - y : m->tile))
        return refuse(p, "tiles[%zu]: w and h: not the size of the tile at %llu,%llu", i,
                      (unsigned long long)x, (unsigned long long)y);
    if (!get_uint(o, "node", DASH_PIC_MAX_NODES - 1, &node) || node >= m->nnames)
        return refuse(p, "tiles[%zu].node: expected an index into nodes (%zu)", i, m->nnames);
    if (fl_value_type(a) != FL_TYPE_ARRAY || fl_value_count(a) != 2 ||
        !fl_value_int64(fl_value_at(a, 0), (int64_t *)&off) ||
        !fl_value_int64(fl_value_at(a, 1), (int64_t *)&len) || len != w * h ||
        off > att_len || len > att_len - off)
        return refuse(p, "tiles[%zu].att: expected [offset, %llu] inside the attachment", i,
                      (unsigned long long)(w * h));
    t->x = (uint32_t)x;
    t->y = (uint32_t)y;
    t->w = (uint32_t)w;
    t->h = (uint32_t)h;
    t->node = (uint32_t)node;
    t->px = att + off;
    return 0;
}

static int check_batch(struct dash_pic *p, const fl_value *o, const uint8_t *att,
                       size_t att_len, struct pmsg *m)
{
    const fl_value *names = fl_value_get(o, "nodes"), *tiles = fl_value_get(o, "tiles");
    const fl_value *last = fl_value_get(o, "last");
    size_t i = 0;
    if (fl_value_type(names) != FL_TYPE_ARRAY || fl_value_count(names) > DASH_PIC_MAX_NODES)
        return refuse(p, "nodes: expected an array of at most %d node ids",
                      DASH_PIC_MAX_NODES);
    for (const fl_value *v = fl_value_first(names); v; v = fl_value_next(v), i++) {
        size_t n;
        const char *s = fl_value_string(v, &n);
        if (!s || !(plain_id(s, n) || strcmp(s, "?") == 0))
            return refuse(p, "nodes[%zu]: expected a node id", i);
        m->names[m->nnames++] = s;
    }
    if (fl_value_type(tiles) != FL_TYPE_ARRAY || fl_value_count(tiles) > MAX_BATCH)
        return refuse(p, "tiles: expected an array of at most %u tiles", MAX_BATCH);
    if (last && fl_value_type(last) != FL_TYPE_BOOL)
        return refuse(p, "last: expected true or false");
    m->last = fl_value_bool(last);
    m->tiles = calloc(fl_value_count(tiles) + 1, sizeof *m->tiles);
    if (!m->tiles)
        return refuse(p, "out of memory");
    i = 0;
    for (const fl_value *v = fl_value_first(tiles); v; v = fl_value_next(v), i++)
        if (check_tile(p, m, v, i, att, att_len, &m->tiles[m->ntiles++]) != 0)
            return -1;
    return 0;
}

/* Read and check the whole message into m (m->tiles to free). */
static int check(struct dash_pic *p, const char *topic, const uint8_t *pl, size_t len,
                 fl_value **json, struct pmsg *m)
{
    char id[65];
    const uint8_t *nul = memchr(pl, 0, len);
    size_t jlen = nul ? (size_t)(nul - pl) : len, att_len = nul ? len - jlen - 1 : 0;
    uint64_t v, bin = 0;
    const char *kind;
    if (len > DASH_PIC_MAX_MSG)
        return refuse(p, "message of %zu bytes, over the limit of %u", len, DASH_PIC_MAX_MSG);
    if (!topic_id(topic, id))
        return refuse(p, "topic %.80s: expected .../node/<id>/picture", topic);
    if (fl_value_parse((const char *)pl, jlen, json) != FL_OK ||
        fl_value_type(*json) != FL_TYPE_OBJECT)
        return refuse(p, "not a JSON object");
    if (!get_uint(*json, "v", 1000, &v) || v != 1)
        return refuse(p, "v: expected 1");
    kind = fl_value_string(fl_value_get(*json, "kind"), NULL);
    if (!kind || (strcmp(kind, "picture") != 0 && strcmp(kind, "tiles") != 0))
        return refuse(p, "kind: expected \"picture\" or \"tiles\"");
    m->start = strcmp(kind, "picture") == 0;
    if (!(m->from = get_id(*json, "from")) || strcmp(m->from, id) != 0)
        return refuse(p, "from: expected the topic's node id %s", id);
    if (!get_uint(*json, "run", MAX_RUN, &m->run))
        return refuse(p, "run: expected an integer below 2^53");
    if (fl_value_get(*json, "bin") ? !get_uint(*json, "bin", len, &bin) || bin != att_len
                                   : nul != NULL)
        return refuse(p, "bin: expected the %zu bytes after the JSON text", att_len);
    if (check_geometry(p, *json, m) != 0)
        return -1;
    if (m->start) {
        m->client = get_id(*json, "client");
        if (!m->client)
            return refuse(p, "client: expected a node id");
        return 0;
    }
    return check_batch(p, *json, nul ? nul + 1 : pl + len, att_len, m);
}

/* ----------------------------------------------------------- the events */

static int push_event(struct dash_pic *p, struct sbuf *b)
{
    if (b->failed)
        return -1;
    if (p->nev == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct dash_pic_event *ev = realloc(p->ev, cap * sizeof *ev);
        if (!ev)
            return -1;
        p->ev = ev;
        p->cap = cap;
    }
    p->ev[p->nev].text = b->s;
    p->ev[p->nev].len = b->len;
    p->nev++;
    b->s = NULL;
    return 0;
}

static void sb_base64(struct sbuf *b, const uint8_t *s, size_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        q[0] = abc[v >> 18 & 63];
        q[1] = abc[v >> 12 & 63];
        q[2] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? abc[v & 63] : '=';
        sb_add(b, q, 4);
    }
}

static void sb_names(struct sbuf *b, const struct dash_pic *p)
{
    sb_printf(b, "[");
    for (int i = 0; i < p->nnodes; i++) {
        sb_printf(b, i ? "," : "");
        sb_str(b, p->nodes[i]);
    }
    sb_printf(b, "]");
}

/* A new run: its start event carries the geometry and the palette. */
static int start_run(struct dash_pic *p, const struct pmsg *m)
{
    struct sbuf b = {0};
    uint8_t pal[CLI_TINTS * CLI_TINT_LEVELS * 3];
    clear_run(p);
    p->have = calloc(m->total, 1);
    if (!p->have)
        return -1;
    p->active = true;
    p->run = m->run;
    p->run_seq++;
    snprintf(p->from, sizeof p->from, "%s", m->from);
    snprintf(p->client, sizeof p->client, "%s", m->client ? m->client : "");
    p->width = m->width;
    p->height = m->height;
    p->tile = m->tile;
    p->total = m->total;
    p->cols = (m->width + m->tile - 1) / m->tile;
    cli_tint_palette(pal);
    sb_printf(&b, "event: picture\ndata: {\"run\":%llu,\"from\":", (unsigned long long)p->run);
    sb_str(&b, p->from);
    sb_printf(&b, ",\"client\":");
    sb_str(&b, p->client);
    sb_printf(&b, ",\"width\":%u,\"height\":%u,\"tile\":%u,\"total\":%u,\"tints\":%d,"
                  "\"levels\":%d,\"palette\":\"",
              (unsigned)p->width, (unsigned)p->height, (unsigned)p->tile,
              (unsigned)p->total, CLI_TINTS, CLI_TINT_LEVELS);
    for (size_t i = 0; i < sizeof pal; i++)
        sb_printf(&b, "%02x", pal[i]);
    sb_printf(&b, "\",\"names\":[");
    for (int i = 0; i < CLI_TINTS; i++)
        sb_printf(&b, "%s\"%s\"", i ? "," : "", cli_tint_names[i]);
    sb_printf(&b, "]}\n\n");
    if (push_event(p, &b) != 0) {
        sb_free(&b);
        clear_run(p);
        return -1;
    }
    return 0;
}

static void take_names(struct dash_pic *p, const struct pmsg *m)
{
    for (size_t i = 0; i < m->nnames; i++) {
        if ((int)i >= p->nnodes) {
            snprintf(p->nodes[i], sizeof p->nodes[0], "%s", m->names[i]);
            p->nnodes = (int)i + 1;
        } else if (strcmp(p->nodes[i], "?") == 0) {
            snprintf(p->nodes[i], sizeof p->nodes[0], "%s", m->names[i]);
        }
    }
}

/* The tiles not seen yet, as one event. */
static int take_tiles(struct dash_pic *p, const struct pmsg *m)
{
    struct sbuf b = {0};
    size_t fresh = 0;
    bool was_ended = p->ended;
    take_names(p, m);
    sb_printf(&b, "event: tiles\ndata: {\"run\":%llu,\"nodes\":", (unsigned long long)p->run);
    sb_names(&b, p);
    sb_printf(&b, ",\"tiles\":[");
    for (size_t i = 0; i < m->ntiles; i++) {
        const struct ptile *t = &m->tiles[i];
        size_t k = (size_t)(t->y / p->tile) * p->cols + t->x / p->tile;
        if (p->have[k])
            continue; /* at-least-once: a tile counts once */
        p->have[k] = 1;
        p->done++;
        p->per_node[t->node]++;
        sb_printf(&b, "%s[%u,%u,%u,%u,%u,\"", fresh ? "," : "", (unsigned)t->x,
                  (unsigned)t->y, (unsigned)t->w, (unsigned)t->h, (unsigned)t->node);
        sb_base64(&b, t->px, (size_t)t->w * t->h);
        sb_printf(&b, "\"]");
        fresh++;
    }
    p->ended = p->ended || m->last;
    sb_printf(&b, "],\"done\":%u,\"last\":%s}\n\n", (unsigned)p->done,
              p->ended ? "true" : "false");
    if ((fresh || p->ended != was_ended) && push_event(p, &b) != 0) {
        sb_free(&b);
        return -1;
    }
    sb_free(&b);
    return 0;
}

int dash_pic_on_message(struct dash_pic *p, const char *topic, const void *payload,
                        size_t len)
{
    fl_value *json = NULL;
    struct pmsg m;
    int rc;
    memset(&m, 0, sizeof m);
    rc = check(p, topic, payload, len, &json, &m);
    if (rc == 0) {
        bool same = p->active && p->run == m.run && strcmp(p->from, m.from) == 0;
        if (same && (p->width != m.width || p->height != m.height || p->tile != m.tile))
            rc = refuse(p, "width, height, tile: not those of run %llu",
                        (unsigned long long)m.run);
        else if (m.start && !same)
            rc = start_run(p, &m); /* the latest run started is shown */
        else if (!m.start && !same && (!p->active || p->ended))
            rc = start_run(p, &m); /* its start was lost */
        else if (!m.start && !same)
            rc = 0; /* another run's tiles while one is shown */
        if (rc == 0 && !m.start && p->active && p->run == m.run &&
            strcmp(p->from, m.from) == 0)
            rc = take_tiles(p, &m);
        if (rc != 0 && !p->last_error[0])
            refuse(p, "out of memory");
    }
    free(m.tiles);
    fl_value_free(json);
    return rc;
}

void dash_pic_json(struct sbuf *b, const struct dash_pic *p)
{
    sb_printf(b, "{\"rejected\":%llu,\"last_error\":", (unsigned long long)p->rejected);
    sb_str(b, p->last_error);
    if (!p->active) {
        sb_printf(b, ",\"run\":null}");
        return;
    }
    sb_printf(b, ",\"run\":%llu,\"from\":", (unsigned long long)p->run);
    sb_str(b, p->from);
    sb_printf(b, ",\"client\":");
    sb_str(b, p->client);
    sb_printf(b, ",\"width\":%u,\"height\":%u,\"tile\":%u,\"total\":%u,\"done\":%u,"
                 "\"last\":%s,\"nodes\":[",
              (unsigned)p->width, (unsigned)p->height, (unsigned)p->tile,
              (unsigned)p->total, (unsigned)p->done, p->ended ? "true" : "false");
    for (int i = 0; i < p->nnodes; i++) {
        sb_printf(b, "%s{\"id\":", i ? "," : "");
        sb_str(b, p->nodes[i]);
        sb_printf(b, ",\"tiles\":%u,\"tint\":\"%s\"}", (unsigned)p->per_node[i],
                  cli_tint_names[i % CLI_TINTS]);
    }
    sb_printf(b, "]}");
}
