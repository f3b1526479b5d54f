/*
 * codec_fast.c - a second decoder for the two messages on floret's hot
 * path, `lease` (owner -> worker) and `done` (worker -> owner), that reads
 * their envelope straight from the text. The general decoder (codec.c)
 * first builds a cJSON tree of the whole message: every object, member and
 * key is an allocation, about ten per task of a burst, and in a client
 * waiting for thousands of small results that malloc was the largest cost.
 *
 * It accepts a plain subset of what the general decoder accepts: members
 * it knows, each once; integers as plain digits; strings without escapes;
 * outcomes that succeeded. Anything else (an error outcome, an escape, a
 * repeated or unknown member, 1.0 for 1, a lie about the attachment)
 * makes it give up, and the message goes through the general decoder,
 * which alone writes reasons. So it changes neither what is accepted nor
 * how a rejection reads; the unit tests and the fuzzer hold the two
 * decoders to the same result on the same bytes.
 *
 * args, kwargs and result values are still parsed by value.c, each as a
 * small document of its own; the same guard pass over the whole text that
 * the general decoder's parse makes decides at the end. The reader itself
 * is safe on any bytes: bounded loops, no recursion.
 *
 * Also here, in the same spirit: a check that JSON text given to
 * fl_node_call is valid without building its tree, for text in a plain
 * subset that every JSON parser accepts (fl__json_plain).
 * Depends on codec.h, alloc.h, defaults.h; no cJSON.
 */
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "defaults.h"
#include "rate.h"

typedef struct rd {
    const char *p, *end;
    bool oom; /* gave up for want of memory, not because of the text */
} rd;

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(rd *r)
{
    while (r->p < r->end && space(*r->p))
        r->p++;
}

static bool eat(rd *r, char c)
{
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

/* A string without escapes; its bytes are [*s, *s + *n). */
static bool plain_str(rd *r, const char **s, size_t *n)
{
    if (!eat(r, '"'))
        return false;
    const char *q = memchr(r->p, '"', (size_t)(r->end - r->p));
    if (!q || memchr(r->p, '\\', (size_t)(q - r->p)))
        return false;
    *s = r->p;
    *n = (size_t)(q - r->p);
    r->p = q + 1;
    return true;
}

/* "key": -- the key's bytes, and the reader left at its value. */
static bool member_key(rd *r, const char **k, size_t *n)
{
    return plain_str(r, k, n) && eat(r, ':');
}

/* 0 <= n < 2^53 written as plain digits, as floret's writer does. */
static bool plain_uint(rd *r, uint64_t max, uint64_t *out)
{
    skip_space(r);
    const char *b = r->p;
    uint64_t x = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && r->p - b < 16)
        x = x * 10 + (uint64_t)(*r->p++ - '0');
    size_t n = (size_t)(r->p - b);
    if (n == 0 || (n > 1 && *b == '0') || x >= ((uint64_t)1 << 53) || x > max)
        return false;
    if (r->p < r->end) {
        char c = *r->p;
        if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
            c == '+' || c == '-')
            return false;
    }
    *out = x;
    return true;
}

static bool plain_u32(rd *r, uint32_t min, uint32_t *out)
{
    uint64_t x;
    if (!plain_uint(r, UINT32_MAX, &x) || x < min)
        return false;
    *out = (uint32_t)x;
    return true;
}

static bool plain_bool(rd *r, bool *out)
{
    skip_space(r);
    size_t left = (size_t)(r->end - r->p);
    if (left >= 4 && memcmp(r->p, "true", 4) == 0) {
        r->p += 4;
        *out = true;
        return true;
    }
    if (left >= 5 && memcmp(r->p, "false", 5) == 0) {
        r->p += 5;
        *out = false;
        return true;
    }
    return false;
}

/* Where the JSON value at the reader ends. Only a boundary: strings skip
 * their escapes and brackets nest, a scalar stops at the first delimiter;
 * whether the span is JSON is for the parser to say. */
static bool value_span(rd *r, const char **s, size_t *n)
{
    skip_space(r);
    const char *b = r->p;
    /* Only what can start a value: some cJSON versions skip a byte-order
     * mark at the start of a document, which no value inside one may carry. */
    if (b == r->end || *b == '\0' || !strchr("\"{[-0123456789tfn", *b))
        return false;
    unsigned depth = 0;
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '"') {
            for (r->p++; r->p < r->end && *r->p != '"'; r->p++)
                if (*r->p == '\\' && r->p + 1 < r->end)
                    r->p++;
            if (r->p >= r->end)
                return false;
            r->p++;
            if (depth == 0)
                break;
            continue;
        }
        if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                break;
            if (--depth == 0) {
                r->p++;
                break;
            }
        } else if (depth == 0 && (c == ',' || space(c))) {
            break;
        }
        r->p++;
    }
    *s = b;
    *n = (size_t)(r->p - b);
    return *n > 0 && depth == 0;
}

/* The next value, parsed by value.c; want >= 0 asks for that fl_type. */
static bool parsed_value(rd *r, int want, fl_value **out)
{
    const char *s;
    size_t n;
    fl_value *v;
    if (!value_span(r, &s, &n))
        return false;
    fl_status st = fl__json_parse(s, n, n, &v, NULL);
    if (st != FL_OK) {
        r->oom = st == FL_ENOMEM;
        return false;
    }
    if (want >= 0 && fl_value_type(v) != (fl_type)want) {
        fl_value_free(v);
        return false;
    }
    *out = v;
    return true;
}

static bool empty_container(rd *r, int want, fl_value **out)
{
    const char *text = want == FL_TYPE_ARRAY ? "[]" : "{}";
    if (fl__json_parse(text, 2, 2, out, NULL) == FL_OK)
        return true;
    r->oom = true;
    return false;
}

/* "att": [offset, length] inside the attachment. */
static bool att_range(rd *r, const uint8_t *att, size_t att_len,
                      const uint8_t **p, size_t *len)
{
    uint64_t off, n;
    if (!eat(r, '[') || !plain_uint(r, UINT64_MAX, &off) || !eat(r, ',') ||
        !plain_uint(r, UINT64_MAX, &n) || !eat(r, ']'))
        return false;
    if (off > att_len || n > att_len - off)
        return false;
    *p = n ? att + off : NULL;
    *len = (size_t)n;
    return true;
}

/* Index of key among names, or -1. */
static int key_index(const char *k, size_t n, const char *const *names,
                     int count)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return i;
    return -1;
}

/* Reads members until '}', calling one(index) for each known key once;
 * the reader starts just after '{'. */
typedef bool (*member_fn)(rd *r, int key, void *ctx);

static bool members(rd *r, const char *const *names, int count, unsigned *seen,
                    member_fn one, void *ctx)
{
    *seen = 0;
    if (eat(r, '}'))
        return true;
    do {
        const char *k;
        size_t n;
        if (!member_key(r, &k, &n))
            return false;
        int i = key_index(k, n, names, count);
        if (i < 0 || (*seen & (1u << i)))
            return false;
        *seen |= 1u << i;
        if (!one(r, i, ctx))
            return false;
    } while (eat(r, ','));
    return eat(r, '}');
}

typedef struct att_ref {
    const uint8_t *att;
    size_t att_len;
} att_ref;

/* ---------------------------------------------------- a done's outcome */

enum { R_ID, R_ATTEMPT, R_OK, R_VALUE, R_ATT, R_US, R_COUNT };
static const char *const result_keys[R_COUNT] = {"id", "attempt", "ok", "value",
                                                 "att", "us"};

typedef struct result_ctx {
    fl_msg_result *res;
    att_ref a;
} result_ctx;

static bool result_member(rd *r, int key, void *ctx)
{
    result_ctx *c = ctx;
    fl_msg_result *res = c->res;
    switch (key) {
    case R_ID: return plain_uint(r, UINT64_MAX, &res->id);
    case R_ATTEMPT: return plain_u32(r, 1, &res->attempt);
    case R_OK: return plain_bool(r, &res->ok) && res->ok;
    case R_VALUE: return parsed_value(r, -1, &res->value);
    case R_ATT: return att_range(r, c->a.att, c->a.att_len, &res->att, &res->att_len);
    case R_US: return plain_uint(r, UINT64_MAX, &res->run_us);
    }
    return false;
}

static bool result_entry(rd *r, fl_msg_result *res, att_ref a)
{
    result_ctx c = {res, a};
    unsigned seen = 0;
    const unsigned need = 1u << R_ID | 1u << R_ATTEMPT | 1u << R_OK;
    return eat(r, '{') &&
           members(r, result_keys, R_COUNT, &seen, result_member, &c) &&
           (seen & need) == need;
}

/* ------------------------------------------------------ a lease's task */

enum { T_ID, T_NAME, T_ARGS, T_KWARGS, T_ATTEMPT, T_LIMIT, T_ATT, T_SOFT,
       T_RATE, T_COUNT };
static const char *const task_keys[T_COUNT] = {
    "id", "name", "args", "kwargs", "attempt", "time_limit_ms", "att",
    "soft_time_limit_ms", "rate_limit"};

typedef struct task_ctx {
    fl_msg_task *task;
    att_ref a;
} task_ctx;

/* A node id or task name: 1..FL_MAX_ID bytes of [A-Za-z0-9_.-]. */
static bool plain_id(rd *r, char **out)
{
    const char *s;
    size_t n;
    if (!plain_str(r, &s, &n) || n == 0 || n > FL_MAX_ID)
        return false;
    char *name = fl__strndup(s, n);
    if (!name) {
        r->oom = true;
        return false;
    }
    if (!fl__valid_id(name)) {
        fl__free(name);
        return false;
    }
    *out = name;
    return true;
}

/* A rate limit spec as its interval (a bad one: the general decoder
 * says why). */
static bool plain_rate(rd *r, uint32_t *out)
{
    const char *s;
    size_t n;
    fl_rate_spec spec;
    if (!plain_str(r, &s, &n) || !fl__rate_parse(s, n, &spec))
        return false;
    *out = (uint32_t)fl__rate_interval_us(spec); /* at most an hour */
    return true;
}

static bool task_member(rd *r, int key, void *ctx)
{
    task_ctx *c = ctx;
    fl_msg_task *t = c->task;
    switch (key) {
    case T_ID: return plain_uint(r, UINT64_MAX, &t->id);
    case T_NAME: return plain_id(r, &t->name);
    case T_ARGS: return parsed_value(r, FL_TYPE_ARRAY, &t->args);
    case T_KWARGS: return parsed_value(r, FL_TYPE_OBJECT, &t->kwargs);
    case T_ATTEMPT: return plain_u32(r, 1, &t->attempt);
    case T_LIMIT: return plain_u32(r, 0, &t->time_limit_ms);
    case T_ATT: return att_range(r, c->a.att, c->a.att_len, &t->att, &t->att_len);
    case T_SOFT: return plain_u32(r, 0, &t->soft_time_limit_ms);
    case T_RATE: return plain_rate(r, &t->rate_us);
    }
    return false;
}

static bool task_entry(rd *r, fl_msg_task *t, att_ref a)
{
    task_ctx c = {t, a};
    unsigned seen = 0;
    const unsigned need = 1u << T_ID | 1u << T_NAME | 1u << T_ATTEMPT;
    return eat(r, '{') &&
           members(r, task_keys, T_COUNT, &seen, task_member, &c) &&
           (seen & need) == need &&
           (t->args || empty_container(r, FL_TYPE_ARRAY, &t->args)) &&
           (t->kwargs || empty_container(r, FL_TYPE_OBJECT, &t->kwargs));
}

/* -------------------------------------------------------- the envelope */

/* The array arr of n entries of size bytes, with room for one more. Its
 * capacity follows from n (16, then doubling, at most FL_MAX_BATCH), so it
 * grows exactly when n reaches it. NULL when full or out of memory. */
static void *room_for_one(rd *r, void *arr, size_t n, size_t size)
{
    if (n >= FL_MAX_BATCH)
        return NULL;
    if (n != 0 && (n < 16 || (n & (n - 1)) != 0))
        return arr;
    size_t cap = n ? 2 * n : 16;
    if (cap > FL_MAX_BATCH)
        cap = FL_MAX_BATCH;
    void *grown = fl__realloc(arr, cap * size);
    if (!grown)
        r->oom = true;
    return grown;
}

/* Each entry is counted as soon as it is started, so fl__msg_free frees a
 * half-read one too. */
static bool next_task(rd *r, fl_msg *m, att_ref a)
{
    fl_msg_task *tasks = room_for_one(r, m->tasks, m->ntasks, sizeof *tasks);
    if (!tasks)
        return false;
    m->tasks = tasks;
    fl_msg_task *t = &tasks[m->ntasks++];
    memset(t, 0, sizeof *t);
    return task_entry(r, t, a);
}

static bool next_result(rd *r, fl_msg *m, att_ref a)
{
    fl_msg_result *results = room_for_one(r, m->results, m->nresults, sizeof *results);
    if (!results)
        return false;
    m->results = results;
    fl_msg_result *res = &results[m->nresults++];
    memset(res, 0, sizeof *res);
    return result_entry(r, res, a);
}

/* results or tasks: 1 to FL_MAX_BATCH entries, each read by next. */
static bool entries(rd *r, fl_msg *m, bool (*next)(rd *, fl_msg *, att_ref),
                    att_ref a)
{
    if (!eat(r, '[') || eat(r, ']'))
        return false;
    do {
        if (!next(r, m, a))
            return false;
    } while (eat(r, ','));
    return eat(r, ']');
}

enum { M_V, M_KIND, M_FROM, M_INC, M_MID, M_BIN, M_RESULTS, M_FID, M_TTL,
       M_TASKS, M_TRACK, M_COUNT };
static const char *const msg_keys[M_COUNT] = {
    "v", "kind", "from", "inc", "mid", "bin", "results", "fid", "ttl_ms", "tasks",
    "track_started"};

typedef struct msg_ctx {
    fl_msg *m;
    att_ref a;
    uint64_t v, bin;
} msg_ctx;

static bool msg_kind(rd *r, fl_kind *kind)
{
    const char *s;
    size_t n;
    if (!plain_str(r, &s, &n))
        return false;
    if (n == 4 && memcmp(s, "done", 4) == 0)
        *kind = FL_KIND_DONE;
    else if (n == 5 && memcmp(s, "lease", 5) == 0)
        *kind = FL_KIND_LEASE;
    else
        return false;
    return true;
}

static bool msg_member(rd *r, int key, void *ctx)
{
    msg_ctx *c = ctx;
    fl_msg *m = c->m;
    switch (key) {
    case M_V: return plain_uint(r, UINT64_MAX, &c->v);
    case M_KIND: return msg_kind(r, &m->kind);
    case M_FROM: return plain_id(r, &m->from);
    case M_INC: return plain_uint(r, UINT64_MAX, &m->inc);
    case M_MID: return plain_uint(r, UINT64_MAX, &m->mid);
    case M_BIN: return plain_uint(r, UINT64_MAX, &c->bin);
    case M_RESULTS: return entries(r, m, next_result, c->a);
    case M_FID: return plain_uint(r, UINT64_MAX, &m->fid);
    case M_TTL: return plain_u32(r, 0, &m->ttl_ms);
    case M_TASKS: return entries(r, m, next_task, c->a);
    case M_TRACK: return plain_bool(r, &m->track_started);
    }
    return false;
}

/* The members each kind must have, and the only ones it may have. */
static bool members_fit(fl_kind kind, unsigned seen)
{
    const unsigned common = 1u << M_V | 1u << M_KIND | 1u << M_FROM;
    const unsigned optional = 1u << M_INC | 1u << M_MID | 1u << M_BIN;
    unsigned need = kind == FL_KIND_DONE
                        ? common | 1u << M_RESULTS
                        : common | 1u << M_INC | 1u << M_FID | 1u << M_TTL |
                              1u << M_TASKS;
    unsigned may = optional | (kind == FL_KIND_LEASE ? 1u << M_TRACK : 0u);
    return (seen & need) == need && (seen & ~(need | may)) == 0;
}

fl_status fl__decode_fast(const char *json, size_t len, const uint8_t *att,
                          size_t att_len, bool has_nul, fl_msg **out)
{
    *out = NULL;
    fl_msg *m = fl__calloc(1, sizeof *m);
    if (!m)
        return FL_ENOMEM;
    msg_ctx c = {m, {att, att_len}, 0, 0};
    rd r = {json, json + len, false};
    unsigned seen = 0;
    bool ok = eat(&r, '{') &&
              members(&r, msg_keys, M_COUNT, &seen, msg_member, &c);
    skip_space(&r);
    /* The guard pass last: other kinds have given up by now, cheaply. */
    ok = ok && r.p == r.end && members_fit(m->kind, seen) &&
         c.v == FL_PROTOCOL_VERSION && fl__json_guard(json, len) == NULL;
    /* "bin" must agree with what follows the NUL byte. */
    if (ok && (seen & 1u << M_BIN))
        ok = c.bin == att_len;
    else if (ok)
        ok = !has_nul;
    if (!ok) {
        fl__msg_free(m);
        /* Out of memory is the answer only for text the tree would take
         * as far as the guard; the tree words every other refusal. */
        return r.oom && fl__json_guard(json, len) == NULL ? FL_ENOMEM : FL_EPROTO;
    }
    m->has_mid = (seen & 1u << M_MID) != 0;
    *out = m;
    return FL_OK;
}

/* ------------------------------------------- plain JSON, checked in place */

/* Printable ASCII without escapes: valid for any JSON parser. */
static bool ascii_str(rd *r)
{
    if (!eat(r, '"'))
        return false;
    for (; r->p < r->end; r->p++) {
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            return true;
        }
        if (c < 0x20 || c >= 0x7F || c == '\\')
            return false;
    }
    return false;
}

/* -?(0|[1-9][0-9]*), at most 15 digits: exact in a double. */
static bool small_int(rd *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    const char *b = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    size_t n = (size_t)(r->p - b);
    return n >= 1 && n <= 15 && !(n > 1 && *b == '0');
}

static bool literal(rd *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return false;
    r->p += n;
    return true;
}

static bool plain_value(rd *r, unsigned depth, int *type);

static bool plain_items(rd *r, unsigned depth, bool object)
{
    char close = object ? '}' : ']';
    int type;
    if (eat(r, close))
        return true;
    do {
        if (object && !(ascii_str(r) && eat(r, ':')))
            return false;
        if (!plain_value(r, depth, &type))
            return false;
    } while (eat(r, ','));
    return eat(r, close);
}

static bool plain_value(rd *r, unsigned depth, int *type)
{
    skip_space(r);
    if (r->p == r->end)
        return false;
    switch (*r->p) {
    case '{':
    case '[':
        if (depth >= FL_MAX_DEPTH)
            return false;
        *type = *r->p == '{' ? FL_TYPE_OBJECT : FL_TYPE_ARRAY;
        r->p++;
        return plain_items(r, depth + 1, *type == FL_TYPE_OBJECT);
    case '"': *type = FL_TYPE_STRING; return ascii_str(r);
    case 't': *type = FL_TYPE_BOOL; return literal(r, "true", 4);
    case 'f': *type = FL_TYPE_BOOL; return literal(r, "false", 5);
    case 'n': *type = FL_TYPE_NULL; return literal(r, "null", 4);
    default: *type = FL_TYPE_NUMBER; return small_int(r);
    }
}

bool fl__json_plain(const char *json, size_t len, int *type)
{
    rd r = {json, json + len, false};
    if (!plain_value(&r, 0, type))
        return false;
    skip_space(&r);
    return r.p == r.end;
}
