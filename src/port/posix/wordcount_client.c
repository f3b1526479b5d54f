/*
 * wordcount_client.c - the dispatch loop of a word count (fl_wordcount_files,
 * `floret wordcount`): cuts the
 * inputs into chunks, keeps a bounded window of map tasks in flight (so
 * memory follows the window, not the input), merges each partial count as
 * it arrives (memory follows the vocabulary) and counts tasks per node.
 *
 * Locality (docs/wordcount.md): a chunk of a mapped regular file goes as a
 * wc.file task carrying (path, offset, length, size, mtime, sample hash);
 * a node that cannot prove it sees the same file answers NotLocal (an old
 * node: UnknownTask) and that chunk is sent again as wc.map with its
 * bytes. Retries after a lost node are the owner's job (max attempts); a
 * chunk whose partial count does not fit in a message (ResultTooBig) is
 * split in two; a chunk that still fails ends the run with its error,
 * never a wrong count.
 *
 * Unless --chunk is given, chunk sizes shrink as the known input runs out
 * (remaining / (2 x slots), from 16 MiB by reference or 4 MiB as bytes
 * down to 1 MiB): few chunks to merge, and no node left idle at the end.
 *
 * Each node's partials are merged with a hint of their own
 * (fl__wc_merge_from): a node keeps its table between tasks, so its words
 * come in nearly the same order every time.
 *
 * Depends on wordcount_client.h, wordcount_file.h, hosted.h (a call that
 * takes a chunk with room for the lease's header), posix.h (the node's
 * cluster, for a message) and the public header.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hosted.h"
#include "posix.h"
#include "wordcount_client.h"
#include "wordcount_file.h"

#define MIN_WINDOW 4
#define MAX_WINDOW 64
/* Bytes of chunk data the window may hold when chunks travel as bytes. */
#define WINDOW_BYTES (256u * 1024u * 1024u)
/* Stop offering references after this many NotLocal answers with no
 * success: no node shares our files. */
#define LOCALITY_GIVE_UP 8
#define POLL_MS 20u
/* How often the window is fitted to the nodes online. */
#define CENSUS_EVERY_S 0.01
/* Chunks whose bytes travel stay below the default 8 MiB message with
 * room for the envelope. */
#define BYTES_MAX (8u * 1024u * 1024u - 256u * 1024u)
#define ADAPT_MIN (1u * 1024u * 1024u)
#define ADAPT_MAX_REF (16u * 1024u * 1024u)
#define ADAPT_MAX_BYTES (4u * 1024u * 1024u)
#define IDLE_WARN_S 15.0
/* A node whose max_msg is below a chunk the client would cut gets the
 * tail of the input in chunks it can take: this many per slot of it, of
 * half its limit (the other half leaves room for the lease around the
 * chunk and for the partial counts that come back). */
#define SMALL_TAIL_PER_SLOT 16u
#define SMALL_ROOM 1024u
#define PROGRESS_EVERY_S 0.1

struct slot {
    fl_result *r;
    struct wc_chunk c;
    uint64_t index; /* chunk number, for messages */
    bool by_ref;
    bool force_bytes; /* a node could not read it: send the bytes */
};

/* The options as the loop reads them (fl_wordcount_options, with the
 * defaults applied). */
struct wc_opts {
    size_t min_length;
    size_t chunk;      /* bytes per chunk: given, or the stream default */
    bool chunk_set;    /* given: no adaptive sizes */
    bool locality;
    bool verbose;
    const char *map;   /* NULL: wc.map */
    fl_wordcount_progress_fn progress;
    void *progress_ud;
};

#define PEERS_CAP 64
/* The chunk size of standard input and the largest adaptive chunk whose
 * bytes travel: it fits in one 8 MiB message with room for the envelope,
 * and its partial count merges at a fraction of the cost of counting it. */
#define DEFAULT_CHUNK (4u * 1024u * 1024u)
#define MAX_CHUNK (64u * 1024u * 1024u)

struct run {
    fl_node *node;
    const struct wc_opts *o;
    const char *const *files;
    size_t nfiles;
    fl_peer *peers;          /* PEERS_CAP, for the census */
    fl_wc_table *t;
    struct wc_stats *s;
    struct wc_input *inputs;
    int ninputs, cur;        /* inputs, the one being cut */
    bool inputs_done;
    struct slot *slots;
    size_t window, inflight;
    struct slot *pending;    /* chunks to submit again (split or fallen back) */
    size_t npending, cap_pending;
    size_t slots_online;     /* execution slots of the cluster (adaptive size) */
    size_t small_chunk;      /* chunk the smallest node takes; 0: none small */
    uint64_t small_tail;     /* bytes at the end cut that small */
    uint64_t cut;            /* bytes of known-size inputs cut so far */
    uint64_t next_index;     /* number of the next fresh chunk */
    bool locality;
    uint64_t not_local, local_ok;
    double t0, last_progress, last_result, last_census;
    bool warned_idle;
    char err[512];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is name one of the comma-separated task names of a presence? */
static bool has_task(const char *tasks, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = tasks; (p = strstr(p, name)) != NULL; p += n)
        if ((p == tasks || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* The nodes that run the map task, as presence tells: their slots, and
 * the smallest message limit among them with the slots of the nodes that
 * have it. */
struct census {
    size_t slots;
    bool file_task;
    size_t min_msg, min_slots;
};

static struct census cluster_census(struct run *r, const char *map_task)
{
    fl_peer *peers = r->peers;
    struct census k = {0, false, 0, 0};
    size_t n = 0;
    if (fl_node_peers(r->node, peers, PEERS_CAP, &n) != FL_OK)
        return k;
    for (size_t i = 0; i < n; i++) {
        if (!peers[i].online || peers[i].slots <= 0 || !has_task(peers[i].tasks, map_task))
            continue;
        k.slots += (size_t)peers[i].slots;
        if (strstr(peers[i].tasks, "wc.file"))
            k.file_task = true;
        if (!k.min_msg || peers[i].max_msg < k.min_msg) {
            k.min_msg = peers[i].max_msg;
            k.min_slots = 0;
        }
        if (peers[i].max_msg == k.min_msg)
            k.min_slots += (size_t)peers[i].slots;
    }
    return k;
}

static size_t cluster_slots(struct run *r, const char *map_task, bool *any_file_task)
{
    struct census k = cluster_census(r, map_task);
    *any_file_task = k.file_task;
    return k.slots;
}

/* A node too small for the chunks the client cuts (a board) would get no
 * work: the last bytes are cut in chunks it can take, which every node
 * can take too, so the end of the job also evens out. */
static void follow_small_nodes(struct run *r)
{
    struct census k = cluster_census(r, r->o->map ? r->o->map : "wc.map");
    size_t usual = r->o->chunk_set ? r->o->chunk : ADAPT_MIN;
    r->small_chunk = 0;
    r->small_tail = 0;
    if (!k.min_msg || k.min_msg / 2 >= usual || k.min_msg < 4 * SMALL_ROOM)
        return;
    r->small_chunk = k.min_msg / 2 - SMALL_ROOM;
    r->small_tail = (uint64_t)r->small_chunk * SMALL_TAIL_PER_SLOT * k.min_slots;
}

static size_t pick_window(const struct run *r, size_t slots)
{
    size_t w = 2 * slots + 2;
    if (w < MIN_WINDOW)
        w = MIN_WINDOW;
    if (w > MAX_WINDOW)
        w = MAX_WINDOW;
    size_t by_mem = WINDOW_BYTES / (r->o->chunk ? r->o->chunk : 1);
    if (!r->locality && w > by_mem)
        w = by_mem < MIN_WINDOW ? MIN_WINDOW : by_mem;
    return w;
}

/* A mapped file's chunk read with pread into a new block from fl_malloc,
 * room bytes in, which the node then takes without a copy (and writes the
 * lease's header into the room in front, so the chunk is not copied
 * behind it either); NULL when it cannot be read (the mapping is the
 * fallback). Touching the mapping instead costs a page
 * fault per 4 KiB, which on the benchmark machine cost more than the copy
 * (docs/benchmarks.md). */
static uint8_t *read_chunk(const struct wc_chunk *c, size_t room)
{
    uint8_t *block = fl_malloc(room + c->len);
    uint8_t *b = block ? block + room : NULL;
    size_t got = 0;
    while (b && got < c->len) {
        ssize_t n = pread(c->in->fd, b + got, c->len - got, (off_t)(c->offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fl_free(block);
            return NULL;
        }
        got += (size_t)n;
    }
    return b;
}

static int submit_bytes(struct run *r, struct slot *sl)
{
    char kwargs[64];
    const char *task = r->o->map ? r->o->map : "wc.map";
    snprintf(kwargs, sizeof kwargs, "{\"min_length\":%zu}", r->o->min_length);
    size_t room = fl__att_room();
    uint8_t *own = sl->c.owned == NULL && sl->c.in->map != NULL && sl->c.len > 0
                       ? read_chunk(&sl->c, room) : NULL;
    fl_status st = own ? fl__node_call_take_room(r->node, task, NULL, kwargs, own, sl->c.len,
                                                 room, NULL, &sl->r)
                       : fl_node_call(r->node, task, NULL, kwargs, sl->c.data, sl->c.len, NULL, &sl->r);
    if (st != FL_OK) {
        snprintf(r->err, sizeof r->err, "%s: chunk at byte %" PRIu64 " (%zu bytes): cannot submit: %s%s",
                 sl->c.in->name, sl->c.offset, sl->c.len, fl_strerror(st),
                 st == FL_ETOOBIG ? " (over the message limit; use a smaller --chunk, "
                                    "or keep locality for words this long)" : "");
        return -1;
    }
    sl->by_ref = false;
    /* The node copied the bytes; a stream's copy is no longer needed. */
    if (sl->c.owned)
        fl__wci_release(&sl->c);
    return 0;
}

/* JSON string of an absolute path: escape what JSON requires. NULL when
 * the path is not valid text for JSON (control bytes); then bytes travel. */
static char *json_path(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(2 * n + 3);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '"';
    for (const char *q = path; *q; q++) {
        if ((unsigned char)*q < 0x20) {
            free(out);
            return NULL;
        }
        if (*q == '"' || *q == '\\')
            *p++ = '\\';
        *p++ = *q;
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

/* Submit a reference; 1 when the chunk cannot go by reference. */
static int submit_ref(struct run *r, struct slot *sl)
{
    const struct wc_input *in = sl->c.in;
    char *path = json_path(in->path);
    if (!path)
        return 1;
    size_t cap = strlen(path) + 320;
    char *kwargs = malloc(cap);
    if (!kwargs) {
        free(path);
        return 1;
    }
    snprintf(kwargs, cap,
             "{\"path\":%s,\"offset\":%" PRIu64 ",\"length\":%zu,\"size\":%" PRIu64
             ",\"mtime_s\":%lld,\"mtime_ns\":%ld,\"sample\":\"%016" PRIx64
             "\",\"min_length\":%zu}",
             path, sl->c.offset, sl->c.len, in->size, (long long)in->st.st_mtim.tv_sec,
             (long)in->st.st_mtim.tv_nsec, fl__wci_sample(&sl->c), r->o->min_length);
    fl_status st = fl_node_call(r->node, "wc.file", NULL, kwargs, NULL, 0, NULL, &sl->r);
    free(kwargs);
    free(path);
    if (st != FL_OK)
        return 1;
    sl->by_ref = true;
    return 0;
}

static bool goes_by_ref(const struct run *r, const struct slot *sl)
{
    const struct wc_input *in = sl->c.in;
    /* A chunk cut for a small node goes as bytes: a board reads no files. */
    return r->locality && !sl->force_bytes && in->path && in->map &&
           in->st.st_mtim.tv_sec >= 0 &&
           !(r->small_chunk && sl->c.len <= r->small_chunk);
}

static int submit(struct run *r, struct slot *sl)
{
    if (goes_by_ref(r, sl)) {
        int rc = submit_ref(r, sl);
        if (rc <= 0)
            return rc;
    }
    return submit_bytes(r, sl);
}

/* The size to aim at for the next chunk of in. */
static size_t usual_size(const struct run *r, const struct wc_input *in)
{
    if (r->o->chunk_set || in->map == NULL || !r->s->size_known)
        return r->o->chunk;
    uint64_t left = r->s->known_bytes - r->cut;
    uint64_t t = left / (2u * (r->slots_online ? r->slots_online : 2u));
    uint64_t max = r->locality ? ADAPT_MAX_REF : ADAPT_MAX_BYTES;
    return (size_t)(t < ADAPT_MIN ? ADAPT_MIN : t > max ? max : t);
}

static size_t target_size(const struct run *r, const struct wc_input *in)
{
    size_t t = usual_size(r, in);
    if (!r->small_chunk || !in->map || !r->s->size_known)
        return t;
    uint64_t left = r->s->known_bytes - r->cut;
    if (left <= r->small_tail)
        return r->small_chunk;
    /* Stop short of the tail, which is cut small. */
    uint64_t before = left - r->small_tail;
    return before < t ? (size_t)(before > r->small_chunk ? before : r->small_chunk) : t;
}

/* The next chunk of the inputs: 1, 0 when all are cut, -1 on error. */
static int next_chunk(struct run *r, struct wc_chunk *c)
{
    while (r->cur < r->ninputs) {
        struct wc_input *in = &r->inputs[r->cur];
        int rc = fl__wci_next(in, target_size(r, in), c, r->err, sizeof r->err);
        if (rc > 0 && in->map)
            r->cut += c->len;
        if (rc != 0)
            return rc;
        r->cur++;
    }
    return 0;
}

/* Queue c again in pieces of at most max bytes (cut at word boundaries).
 * Only chunks of mapped files can be cut again. 0, or -1 when c cannot be
 * cut that small (one word longer than max, or a stream's chunk). */
static int requeue(struct run *r, const struct slot *from, size_t max, bool force_bytes)
{
    const struct wc_chunk *c = &from->c;
    if (c->owned != NULL || (c->len > max && fl__wc_chunk_end(c->data, c->len, max, true) >= c->len))
        return -1;
    for (size_t pos = 0; pos < c->len;) {
        size_t k = fl__wc_chunk_end(c->data + pos, c->len - pos, max, true);
        if (r->npending == r->cap_pending) {
            size_t cap = r->cap_pending ? 2 * r->cap_pending : 16;
            struct slot *p = realloc(r->pending, cap * sizeof *p);
            if (!p)
                return -1;
            r->pending = p;
            r->cap_pending = cap;
        }
        struct slot *sl = &r->pending[r->npending++];
        memset(sl, 0, sizeof *sl);
        sl->c = *c;
        sl->c.offset = c->offset + pos;
        sl->c.data = c->data + pos;
        sl->c.len = k;
        sl->index = from->index;
        sl->force_bytes = force_bytes;
        pos += k;
    }
    return 0;
}

/* The next chunk to submit: a queued piece first, else a fresh chunk. */
static int take_chunk(struct run *r, struct slot *sl)
{
    if (r->npending > 0) {
        *sl = r->pending[0];
        memmove(r->pending, r->pending + 1, --r->npending * sizeof *r->pending);
        return 1;
    }
    if (r->inputs_done)
        return 0;
    int rc = next_chunk(r, &sl->c);
    if (rc == 0)
        r->inputs_done = true;
    else if (rc > 0)
        sl->index = r->next_index++;
    return rc;
}

static int fill_window(struct run *r)
{
    while (r->inflight < r->window) {
        struct slot *sl = &r->slots[r->inflight];
        memset(sl, 0, sizeof *sl);
        int rc = take_chunk(r, sl);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        /* Bytes that would not fit in a message travel in pieces. */
        if (sl->c.len > BYTES_MAX && !goes_by_ref(r, sl) &&
            requeue(r, sl, BYTES_MAX, sl->force_bytes) == 0)
            continue;
        if (submit(r, sl) != 0) {
            fl__wci_release(&sl->c);
            return -1;
        }
        r->inflight++;
    }
    return 0;
}

/* The record of node id, made (with no tasks yet) on first use; NULL when
 * out of memory. */
static struct wc_node_tasks *node_of(struct wc_stats *s, const char *id)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcmp(s->nodes[i].id, id) == 0)
            return &s->nodes[i];
    if (s->nnodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? 2 * s->cap_nodes : 8;
        struct wc_node_tasks *n = realloc(s->nodes, cap * sizeof *n);
        if (!n)
            return NULL;
        s->nodes = n;
        s->cap_nodes = cap;
    }
    struct wc_node_tasks *n = &s->nodes[s->nnodes++];
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    return n;
}

/* A Lua mapper's result: {word: count}, each count a whole number >= 1. */
static fl_status merge_object(fl_wc_table *t, const fl_value *v, char *why, size_t cap)
{
    if (fl_value_type(v) != FL_TYPE_OBJECT) {
        snprintf(why, cap, "expected an object {word: count}, got %s",
                 fl_type_name(fl_value_type(v)));
        return FL_EPROTO;
    }
    for (const fl_value *m = fl_value_first(v); m; m = fl_value_next(m)) {
        const char *word = fl_value_key(m);
        double n = fl_value_number(m);
        if (fl_value_type(m) != FL_TYPE_NUMBER || !(n >= 1) || n != (double)(uint64_t)n) {
            snprintf(why, cap, "the count of '%.40s' is not a whole number >= 1", word);
            return FL_EPROTO;
        }
        if (!word[0]) {
            snprintf(why, cap, "an empty word");
            return FL_EPROTO;
        }
        fl_status st = fl__wc_add(t, word, strlen(word), (uint64_t)n);
        if (st != FL_OK)
            return st;
    }
    return FL_OK;
}

static fl_status merge_partial(struct run *r, struct slot *sl, fl_wc_hint *hint,
                               uint64_t *words)
{
    size_t len = 0;
    const void *att = fl_result_attachment(sl->r, &len);
    return fl__wc_merge_from(r->t, hint, att, len, words, NULL);
}

static int merge(struct run *r, struct slot *sl)
{
    struct wc_node_tasks *node = node_of(r->s, fl_result_worker(sl->r));
    if (!node) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    uint64_t words = 0;
    char why[128] = "";
    fl_status st = r->o->map ? merge_object(r->t, fl_result_value(sl->r), why, sizeof why)
                             : merge_partial(r, sl, &node->hint, &words);
    if (st == FL_EINVAL && !why[0])
        snprintf(why, sizeof why, "a key that is not a lowercase word");
    if (st != FL_OK && why[0]) {
        snprintf(r->err, sizeof r->err,
                 "%s: chunk at byte %" PRIu64 ": bad result of %s from node %s: %s",
                 sl->c.in->name, sl->c.offset, r->o->map, fl_result_worker(sl->r), why);
        return -1;
    }
    if (st != FL_OK) {
        snprintf(r->err, sizeof r->err,
                 "%s: chunk at byte %" PRIu64 ": bad partial count from node %s: %s",
                 sl->c.in->name, sl->c.offset, fl_result_worker(sl->r), fl_strerror(st));
        return -1;
    }
    node->tasks++;
    if (sl->by_ref) {
        r->local_ok++;
        r->s->by_ref++;
    } else {
        r->s->by_bytes++;
    }
    r->s->chunks++;
    r->s->bytes += sl->c.len;
    return 0;
}

static bool falls_back(const struct slot *sl)
{
    const char *type = fl_result_error_type(sl->r);
    return sl->by_ref && type &&
           (strcmp(type, FL_WC_NOT_LOCAL) == 0 || strcmp(type, "UnknownTask") == 0);
}

/* A finished task: merge it, or send its bytes after NotLocal, or fail. */
static int finish(struct run *r, struct slot *sl)
{
    if (fl_result_state(sl->r) == FL_SUCCESS) {
        int rc = merge(r, sl);
        fl_result_free(sl->r);
        sl->r = NULL;
        fl__wci_release(&sl->c);
        return rc;
    }
    const char *type = fl_result_error_type(sl->r);
    bool too_big = type && strcmp(type, "ResultTooBig") == 0;
    if (falls_back(sl)) {
        if (r->o->verbose)
            fl_node_log(r->node, FL_LOG_INFO, "%s; sending the bytes",
                        fl_result_error_message(sl->r));
        r->s->fallbacks++;
        if (++r->not_local >= LOCALITY_GIVE_UP && r->local_ok == 0)
            r->locality = false;
        if (sl->c.len <= BYTES_MAX) {
            fl_result_free(sl->r);
            sl->r = NULL;
            return submit_bytes(r, sl) == 0 ? 1 : -1;
        }
        if (requeue(r, sl, BYTES_MAX, true) == 0)
            return 2;
    } else if (too_big && requeue(r, sl, (sl->c.len + 1) / 2, !sl->by_ref) == 0) {
        if (r->o->verbose)
            fl_node_log(r->node, FL_LOG_INFO, "%s; splitting the chunk",
                        fl_result_error_message(sl->r));
        return 2;
    }
    const char *msg = fl_result_error_message(sl->r);
    snprintf(r->err, sizeof r->err, "%s: chunk %" PRIu64 " (bytes %" PRIu64 "..%" PRIu64 ") failed: %s: %s",
             sl->c.in->name, sl->index, sl->c.offset, sl->c.offset + sl->c.len,
             type ? type : fl_state_name(fl_result_state(sl->r)), msg ? msg : "");
    return -1;
}

/* Finish every ready task, keeping the rest in order. 0, or -1. */
static int collect(struct run *r, size_t *finished)
{
    size_t keep = 0;
    int rc = 0;
    *finished = 0;
    for (size_t i = 0; i < r->inflight; i++) {
        struct slot *sl = &r->slots[i];
        if (rc == 0 && fl_result_ready(sl->r)) {
            /* 0 merged, 1 resubmitted in place, 2 queued again in pieces */
            int f = finish(r, sl);
            if (f < 0)
                rc = -1;
            if (f == 0 || f == 2) {
                (*finished)++;
                fl_result_free(sl->r);
                sl->r = NULL;
                continue;
            }
        }
        r->slots[keep++] = *sl;
    }
    r->inflight = keep;
    return rc;
}

static void progress(const struct run *r, double elapsed_s)
{
    fl_wordcount_progress p = {
        .bytes = r->s->bytes, .total_bytes = r->s->known_bytes,
        .size_known = r->s->size_known, .chunks = r->s->chunks, .elapsed_s = elapsed_s};
    r->o->progress(r->o->progress_ud, &p);
}

static void tick(struct run *r, size_t finished)
{
    double t = now_s();
    if (finished > 0) {
        r->last_result = t;
    } else if (!r->warned_idle && t - r->last_result > IDLE_WARN_S) {
        fl_node_log(r->node, FL_LOG_WARN, "no result for %.0f s; is a node that runs "
                    "%s online on cluster '%s'?", IDLE_WARN_S,
                    r->o->map ? r->o->map : "wc.map", r->node->cluster);
        r->warned_idle = true;
    }
    if (r->o->progress && t - r->last_progress >= PROGRESS_EVERY_S) {
        progress(r, t - r->t0);
        r->last_progress = t;
    }
}

/* Sleep until any task in flight ends (or POLL_MS, for the progress bar
 * and the idle warning): chunks finish out of order across nodes, and a
 * result left waiting behind a slower one delays both its merge and the
 * next chunk. */
static void wait_any(const struct run *r)
{
    fl_result *rs[MAX_WINDOW];
    size_t n = 0, first;
    for (size_t i = 0; i < r->inflight && n < MAX_WINDOW; i++)
        rs[n++] = r->slots[i].r;
    if (n > 0)
        (void)fl_result_wait_any(rs, n, POLL_MS, &first);
}

/* The window and the chunk sizes follow the cluster as presence tells:
 * right after connecting, the nodes' presence may not all be in yet. */
static int follow_cluster(struct run *r)
{
    double t = now_s();
    if (t - r->last_census < CENSUS_EVERY_S)
        return 0;
    r->last_census = t;
    bool file_task;
    size_t slots = cluster_slots(r, r->o->map ? r->o->map : "wc.map", &file_task);
    if (slots == r->slots_online)
        return 0;
    r->slots_online = slots;
    follow_small_nodes(r);
    size_t w = pick_window(r, slots);
    if (w > r->window) {
        struct slot *more = realloc(r->slots, w * sizeof *more);
        if (!more) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        r->slots = more;
    }
    r->window = w;
    return 0;
}

static int loop(struct run *r)
{
    for (;;) {
        if (follow_cluster(r) != 0 || fill_window(r) != 0)
            return -1;
        if (r->inflight == 0)
            return 0;
        size_t finished = 0;
        if (collect(r, &finished) != 0)
            return -1;
        if (finished == 0 && r->inflight > 0)
            wait_any(r);
        tick(r, finished);
    }
}

static int open_inputs(struct run *r)
{
    r->inputs = calloc((size_t)r->ninputs, sizeof *r->inputs);
    if (!r->inputs) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    r->s->size_known = true;
    for (int i = 0; i < r->ninputs; i++) {
        const char *name = r->nfiles > 0 ? r->files[i] : "-";
        if (fl__wci_open(&r->inputs[i], name, r->err, sizeof r->err) != 0) {
            r->ninputs = i;
            return -1;
        }
        if (r->inputs[i].map || r->inputs[i].path)
            r->s->known_bytes += r->inputs[i].size;
        else
            r->s->size_known = false;
    }
    return 0;
}

static void cleanup(struct run *r)
{
    free(r->pending);
    for (size_t i = 0; i < r->inflight; i++) {
        fl_result_free(r->slots[i].r);
        fl__wci_release(&r->slots[i].c);
    }
    for (int i = 0; i < r->ninputs; i++)
        fl__wci_close(&r->inputs[i]);
    free(r->inputs);
    free(r->slots);
}

/* The options with their defaults; NULL when they are out of range. */
static const char *take_options(const fl_wordcount_options *in, struct wc_opts *o)
{
    memset(o, 0, sizeof *o);
    if (in->chunk > MAX_CHUNK)
        return "chunk: over 64 MiB";
    if (in->map && !*in->map)
        return "map: empty (NULL for the native wc.map)";
    o->min_length = in->min_length ? in->min_length : 1;
    o->chunk_set = in->chunk != 0;
    o->chunk = in->chunk ? in->chunk : DEFAULT_CHUNK;
    o->map = in->map;
    o->locality = in->locality && !in->map; /* a Lua mapper gets the bytes */
    o->verbose = in->verbose;
    o->progress = in->progress;
    o->progress_ud = in->progress_ud;
    return NULL;
}

fl_status fl__wc_run(fl_node *node, const char *const *files, size_t nfiles,
                     const fl_wordcount_options *opt, fl_wc_table *t, struct wc_stats *s,
                     char *err, size_t errlen)
{
    struct run r;
    struct wc_opts o;
    const char *bad = take_options(opt, &o);
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return FL_EINVAL;
    }
    if (nfiles > (size_t)INT32_MAX) {
        snprintf(err, errlen, "files: too many");
        return FL_EINVAL;
    }
    memset(&r, 0, sizeof r);
    r.node = node;
    r.o = &o;
    r.files = files;
    r.nfiles = nfiles;
    r.t = t;
    r.s = s;
    r.ninputs = nfiles > 0 ? (int)nfiles : 1;
    r.peers = malloc(PEERS_CAP * sizeof *r.peers);
    if (!r.peers) {
        snprintf(err, errlen, "out of memory");
        return FL_ENOMEM;
    }
    bool file_task = false;
    size_t slots = cluster_slots(&r, o.map ? o.map : "wc.map", &file_task);
    r.locality = o.locality && (file_task || slots == 0);
    r.window = pick_window(&r, slots);
    r.slots_online = slots;
    follow_small_nodes(&r);
    int rc = open_inputs(&r);
    /* An input that cannot be opened is an I/O error; after that, a
     * chunk that failed (or a broken partial count). */
    fl_status st = rc == 0 ? FL_OK : FL_EIO;
    r.slots = calloc(r.window, sizeof *r.slots);
    if (rc == 0 && !r.slots) {
        snprintf(r.err, sizeof r.err, "out of memory");
        rc = -1;
        st = FL_ENOMEM;
    }
    r.t0 = r.last_result = r.last_census = now_s();
    if (rc == 0 && (rc = loop(&r)) != 0)
        st = strcmp(r.err, "out of memory") == 0 ? FL_ENOMEM : FL_ETASK;
    s->elapsed_s = now_s() - r.t0;
    if (rc != 0)
        snprintf(err, errlen, "%s", r.err);
    cleanup(&r);
    free(r.peers);
    return rc == 0 ? FL_OK : st;
}
