/*
 * fuzz_codec.c - the codec's fuzz harness (libFuzzer entry point).
 *
 * Any bytes are decoded as a payload, by fl__decode and by the cJSON tree
 * alone, which must agree; whatever decodes is written again
 * with the writer and must decode to the same message (so the writer never
 * produces what the decoder refuses, and nothing is lost in between). Any
 * bytes are also parsed as a JSON value; whatever parses must print, and
 * the printed text must parse and print to the same text. A broken
 * property aborts, which libFuzzer and the replay driver report as a crash.
 * Depends on codec.h and the public header; no I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "defaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                    \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "fuzz_codec: %s:%d: REQUIRE(%s) failed\n",   \
                    __FILE__, __LINE__, #cond);                          \
            abort();                                                     \
        }                                                                \
    } while (0)

static void encode_error(fl_jw *w, const char *type, const char *message,
                         const bool *retryable)
{
    fl__jw_obj(w, "error");
    fl__jw_str(w, "type", type);
    fl__jw_str(w, "message", message);
    if (retryable)
        fl__jw_bool(w, "retryable", *retryable);
    fl__jw_end_obj(w);
}

static void encode_task(fl_jw *w, const fl_msg_task *t)
{
    fl__jw_obj(w, NULL);
    fl__jw_u64(w, "id", t->id);
    fl__jw_str(w, "name", t->name);
    fl__jw_value(w, "args", t->args);
    fl__jw_value(w, "kwargs", t->kwargs);
    fl__jw_u64(w, "attempt", t->attempt);
    if (t->time_limit_ms)
        fl__jw_u64(w, "time_limit_ms", t->time_limit_ms);
    if (t->att_len)
        fl__jw_att(w, "att", t->att, t->att_len);
    fl__jw_end_obj(w);
}

static void encode_result(fl_jw *w, const fl_msg_result *r)
{
    fl__jw_obj(w, NULL);
    fl__jw_u64(w, "id", r->id);
    fl__jw_u64(w, "attempt", r->attempt);
    fl__jw_bool(w, "ok", r->ok);
    if (r->ok) {
        if (r->value)
            fl__jw_value(w, "value", r->value);
        if (r->att_len)
            fl__jw_att(w, "att", r->att, r->att_len);
    } else {
        encode_error(w, r->err_type, r->err_message, &r->retryable);
    }
    fl__jw_end_obj(w);
}

/* Members the writer puts in every message (or, rid, a schedule's first):
 * the rest of a schedule is copied from its m->value. */
static bool envelope_key(const char *k)
{
    static const char *const keys[] = {"v", "kind", "from", "inc", "mid",
                                       "rid", "bin"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

/* Write m back as a payload, the way a node would send it. */
static void encode(fl_jw *w, const fl_msg *m)
{
    fl__jw_begin_msg(w, m->kind, m->from, m->inc);
    if (m->has_mid)
        fl__jw_u64(w, "mid", m->mid);
    switch (m->kind) {
    case FL_KIND_PRESENCE:
        fl__jw_str(w, "state", m->online ? "online" : "offline");
        fl__jw_u64(w, "slots", m->slots);
        fl__jw_u64(w, "load", m->load);
        if (m->runtime)
            fl__jw_str(w, "runtime", m->runtime);
        if (m->arch)
            fl__jw_str(w, "arch", m->arch);
        if (m->version)
            fl__jw_str(w, "version", m->version);
        fl__jw_arr(w, "tasks");
        for (size_t i = 0; i < m->ntask_names; i++)
            fl__jw_str(w, NULL, m->task_names[i]);
        fl__jw_end_arr(w);
        if (m->durable)
            fl__jw_bool(w, "durable", true);
        if (m->ntags) {
            fl__jw_arr(w, "tags");
            for (size_t i = 0; i < m->ntags; i++)
                fl__jw_str(w, NULL, m->tags[i]);
            fl__jw_end_arr(w);
        }
        break;
    case FL_KIND_WORK:
        fl__jw_u64(w, "pending", m->pending);
        break;
    case FL_KIND_FETCH:
        fl__jw_u64(w, "fid", m->fid);
        fl__jw_u64(w, "credit", m->credit);
        break;
    case FL_KIND_LEASE:
        fl__jw_u64(w, "fid", m->fid);
        fl__jw_u64(w, "ttl_ms", m->ttl_ms);
        if (m->track_started)
            fl__jw_bool(w, "track_started", true);
        fl__jw_arr(w, "tasks");
        for (size_t i = 0; i < m->ntasks; i++)
            encode_task(w, &m->tasks[i]);
        fl__jw_end_arr(w);
        break;
    case FL_KIND_DONE:
        fl__jw_arr(w, "results");
        for (size_t i = 0; i < m->nresults; i++)
            encode_result(w, &m->results[i]);
        fl__jw_end_arr(w);
        break;
    case FL_KIND_REVOKE:
        if (m->terminate)
            fl__jw_bool(w, "terminate", true);
        if (!m->nids) {
            fl__jw_u64(w, "rid", m->rid);
            fl__jw_u64(w, "id", m->wid);
            break;
        }
        /* fall through */
    case FL_KIND_EXTEND:
    case FL_KIND_RELEASE:
    case FL_KIND_STARTED:
        fl__jw_arr(w, "ids");
        for (size_t i = 0; i < m->nids; i++)
            fl__jw_u64(w, NULL, m->ids[i]);
        fl__jw_end_arr(w);
        break;
    case FL_KIND_CHECK:
    case FL_KIND_HOLDING:
        if (m->has_cid)
            fl__jw_u64(w, "cid", m->cid);
        fl__jw_arr(w, "ids");
        for (size_t i = 0; i < m->nids; i++)
            fl__jw_u64(w, NULL, m->ids[i]);
        fl__jw_end_arr(w);
        if (m->kind == FL_KIND_HOLDING && m->nmissing) {
            fl__jw_arr(w, "missing");
            for (size_t i = 0; i < m->nmissing; i++)
                fl__jw_u64(w, NULL, m->missing[i]);
            fl__jw_end_arr(w);
        }
        break;
    case FL_KIND_PING:
        break;
    case FL_KIND_PONG:
        if (m->has_re)
            fl__jw_u64(w, "re", m->re);
        break;
    case FL_KIND_ERROR:
        if (m->has_re)
            fl__jw_u64(w, "re", m->re);
        encode_error(w, m->err_type, m->err_message, NULL);
        break;
    case FL_KIND_SUBMIT:
        fl__jw_u64(w, "rid", m->rid);
        fl__jw_value(w, "canvas", m->canvas);
        break;
    case FL_KIND_WATCH:
        fl__jw_u64(w, "ttl_ms", m->ttl_ms);
        break;
    case FL_KIND_SCHEDULE:
        /* The codec reads only rid; the rest goes through as the whole
         * message (m->value), compared member by member below. */
        fl__jw_u64(w, "rid", m->rid);
        for (const fl_value *x = fl_value_first(m->value); x; x = fl_value_next(x))
            if (!envelope_key(fl_value_key(x)))
                fl__jw_value(w, fl_value_key(x), x);
        break;
    case FL_KIND_STATS:
    case FL_KIND_EVENTS:
    case FL_KIND_ANSWER:
        break; /* no members the codec reads */
    case FL_KIND_SUBMITTED:
    case FL_KIND_QUERY:
        fl__jw_u64(w, "rid", m->rid);
        fl__jw_u64(w, "id", m->wid);
        if (m->now)
            fl__jw_bool(w, "now", true);
        break;
    case FL_KIND_RESULT:
        fl__jw_u64(w, "rid", m->rid);
        fl__jw_u64(w, "id", m->wid);
        fl__jw_str(w, "state", m->state);
        if (m->node)
            fl__jw_str(w, "node", m->node);
        fl__jw_u64(w, "attempts", m->attempts);
        fl__jw_u64(w, "submitted_ms", m->submitted_ms);
        fl__jw_u64(w, "started_ms", m->started_ms);
        fl__jw_u64(w, "ended_ms", m->ended_ms);
        if (strcmp(m->state, "SUCCESS") == 0) {
            if (m->value)
                fl__jw_value(w, "value", m->value);
        } else if (strcmp(m->state, "FAILURE") == 0 ||
                   strcmp(m->state, "REVOKED") == 0) {
            encode_error(w, m->err_type, m->err_message, NULL);
        }
        break;
    }
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

/* Two values are the same when they print the same. */
static bool same_value(const fl_value *a, const fl_value *b)
{
    char *sa = fl_value_to_json(a, NULL), *sb = fl_value_to_json(b, NULL);
    REQUIRE(sa && sb);
    bool same = strcmp(sa, sb) == 0;
    fl_free(sa);
    fl_free(sb);
    return same;
}

/* A schedule's members beyond the envelope, the same in a and b. */
static bool same_body(const fl_value *a, const fl_value *b)
{
    size_t na = 0, nb = 0;
    for (const fl_value *x = fl_value_first(a); x; x = fl_value_next(x)) {
        if (envelope_key(fl_value_key(x)))
            continue;
        na++;
        const fl_value *y = fl_value_get(b, fl_value_key(x));
        if (!y || !same_value(x, y))
            return false;
    }
    for (const fl_value *y = fl_value_first(b); y; y = fl_value_next(y))
        nb += !envelope_key(fl_value_key(y));
    return na == nb;
}

static void require_same(const fl_msg *a, const fl_msg *b)
{
    REQUIRE(a->kind == b->kind);
    REQUIRE(same_str(a->from, b->from));
    REQUIRE(a->inc == b->inc && a->has_mid == b->has_mid && a->mid == b->mid);
    REQUIRE(a->fid == b->fid && a->credit == b->credit && a->ttl_ms == b->ttl_ms);
    REQUIRE(a->track_started == b->track_started && a->now == b->now);
    REQUIRE(a->durable == b->durable && same_str(a->node, b->node));
    REQUIRE(a->attempts == b->attempts && a->submitted_ms == b->submitted_ms);
    REQUIRE(a->started_ms == b->started_ms && a->ended_ms == b->ended_ms);
    REQUIRE(a->pending == b->pending);
    REQUIRE(a->online == b->online && a->slots == b->slots && a->load == b->load);
    REQUIRE(same_str(a->runtime, b->runtime) && same_str(a->arch, b->arch));
    REQUIRE(same_str(a->version, b->version));
    REQUIRE(a->ntask_names == b->ntask_names);
    for (size_t i = 0; i < a->ntask_names; i++)
        REQUIRE(same_str(a->task_names[i], b->task_names[i]));
    REQUIRE(a->ntasks == b->ntasks);
    for (size_t i = 0; i < a->ntasks; i++) {
        const fl_msg_task *x = &a->tasks[i], *y = &b->tasks[i];
        REQUIRE(x->id == y->id && x->attempt == y->attempt);
        REQUIRE(x->time_limit_ms == y->time_limit_ms);
        REQUIRE(same_str(x->name, y->name));
        REQUIRE(same_value(x->args, y->args) && same_value(x->kwargs, y->kwargs));
        REQUIRE(fl_value_type(x->args) == FL_TYPE_ARRAY);
        REQUIRE(fl_value_type(x->kwargs) == FL_TYPE_OBJECT);
        REQUIRE(same_bytes(x->att, x->att_len, y->att, y->att_len));
    }
    REQUIRE(a->nresults == b->nresults);
    for (size_t i = 0; i < a->nresults; i++) {
        const fl_msg_result *x = &a->results[i], *y = &b->results[i];
        REQUIRE(x->id == y->id && x->attempt == y->attempt && x->ok == y->ok);
        REQUIRE(same_value(x->value, y->value));
        REQUIRE(same_bytes(x->att, x->att_len, y->att, y->att_len));
        REQUIRE(same_str(x->err_type, y->err_type));
        REQUIRE(same_str(x->err_message, y->err_message));
        REQUIRE(x->retryable == y->retryable);
    }
    REQUIRE(a->nids == b->nids);
    for (size_t i = 0; i < a->nids; i++)
        REQUIRE(a->ids[i] == b->ids[i]);
    REQUIRE(a->has_cid == b->has_cid && a->cid == b->cid);
    REQUIRE(a->nmissing == b->nmissing);
    for (size_t i = 0; i < a->nmissing; i++)
        REQUIRE(a->missing[i] == b->missing[i]);
    REQUIRE(a->ntags == b->ntags);
    for (size_t i = 0; i < a->ntags; i++)
        REQUIRE(same_str(a->tags[i], b->tags[i]));
    REQUIRE(a->rid == b->rid && a->wid == b->wid);
    REQUIRE((!a->canvas && !b->canvas) ||
            (a->canvas && b->canvas && same_value(a->canvas, b->canvas)));
    if (a->kind == FL_KIND_SCHEDULE)
        REQUIRE(same_body(a->value, b->value));
    else
        REQUIRE((!a->value && !b->value) ||
                (a->value && b->value && same_value(a->value, b->value)));
    REQUIRE(same_str(a->state, b->state));
    REQUIRE(a->has_re == b->has_re && a->re == b->re);
    REQUIRE(same_str(a->err_type, b->err_type));
    REQUIRE(same_str(a->err_message, b->err_message));
}

/* fl__decode reads lease and done with codec_fast.c when it can; the
 * cJSON tree alone must come to the same message, or the same refusal in
 * the same words. */
static void require_same_as_tree(const uint8_t *data, size_t size,
                                 fl_status st, const fl_msg *m,
                                 const char *err, const char *from)
{
    char terr[256], tfrom[FL_MAX_ID_BUF];
    fl_msg *t = NULL;
    fl_status tst = fl__decode_tree(data, size, FL_DEFAULT_MAX_MESSAGE, &t, terr,
                                    sizeof terr, tfrom, sizeof tfrom);
    if (tst != st)
        fprintf(stderr, "fuzz_codec: fast path %d, tree %d (%s)\n", (int)st,
                (int)tst, terr);
    REQUIRE(tst == st);
    REQUIRE(strcmp(tfrom, from) == 0);
    if (st != FL_OK) {
        REQUIRE(strcmp(terr, err) == 0);
        return;
    }
    require_same(m, t);
    fl__msg_free(t);
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
    char err[256], from[FL_MAX_ID_BUF];
    fl_msg *m = NULL;
    fl_status st = fl__decode(data, size, FL_DEFAULT_MAX_MESSAGE, &m, err,
                              sizeof err, from, sizeof from);
    require_same_as_tree(data, size, st, m, err, from);
    /* The head scanner reads any bytes, and only ever a valid id. */
    fl_msg_head head;
    fl__scan_head(data, size, &head);
    REQUIRE(head.from[0] == '\0' || fl__valid_id(head.from));
    if (st != FL_OK) {
        REQUIRE(m == NULL);
        REQUIRE(st == FL_EPROTO || st == FL_ETOOBIG || st == FL_ENOMEM);
        REQUIRE(err[0] != '\0');
        REQUIRE(from[0] == '\0' || fl__valid_id(from));
        return;
    }
    REQUIRE(m != NULL && fl__valid_id(m->from));

    fl_jw w;
    const void *p;
    size_t n;
    fl__jw_init(&w);
    encode(&w, m);
    size_t predicted = fl__jw_size(&w);
    REQUIRE(fl__jw_finish(&w, &p, &n) == FL_OK);
    REQUIRE(n == predicted);

    fl_msg *again = NULL;
    st = fl__decode(p, n, FL_DEFAULT_MAX_MESSAGE, &again, err, sizeof err, NULL, 0);
    if (st != FL_OK)
        fprintf(stderr, "fuzz_codec: re-encoded message refused: %s\n", err);
    REQUIRE(st == FL_OK);
    require_same(m, again);
    fl__msg_free(again);
    fl__msg_free(m);
    fl__jw_free(&w);
}

static void fuzz_value(const uint8_t *data, size_t size)
{
    fl_value *v = NULL;
    fl_status st = fl_value_parse((const char *)data, size, &v);
    fl_status checked = fl__check_json((const char *)data, size, -1, NULL, 0);
    REQUIRE(checked == st);
    if (st != FL_OK) {
        REQUIRE(v == NULL && (st == FL_EINVAL || st == FL_ETOOBIG));
        return;
    }
    size_t n1 = 0, n2 = 0;
    char *s1 = fl_value_to_json(v, &n1);
    REQUIRE(s1 != NULL && strlen(s1) == n1);
    fl_value *v2 = NULL;
    REQUIRE(fl_value_parse(s1, n1, &v2) == FL_OK);
    char *s2 = fl_value_to_json(v2, &n2);
    REQUIRE(s2 != NULL && n1 == n2 && memcmp(s1, s2, n1) == 0);
    REQUIRE(fl_value_type(v) == fl_value_type(v2));
    REQUIRE(fl_value_count(v) == fl_value_count(v2));
    fl_free(s1);
    fl_free(s2);
    fl_value_free(v);
    fl_value_free(v2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decode(data, size);
    fuzz_value(data, size);
    return 0;
}
