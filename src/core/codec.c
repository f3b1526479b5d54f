/*
 * codec.c - floret's wire messages (docs/protocol.md, sections 3 and 8):
 * the decoder that turns an untrusted payload into a checked fl_msg, the
 * validators shared with local callers, and the JSON writer for outgoing
 * messages.
 *
 * The decoder tries codec_fast.c's reader first (a lease or a done as
 * floret writes it); anything else it parses once (value.c's guarded
 * parser) and walks the tree with cJSON's lookups; args, kwargs and result
 * values are detached from the document and handed over as they are,
 * never re-printed, because a lease of hundreds of small tasks is the hot
 * path. Every failure names the field: "tasks[2].args: expected an array,
 * got string".
 * Depends on codec.h, buf.h, alloc.h, defaults.h, dtoa.h and cJSON;
 * snprintf is used only to format reasons (integers and strings).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "codec.h"
#include "defaults.h"
#include "dtoa.h"
#include "rate.h"

#define TWO_POW_53 9007199254740992.0
#define NO_LIMIT UINT64_MAX /* only the protocol's 0 <= n < 2^53 applies */

static const char *const kind_names[] = {
    "presence", "work", "fetch", "lease", "done", "extend", "release", "error",
    "submit", "submitted", "query", "result", "check", "holding", "watch",
    "stats", "events", "ping", "pong", "revoke", "started", "schedule", "answer",
};
#define NKINDS (sizeof kind_names / sizeof kind_names[0])

const char *fl__kind_name(fl_kind k)
{
    return (unsigned)k < NKINDS ? kind_names[k] : "unknown";
}

static bool tag_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
}

bool fl__valid_tag(const char *s, size_t n)
{
    size_t eq = 0;
    while (eq < n && s[eq] != '=')
        eq++;
    if (eq == 0 || eq >= n - 1 || n > FL_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (i != eq && !tag_char(s[i]))
            return false;
    return true;
}

bool fl__valid_tags(const char *list)
{
    if (strlen(list) >= FL_TAGS_BUF)
        return false;
    while (*list) {
        size_t n = strcspn(list, ",");
        if (!fl__valid_tag(list, n))
            return false;
        list += n + (list[n] == ',');
    }
    return true;
}

bool fl__valid_id(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= FL_MAX_ID)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0;
}

/* ------------------------------------------------------------ decoding */

/* Where the decoder is, so a reason can name the field: list[idx].sub.key */
typedef struct dec {
    fl_status st;
    char *err;
    size_t errlen;
    const char *list;
    size_t idx;
    const char *sub;
    const uint8_t *att; /* the attachment after the NUL byte, if any */
    size_t att_len;
    fl_msg_head *head;  /* where a failed decode says what it could read */
    size_t max;         /* the receiver's largest message */
    const fl_zset *z;   /* the codecs it decodes (NULL: none) */
} dec;

#if defined(__GNUC__)
#define FL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FL_PRINTF(a, b)
#endif

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    FL_PRINTF(4, 5);

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n += (size_t)k;
}

/* Record a failure; always returns false so callers can `return fail(...)`. */
static bool fail(dec *d, fl_status st, const char *key, const char *fmt, ...)
    FL_PRINTF(4, 5);

static bool fail(dec *d, fl_status st, const char *key, const char *fmt, ...)
{
    d->st = st;
    if (!d->err || d->errlen == 0)
        return false;
    size_t n = 0;
    d->err[0] = '\0';
    if (d->list)
        append(d->err, d->errlen, &n, "%s[%zu]", d->list, d->idx);
    if (d->sub)
        append(d->err, d->errlen, &n, "%s%s", n ? "." : "", d->sub);
    if (key)
        append(d->err, d->errlen, &n, "%s%s", n ? "." : "", key);
    append(d->err, d->errlen, &n, ": ");
    if (n < d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err + n, d->errlen - n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool oom(dec *d)
{
    d->st = FL_ENOMEM;
    if (d->err && d->errlen)
        snprintf(d->err, d->errlen, "out of memory");
    return false;
}

static const char *type_of(const cJSON *v)
{
    return fl_type_name(fl_value_type((const fl_value *)v));
}

/* A short printable copy of untrusted text for a reason. */
static const char *printable(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7F && c != '\'') ? (char)c : '?';
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static cJSON *member(cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static bool uint_value(dec *d, const cJSON *v, const char *key, uint64_t max,
                       uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return fail(d, FL_EPROTO, key, "expected an integer, got %s", type_of(v));
    double x = v->valuedouble;
    if (!(x >= 0) || x != floor(x) || x >= TWO_POW_53) {
        char num[FL_DTOA_BUF];  /* no %g: a board's printf may lack it */
        fl__dtoa(x, num);
        return fail(d, FL_EPROTO, key,
                    "expected an integer from 0 to 2^53-1, got %s", num);
    }
    if (x > (double)max)
        return fail(d, FL_EPROTO, key, "%llu is over the limit of %llu",
                    (unsigned long long)x, (unsigned long long)max);
    *out = (uint64_t)x;
    return true;
}

static bool get_u64(dec *d, cJSON *obj, const char *key, bool required,
                    uint64_t max, uint64_t *out)
{
    const cJSON *v = member(obj, key);
    if (!v)
        return required ? fail(d, FL_EPROTO, key, "missing") : true;
    return uint_value(d, v, key, max, out);
}

static bool get_u32(dec *d, cJSON *obj, const char *key, bool required,
                    uint32_t min, uint32_t *out)
{
    uint64_t x = *out;
    if (!get_u64(d, obj, key, required, UINT32_MAX, &x))
        return false;
    if (x < min)
        return fail(d, FL_EPROTO, key, "must be at least %u", (unsigned)min);
    *out = (uint32_t)x;
    return true;
}

static bool get_bool(dec *d, cJSON *obj, const char *key, bool required, bool *out)
{
    const cJSON *v = member(obj, key);
    if (!v)
        return required ? fail(d, FL_EPROTO, key, "missing") : true;
    if (!cJSON_IsBool(v))
        return fail(d, FL_EPROTO, key, "expected a boolean, got %s", type_of(v));
    *out = cJSON_IsTrue(v);
    return true;
}

/* What a string member must look like. */
typedef struct str_rule {
    size_t min, max;
    const char *id_noun; /* non-NULL: must pass fl__valid_id ("node id") */
} str_rule;

static bool check_str(dec *d, const cJSON *v, const char *key, str_rule r)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(d, FL_EPROTO, key, "expected a string, got %s", type_of(v));
    if (r.id_noun) {
        if (!fl__valid_id(v->valuestring))
            return fail(d, FL_EPROTO, key,
                        "not a valid %s (1 to %d bytes of [A-Za-z0-9_.-])",
                        r.id_noun, FL_MAX_ID);
        return true;
    }
    size_t n = strlen(v->valuestring);
    if (n < r.min)
        return fail(d, FL_EPROTO, key, "empty");
    if (n > r.max)
        return fail(d, FL_EPROTO, key, "longer than %zu bytes", r.max);
    return true;
}

static bool get_str(dec *d, cJSON *obj, const char *key, bool required,
                    str_rule r, char **out)
{
    const cJSON *v = member(obj, key);
    if (!v)
        return required ? fail(d, FL_EPROTO, key, "missing") : true;
    if (!check_str(d, v, key, r))
        return false;
    *out = fl__strdup(v->valuestring);
    return *out ? true : oom(d);
}

/* An array member with min..max entries; *count gets its length. */
static bool get_array(dec *d, cJSON *obj, const char *key, bool required,
                      size_t min, size_t max, cJSON **out, size_t *count)
{
    cJSON *v = member(obj, key);
    *out = NULL;
    *count = 0;
    if (!v)
        return required ? fail(d, FL_EPROTO, key, "missing") : true;
    if (!cJSON_IsArray(v))
        return fail(d, FL_EPROTO, key, "expected an array, got %s", type_of(v));
    size_t n = 0;
    for (const cJSON *c = v->child; c && n <= max; c = c->next)
        n++;
    if (n < min || n > max)
        return fail(d, FL_EPROTO, key, "expected %zu to %zu entries, got %s%zu",
                    min, max, n > max ? "more than " : "", n > max ? max : n);
    *out = v;
    *count = n;
    return true;
}

/* Take an args/kwargs/value subtree out of the document without copying;
 * an absent args/kwargs becomes an empty container. */
static bool take_value(dec *d, cJSON *obj, const char *key, int want,
                       fl_value **out)
{
    cJSON *v = member(obj, key);
    if (!v) {
        if (want == cJSON_Array)
            v = cJSON_CreateArray();
        else if (want == cJSON_Object)
            v = cJSON_CreateObject();
        else
            return true;
        if (!v)
            return oom(d);
        *out = (fl_value *)v;
        return true;
    }
    if (want == cJSON_Array && !cJSON_IsArray(v))
        return fail(d, FL_EPROTO, key, "expected an array, got %s", type_of(v));
    if (want == cJSON_Object && !cJSON_IsObject(v))
        return fail(d, FL_EPROTO, key, "expected an object, got %s", type_of(v));
    *out = (fl_value *)cJSON_DetachItemViaPointer(obj, v);
    return true;
}

/* "att": [offset, length] inside the attachment. */
static bool get_att(dec *d, cJSON *obj, const char *key, const uint8_t **p,
                    size_t *len)
{
    const cJSON *v = member(obj, key);
    if (!v)
        return true;
    if (!cJSON_IsArray(v) || !v->child || !v->child->next || v->child->next->next)
        return fail(d, FL_EPROTO, key, "expected [offset, length]");
    uint64_t off, n;
    if (!uint_value(d, v->child, key, NO_LIMIT, &off) ||
        !uint_value(d, v->child->next, key, NO_LIMIT, &n))
        return false;
    if (off > d->att_len || n > d->att_len - off)
        return fail(d, FL_EPROTO, key,
                    "range [%llu, %llu] is outside the %zu-byte attachment",
                    (unsigned long long)off, (unsigned long long)n, d->att_len);
    *p = n ? d->att + off : NULL;
    *len = (size_t)n;
    return true;
}

static const str_rule ANY_ID = {1, FL_MAX_ID, "node id"};
static const str_rule TASK_NAME = {1, FL_MAX_ID, "task name"};
static const str_rule ERR_TYPE = {1, FL_MAX_ERROR_TYPE, NULL};
static const str_rule ERR_MESSAGE = {0, FL_MAX_ERROR_MESSAGE, NULL};
static const str_rule SHORT_TEXT = {0, FL_MAX_ID, NULL};
static const str_rule TAG = {1, FL_MAX_ID, NULL};

/* The "error" object of a done entry or an error message. */
static bool decode_error(dec *d, cJSON *obj, char **type, char **message,
                         bool *retryable)
{
    cJSON *e = member(obj, "error");
    if (!e)
        return fail(d, FL_EPROTO, "error", "missing");
    if (!cJSON_IsObject(e))
        return fail(d, FL_EPROTO, "error", "expected an object, got %s", type_of(e));
    const char *outer = d->sub;
    d->sub = "error";
    bool ok = get_str(d, e, "type", true, ERR_TYPE, type) &&
              get_str(d, e, "message", true, ERR_MESSAGE, message) &&
              (!retryable || get_bool(d, e, "retryable", false, retryable));
    d->sub = outer;
    return ok;
}

/* An optional array of strings under key, each checked by rule. */
static bool get_str_list(dec *d, cJSON *root, const char *key, str_rule rule,
                         char ***out, size_t *count)
{
    cJSON *arr;
    size_t n;
    if (!get_array(d, root, key, false, 0, SIZE_MAX - 1, &arr, &n))
        return false;
    if (n == 0)
        return true;
    *out = fl__calloc(n, sizeof **out);
    if (!*out)
        return oom(d);
    *count = n;
    d->list = key;
    size_t i = 0;
    for (const cJSON *t = arr->child; t; t = t->next, i++) {
        d->idx = i;
        if (!check_str(d, t, NULL, rule))
            return false;
        if (!((*out)[i] = fl__strdup(t->valuestring)))
            return oom(d);
    }
    d->list = NULL;
    return true;
}

static bool decode_presence(dec *d, cJSON *root, fl_msg *m)
{
    const cJSON *state = member(root, "state");
    char tmp[40];
    if (!state)
        return fail(d, FL_EPROTO, "state", "missing");
    if (!cJSON_IsString(state))
        return fail(d, FL_EPROTO, "state", "expected a string, got %s", type_of(state));
    if (strcmp(state->valuestring, "online") == 0)
        m->online = true;
    else if (strcmp(state->valuestring, "offline") != 0)
        return fail(d, FL_EPROTO, "state", "expected 'online' or 'offline', got '%s'",
                    printable(state->valuestring, tmp, sizeof tmp));
    if (!get_u32(d, root, "slots", false, 0, &m->slots) ||
        !get_u32(d, root, "load", false, 0, &m->load) ||
        !get_str(d, root, "runtime", false, SHORT_TEXT, &m->runtime) ||
        !get_str(d, root, "arch", false, SHORT_TEXT, &m->arch) ||
        !get_str(d, root, "version", false, SHORT_TEXT, &m->version) ||
        !get_u64(d, root, "max_msg", false, NO_LIMIT, &m->max_msg) ||
        !get_bool(d, root, "durable", false, &m->durable))
        return false;
    m->keeper = true;
    if (!get_bool(d, root, "keeper", false, &m->keeper))
        return false;
    m->has_tasks = member(root, "tasks") != NULL;

    return get_str_list(d, root, "tasks", TASK_NAME, &m->task_names,
                        &m->ntask_names) &&
           get_str_list(d, root, "tags", TAG, &m->tags, &m->ntags) &&
           get_str_list(d, root, "modules", SHORT_TEXT, &m->modules,
                        &m->nmodules) &&
           get_str_list(d, root, "z", SHORT_TEXT, &m->znames, &m->nznames);
}

/* An optional rate limit spec ("10/s") as its interval. */
static bool get_rate(dec *d, cJSON *obj, const char *key, uint32_t *out)
{
    const cJSON *v = member(obj, key);
    fl_rate_spec r;
    if (!v)
        return true;
    if (!cJSON_IsString(v) ||
        !fl__rate_parse(v->valuestring, strlen(v->valuestring), &r))
        return fail(d, FL_EPROTO, key, "expected a rate such as \"10/s\", "
                    "\"100/m\" or \"5/h\" (1 to %u per second, minute or "
                    "hour)", (unsigned)FL_RATE_MAX_N);
    *out = (uint32_t)fl__rate_interval_us(r); /* at most an hour */
    return true;
}

static bool decode_task(dec *d, cJSON *t, fl_msg_task *task)
{
    if (!cJSON_IsObject(t))
        return fail(d, FL_EPROTO, NULL, "expected an object, got %s", type_of(t));
    return get_u64(d, t, "id", true, NO_LIMIT, &task->id) &&
           get_str(d, t, "name", true, TASK_NAME, &task->name) &&
           take_value(d, t, "args", cJSON_Array, &task->args) &&
           take_value(d, t, "kwargs", cJSON_Object, &task->kwargs) &&
           get_u32(d, t, "attempt", true, 1, &task->attempt) &&
           get_u32(d, t, "time_limit_ms", false, 0, &task->time_limit_ms) &&
           get_u32(d, t, "soft_time_limit_ms", false, 0,
                   &task->soft_time_limit_ms) &&
           get_rate(d, t, "rate_limit", &task->rate_us) &&
           get_att(d, t, "att", &task->att, &task->att_len);
}

static bool decode_lease(dec *d, cJSON *root, fl_msg *m)
{
    cJSON *tasks;
    size_t n;
    if (!get_u64(d, root, "fid", true, NO_LIMIT, &m->fid) ||
        !get_u32(d, root, "ttl_ms", true, 0, &m->ttl_ms) ||
        !get_bool(d, root, "track_started", false, &m->track_started) ||
        !get_array(d, root, "tasks", true, 1, FL_MAX_BATCH, &tasks, &n))
        return false;
    m->tasks = fl__calloc(n, sizeof *m->tasks);
    if (!m->tasks)
        return oom(d);
    m->ntasks = n;
    d->list = "tasks";
    size_t i = 0;
    for (cJSON *t = tasks->child; t; t = t->next, i++) {
        d->idx = i;
        if (!decode_task(d, t, &m->tasks[i]))
            return false;
    }
    d->list = NULL;
    return true;
}

static bool decode_result(dec *d, cJSON *r, fl_msg_result *res)
{
    if (!cJSON_IsObject(r))
        return fail(d, FL_EPROTO, NULL, "expected an object, got %s", type_of(r));
    if (!get_u64(d, r, "id", true, NO_LIMIT, &res->id) ||
        !get_u32(d, r, "attempt", true, 1, &res->attempt) ||
        !get_bool(d, r, "ok", true, &res->ok) ||
        !get_u64(d, r, "us", false, NO_LIMIT, &res->run_us))
        return false;
    if (res->ok)
        return take_value(d, r, "value", -1, &res->value) &&
               get_att(d, r, "att", &res->att, &res->att_len);
    return decode_error(d, r, &res->err_type, &res->err_message, &res->retryable);
}

static bool decode_done(dec *d, cJSON *root, fl_msg *m)
{
    cJSON *results;
    size_t n;
    if (!get_array(d, root, "results", true, 1, FL_MAX_BATCH, &results, &n))
        return false;
    m->results = fl__calloc(n, sizeof *m->results);
    if (!m->results)
        return oom(d);
    m->nresults = n;
    d->list = "results";
    size_t i = 0;
    for (cJSON *r = results->child; r; r = r->next, i++) {
        d->idx = i;
        if (!decode_result(d, r, &m->results[i]))
            return false;
    }
    d->list = NULL;
    return true;
}

/* An array of task ids under key, min..FL_MAX_BATCH entries. */
static bool decode_id_list(dec *d, cJSON *root, const char *key,
                           bool required, size_t min, uint64_t **out,
                           size_t *count)
{
    cJSON *ids;
    size_t n;
    if (!get_array(d, root, key, required, min, FL_MAX_BATCH, &ids, &n))
        return false;
    if (!ids || n == 0)
        return true;
    *out = fl__calloc(n, sizeof **out);
    if (!*out)
        return oom(d);
    *count = n;
    d->list = key;
    size_t i = 0;
    for (const cJSON *v = ids->child; v; v = v->next, i++) {
        d->idx = i;
        if (!uint_value(d, v, NULL, NO_LIMIT, &(*out)[i]))
            return false;
    }
    d->list = NULL;
    return true;
}

static bool decode_ids(dec *d, cJSON *root, fl_msg *m)
{
    return decode_id_list(d, root, "ids", true, 1, &m->ids, &m->nids);
}

/* check: cid and 1..512 ids. holding: 0..512 ids held, and when it
 * answers a check (cid present) 0..512 missing. */
static bool decode_check(dec *d, cJSON *root, fl_msg *m)
{
    m->has_cid = member(root, "cid") != NULL;
    if (m->kind == FL_KIND_CHECK)
        return get_u64(d, root, "cid", true, NO_LIMIT, &m->cid) &&
               decode_ids(d, root, m);
    return get_u64(d, root, "cid", false, NO_LIMIT, &m->cid) &&
           decode_id_list(d, root, "ids", true, 0, &m->ids, &m->nids) &&
           decode_id_list(d, root, "missing", false, 0, &m->missing,
                          &m->nmissing);
}

/* revoke (section 3.13): "ids", tasks the sender leased to the receiver
 * (its inc required, so a restarted owner's ids match nothing), or "id"
 * with "rid", a task or workflow the receiver owns; never both. */
static bool decode_revoke(dec *d, cJSON *root, fl_msg *m)
{
    bool has_ids = member(root, "ids") != NULL;
    bool has_id = member(root, "id") != NULL;
    if (!get_bool(d, root, "terminate", false, &m->terminate))
        return false;
    if (has_ids && has_id)
        return fail(d, FL_EPROTO, "id", "give ids (tasks leased to you) or "
                    "id (a task or workflow you own), not both");
    if (has_ids)
        return (member(root, "inc") ||
                fail(d, FL_EPROTO, "inc", "missing (required with ids)")) &&
               decode_ids(d, root, m);
    if (!has_id)
        return fail(d, FL_EPROTO, "ids", "missing (or id, with rid)");
    return get_u64(d, root, "rid", true, NO_LIMIT, &m->rid) &&
           get_u64(d, root, "id", true, NO_LIMIT, &m->wid);
}

/* "bin" must agree with what follows the NUL byte (section 3). */
static bool check_bin(dec *d, cJSON *root, bool has_nul)
{
    const cJSON *bin = member(root, "bin");
    uint64_t n;
    if (!bin) {
        if (has_nul)
            return fail(d, FL_EPROTO, "bin",
                        "missing, but the payload has a NUL byte and %zu more bytes",
                        d->att_len);
        return true;
    }
    if (!uint_value(d, bin, "bin", NO_LIMIT, &n))
        return false;
    if (!has_nul && n != 0)
        return fail(d, FL_EPROTO, "bin",
                    "says %llu bytes, but the payload has no NUL byte and attachment",
                    (unsigned long long)n);
    if (n != d->att_len)
        return fail(d, FL_EPROTO, "bin", "says %llu bytes, but %zu follow the NUL byte",
                    (unsigned long long)n, d->att_len);
    return true;
}

/* A compressed attachment (section 3, "Compressed attachments"): bin_z
 * names the codec, bin_raw the size it decodes to. It is decoded into
 * m->zbuf, at most the receiver's largest message, and the att ranges that
 * follow are read in it. A codec this node lacks, a stream that does not
 * decode, or one that decodes to another size than bin_raw says is a
 * malformed message, with a reason naming the member. */
static bool inflate_bin(dec *d, cJSON *root, fl_msg *m)
{
    const cJSON *zname = member(root, "bin_z");
    if (!zname)
        return member(root, "bin_raw") == NULL ||
               fail(d, FL_EPROTO, "bin_raw", "given without bin_z");
    if (!cJSON_IsString(zname))
        return fail(d, FL_EPROTO, "bin_z", "expected a string, got %s",
                    type_of(zname));
    char tmp[40];
#if FL_ZCODECS
    char names[64];
    const fl_zcodec *z = fl__z_find(d->z, zname->valuestring,
                                    strlen(zname->valuestring));
    if (!z) {
        fl__z_names(d->z, names, sizeof names);
        return fail(d, FL_EPROTO, "bin_z",
                    "unknown codec '%s' (this node decodes: %s)",
                    printable(zname->valuestring, tmp, sizeof tmp), names);
    }
    uint64_t raw;
    if (!get_u64(d, root, "bin_raw", true, NO_LIMIT, &raw))
        return false;
    if (raw > d->max)
        return fail(d, FL_ETOOBIG, "bin_raw",
                    "%llu bytes is over the limit of %zu",
                    (unsigned long long)raw, d->max);
    m->zbuf = fl__malloc(raw ? (size_t)raw : 1u);
    if (!m->zbuf)
        return oom(d);
    size_t got = z->decompress(d->att, d->att_len, m->zbuf, (size_t)raw);
    if (got != raw)
        return fail(d, FL_EPROTO, "bin_z",
                    got == SIZE_MAX
                        ? "the %s attachment does not decode to at most "
                          "bin_raw = %llu bytes (corrupt, truncated or larger)"
                        : "the %s attachment decodes to fewer bytes than "
                          "bin_raw = %llu",
                    z->name, (unsigned long long)raw);
    d->att = m->zbuf;
    d->att_len = (size_t)raw;
    return true;
#else
    (void)m;
    return fail(d, FL_EPROTO, "bin_z",
                "unknown codec '%s' (this node decodes: none)",
                printable(zname->valuestring, tmp, sizeof tmp));
#endif
}

static bool decode_kind(dec *d, cJSON *root, fl_kind *kind)
{
    const cJSON *k = member(root, "kind");
    char tmp[40];
    if (!k)
        return fail(d, FL_EPROTO, "kind", "missing");
    if (!cJSON_IsString(k))
        return fail(d, FL_EPROTO, "kind", "expected a string, got %s", type_of(k));
    for (size_t i = 0; i < NKINDS; i++) {
        if (strcmp(k->valuestring, kind_names[i]) == 0) {
            *kind = (fl_kind)i;
            return true;
        }
    }
    if (d->head)
        d->head->unknown_kind = true;
    return fail(d, FL_EPROTO, "kind", "unknown kind '%s'",
                printable(k->valuestring, tmp, sizeof tmp));
}

/* A workflow's state, answering a query: SUCCESS with a value,
 * FAILURE/REVOKED with an error (a FAILURE also with a group's partial
 * results as its value), or (a query with `now`) PENDING, STARTED or
 * RETRY; with what the keeper knows of its run. */
static bool decode_workflow_result(dec *d, cJSON *root, fl_msg *m)
{
    static const char *const states[] = {"SUCCESS", "FAILURE", "REVOKED",
                                         "PENDING", "STARTED", "RETRY"};
    if (!get_u64(d, root, "rid", true, NO_LIMIT, &m->rid) ||
        !get_u64(d, root, "id", true, NO_LIMIT, &m->wid) ||
        !get_str(d, root, "state", true, SHORT_TEXT, &m->state) ||
        !get_str(d, root, "node", false, ANY_ID, &m->node) ||
        !get_u32(d, root, "attempts", false, 0, &m->attempts) ||
        !get_u64(d, root, "submitted_ms", false, NO_LIMIT, &m->submitted_ms) ||
        !get_u64(d, root, "started_ms", false, NO_LIMIT, &m->started_ms) ||
        !get_u64(d, root, "ended_ms", false, NO_LIMIT, &m->ended_ms))
        return false;
    size_t i = 0;
    while (i < 6 && strcmp(m->state, states[i]) != 0)
        i++;
    if (i == 6)
        return fail(d, FL_EPROTO, "state",
                    "expected SUCCESS, FAILURE, REVOKED, PENDING, STARTED or "
                    "RETRY, got '%.40s'", m->state);
    /* A FAILURE may carry the partial results of a group (section 3.8). */
    if (i < 2 && !take_value(d, root, "value", -1, &m->value))
        return false;
    if (i >= 3)
        return true;
    return i == 0 || decode_error(d, root, &m->err_type, &m->err_message, NULL);
}

static bool decode_msg(dec *d, cJSON *root, fl_msg *m, bool has_nul)
{
    uint64_t v;
    if (!get_u64(d, root, "v", true, NO_LIMIT, &v))
        return false;
    if (v != FL_PROTOCOL_VERSION)
        return fail(d, FL_EPROTO, "v", "unsupported protocol version %llu",
                    (unsigned long long)v);
    if (!decode_kind(d, root, &m->kind))
        return false;
    bool need_inc = m->kind == FL_KIND_PRESENCE || m->kind == FL_KIND_FETCH ||
                    m->kind == FL_KIND_LEASE || m->kind == FL_KIND_CHECK ||
                    m->kind == FL_KIND_HOLDING;
    m->has_mid = member(root, "mid") != NULL;
    if (!get_str(d, root, "from", true, ANY_ID, &m->from) ||
        !get_u64(d, root, "inc", need_inc, NO_LIMIT, &m->inc) ||
        !get_u64(d, root, "mid", false, NO_LIMIT, &m->mid) ||
        !check_bin(d, root, has_nul) || !inflate_bin(d, root, m))
        return false;

    switch (m->kind) {
    case FL_KIND_PRESENCE:
        return decode_presence(d, root, m);
    case FL_KIND_WORK:
        return get_u64(d, root, "pending", true, NO_LIMIT, &m->pending);
    case FL_KIND_FETCH:
        return get_u64(d, root, "fid", true, NO_LIMIT, &m->fid) &&
               get_u32(d, root, "credit", true, 0, &m->credit) &&
               get_u64(d, root, "max_msg", false, NO_LIMIT, &m->max_msg) &&
               get_u64(d, root, "rtt_us", false, NO_LIMIT, &m->rtt_us) &&
               (m->credit <= FL_MAX_CREDIT ||
                fail(d, FL_EPROTO, "credit", "%u is over the limit of %u",
                     (unsigned)m->credit, (unsigned)FL_MAX_CREDIT));
    case FL_KIND_LEASE:
        return decode_lease(d, root, m);
    case FL_KIND_DONE:
        return decode_done(d, root, m);
    case FL_KIND_EXTEND:
    case FL_KIND_RELEASE:
        return decode_ids(d, root, m);
    case FL_KIND_ERROR:
        m->has_re = member(root, "re") != NULL;
        return get_u64(d, root, "re", false, NO_LIMIT, &m->re) &&
               decode_error(d, root, &m->err_type, &m->err_message, NULL);
    case FL_KIND_SUBMIT:
        return get_u64(d, root, "rid", true, NO_LIMIT, &m->rid) &&
               (member(root, "canvas") ||
                fail(d, FL_EPROTO, "canvas", "missing")) &&
               take_value(d, root, "canvas", cJSON_Object, &m->canvas);
    case FL_KIND_SUBMITTED:
        return get_u64(d, root, "rid", true, NO_LIMIT, &m->rid) &&
               get_u64(d, root, "id", true, NO_LIMIT, &m->wid);
    case FL_KIND_QUERY:
        return get_u64(d, root, "rid", true, NO_LIMIT, &m->rid) &&
               get_u64(d, root, "id", true, NO_LIMIT, &m->wid) &&
               get_bool(d, root, "now", false, &m->now);
    case FL_KIND_STARTED:
        return decode_ids(d, root, m);
    case FL_KIND_RESULT:
        return decode_workflow_result(d, root, m);
    case FL_KIND_CHECK:
    case FL_KIND_HOLDING:
        return decode_check(d, root, m);
    case FL_KIND_WATCH:
        return get_u32(d, root, "ttl_ms", true, 0, &m->ttl_ms) &&
               (m->ttl_ms <= FL_WATCH_MAX_MS ||
                fail(d, FL_EPROTO, "ttl_ms", "%u is over the limit of %u",
                     (unsigned)m->ttl_ms, (unsigned)FL_WATCH_MAX_MS));
    case FL_KIND_STATS:
    case FL_KIND_EVENTS:
        return true; /* read by monitors as plain JSON (observe.c) */
    case FL_KIND_PING:
        return true;
    case FL_KIND_PONG:
        m->has_re = member(root, "re") != NULL;
        return get_u64(d, root, "re", false, NO_LIMIT, &m->re);
    case FL_KIND_REVOKE:
        return decode_revoke(d, root, m);
    case FL_KIND_SCHEDULE:
        /* The keeper reads the rest (schedule.c): the whole message goes
         * to it as m->value, so a worker-only build, which only refuses
         * it, carries no code for its members. */
        if (!get_u64(d, root, "rid", true, NO_LIMIT, &m->rid))
            return false;
        m->value = (fl_value *)cJSON_CreateObject();
        if (!m->value)
            return oom(d);
        /* The members move over: root is not read after its kind's case. */
        ((cJSON *)m->value)->child = root->child;
        root->child = NULL;
        return true;
    case FL_KIND_ANSWER:
        return true; /* read as plain JSON by its waiter (fl_core_set_answer) */
    }
    return fail(d, FL_EPROTO, "kind", "unhandled kind");
}

/* id into out (cap bytes, truncated) when it is a valid node id. */
static void copy_id(const char *id, char *out, size_t cap)
{
    if (!out || cap == 0 || !fl__valid_id(id))
        return;
    size_t n = strlen(id);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, id, n);
    out[n] = '\0';
}

/* What an error reply needs, read from a parsed payload even when the rest
 * of it is bad: the sender (where the reply goes), the message id (echoed
 * as re) and whether it is an error itself (never answered). */
static void copy_head(cJSON *root, fl_msg_head *head)
{
    if (!head)
        return;
    const cJSON *f = member(root, "from");
    if (cJSON_IsString(f))
        copy_id(f->valuestring, head->from, sizeof head->from);
    const cJSON *mid = member(root, "mid");
    double x = cJSON_IsNumber(mid) ? mid->valuedouble : -1;
    if (x >= 0 && x < 9007199254740992.0 && x == (double)(uint64_t)x) {
        head->has_mid = true;
        head->mid = (uint64_t)x;
    }
    const cJSON *k = member(root, "kind");
    head->is_error = cJSON_IsString(k) && strcmp(k->valuestring, "error") == 0;
}

static fl_status decode(const void *payload, size_t len, size_t max_message,
                        const fl_zset *z, fl_msg **out, char *err,
                        size_t errlen, fl_msg_head *head, bool fast)
{
    dec d = {FL_OK, err, errlen, NULL, 0, NULL, NULL, 0, head,
             max_message ? max_message : FL_DEFAULT_MAX_MESSAGE, z};
    if (err && errlen)
        err[0] = '\0';
    if (head)
        memset(head, 0, sizeof *head);
    if (!out)
        return FL_EINVAL;
    *out = NULL;
    if (!payload && len)
        return FL_EINVAL;
    if (max_message == 0)
        max_message = FL_DEFAULT_MAX_MESSAGE;
    if (len > max_message) {
        fail(&d, FL_ETOOBIG, "payload", "%zu bytes is over the limit of %zu", len,
             max_message);
        return d.st;
    }

    const uint8_t *p = payload;
    const uint8_t *nul = len ? memchr(p, 0, len) : NULL;
    size_t json_len = nul ? (size_t)(nul - p) : len;
    if (nul) {
        d.att = nul + 1;
        d.att_len = len - json_len - 1;
    }
    if (json_len == 0) {
        fail(&d, FL_EPROTO, "payload", "empty");
        return d.st;
    }
    if (fast) {
        fl_status st = fl__decode_fast((const char *)p, json_len, d.att,
                                       d.att_len, nul != NULL, out);
        if (st == FL_OK) {
            if (head)
                copy_id((*out)->from, head->from, sizeof head->from);
            return FL_OK;
        }
        if (st == FL_ENOMEM) {
            oom(&d);
            return d.st;
        }
    }

    fl_value *doc;
    const char *why;
    fl_status st = fl__json_parse((const char *)p, json_len, max_message, &doc, &why);
    if (st != FL_OK) {
        if (st == FL_ENOMEM)
            oom(&d);
        else
            fail(&d, st == FL_EINVAL ? FL_EPROTO : st, "payload", "%s", why);
        return d.st;
    }
    cJSON *root = (cJSON *)doc;
    if (!cJSON_IsObject(root)) {
        fail(&d, FL_EPROTO, "payload", "expected an object, got %s", type_of(root));
        cJSON_Delete(root);
        return d.st;
    }
    copy_head(root, head);

    fl_msg *m = fl__calloc(1, sizeof *m);
    bool ok = m ? decode_msg(&d, root, m, nul != NULL) : oom(&d);
    cJSON_Delete(root);
    if (!ok) {
        fl__msg_free(m);
        return d.st;
    }
    *out = m;
    return FL_OK;
}

fl_status fl__decode_msg(const void *payload, size_t len, size_t max_message,
                         const fl_zset *z, fl_msg **out, char *err,
                         size_t errlen, fl_msg_head *head)
{
    return decode(payload, len, max_message, z, out, err, errlen, head, true);
}

/* The sender's id alone, for callers that need no more of the head. */
static void copy_sender(const fl_msg_head *head, char *from_out, size_t fromlen)
{
    if (!from_out || fromlen == 0)
        return;
    size_t n = strlen(head->from);
    if (n >= fromlen)
        n = fromlen - 1;
    memcpy(from_out, head->from, n);
    from_out[n] = '\0';
}

fl_status fl__decode(const void *payload, size_t len, size_t max_message,
                     fl_msg **out, char *err, size_t errlen,
                     char *from_out, size_t fromlen)
{
    fl_msg_head head;
    fl_status st = decode(payload, len, max_message, NULL, out, err, errlen,
                          &head, true);
    copy_sender(&head, from_out, fromlen);
    return st;
}

fl_status fl__decode_tree(const void *payload, size_t len, size_t max_message,
                          fl_msg **out, char *err, size_t errlen,
                          char *from_out, size_t fromlen)
{
    fl_msg_head head;
    fl_status st = decode(payload, len, max_message, NULL, out, err, errlen,
                          &head, false);
    copy_sender(&head, from_out, fromlen);
    return st;
}

void fl__msg_free(fl_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ntasks; i++) {
        fl__free(m->tasks[i].name);
        fl_value_free(m->tasks[i].args);
        fl_value_free(m->tasks[i].kwargs);
    }
    for (size_t i = 0; i < m->nresults; i++) {
        fl_value_free(m->results[i].value);
        fl__free(m->results[i].err_type);
        fl__free(m->results[i].err_message);
    }
    for (size_t i = 0; i < m->ntask_names; i++)
        fl__free(m->task_names[i]);
    fl__free(m->tasks);
    fl__free(m->results);
    fl__free(m->ids);
    fl__free(m->missing);
    fl__free(m->task_names);
    fl__free(m->from);
    fl__free(m->runtime);
    fl__free(m->arch);
    fl__free(m->version);
    for (size_t i = 0; i < m->ntags; i++)
        fl__free(m->tags[i]);
    fl__free(m->tags);
    for (size_t i = 0; i < m->nmodules; i++)
        fl__free(m->modules[i]);
    fl__free(m->modules);
    for (size_t i = 0; i < m->nznames; i++)
        fl__free(m->znames[i]);
    fl__free(m->znames);
    fl__free(m->zbuf);
    fl_value_free(m->canvas);
    fl_value_free(m->value);
    fl__free(m->state);
    fl__free(m->node);
    fl__free(m->err_type);
    fl__free(m->err_message);
    fl__free(m);
}

fl_status fl__check_json(const char *json, size_t len, int want, char *err,
                         size_t errlen)
{
    fl_value *v = NULL;
    const char *why = "no JSON text";
    int plain_type;
    /* The common case without building a tree to throw away. */
    if (json && len <= FL_DEFAULT_MAX_MESSAGE &&
        fl__json_plain(json, len, &plain_type) &&
        (want < 0 || plain_type == want))
        return FL_OK;
    fl_status st = json ? fl__json_parse(json, len, 0, &v, &why) : FL_EINVAL;
    if (st != FL_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s", why);
        return st;
    }
    fl_type got = fl_value_type(v);
    fl_value_free(v);
    if (want >= 0 && got != (fl_type)want) {
        if (err && errlen)
            snprintf(err, errlen, "expected %s %s, got %s",
                     want == FL_TYPE_ARRAY || want == FL_TYPE_OBJECT ? "an" : "a",
                     fl_type_name((fl_type)want), fl_type_name(got));
        return FL_EINVAL;
    }
    return FL_OK;
}

/* ------------------------------------------------------------- writing */

/* need_comma has one bit per level; misuse (too deep, unbalanced, a number
 * JSON cannot carry) poisons the writer and fl__jw_finish says FL_EINVAL. */
#define JW_MAX_DEPTH 63u
#define JW_BROKEN (~0u)

static bool jw_live(const fl_jw *w)
{
    return w->depth != JW_BROKEN;
}

static void jw_key(fl_jw *w, const char *key)
{
    uint64_t bit = (uint64_t)1 << w->depth;
    if (w->need_comma & bit)
        fl__buf_putc(&w->json, ',');
    w->need_comma |= bit;
    if (key && w->depth > 0) {
        fl__buf_putc(&w->json, '"');
        fl__buf_puts(&w->json, key);
        fl__buf_put(&w->json, "\":", 2);
    }
}

void fl__jw_init(fl_jw *w)
{
    fl__buf_init(&w->json);
    fl__buf_init(&w->bin);
    fl__buf_init(&w->zout);
    w->z = NULL;
    w->bin_len = 0;
    w->depth = 0;
    w->need_comma = 0;
}

void fl__jw_free(fl_jw *w)
{
    fl__buf_free(&w->json);
    fl__buf_free(&w->bin);
    fl__buf_free(&w->zout);
    w->z = NULL;
    w->bin_len = 0;
    w->depth = 0;
    w->need_comma = 0;
}

void fl__jw_reset(fl_jw *w)
{
    fl__buf_reset(&w->json);
    fl__buf_reset(&w->bin);
    fl__buf_reset(&w->zout);
    w->z = NULL;
    w->bin_len = 0;
    w->depth = 0;
    w->need_comma = 0;
}

static void jw_open(fl_jw *w, const char *key, char c)
{
    if (!jw_live(w))
        return;
    if (w->depth >= JW_MAX_DEPTH) {
        w->depth = JW_BROKEN;
        return;
    }
    jw_key(w, key);
    fl__buf_putc(&w->json, c);
    w->depth++;
    w->need_comma &= ~((uint64_t)1 << w->depth);
}

static void jw_close(fl_jw *w, char c)
{
    if (!jw_live(w))
        return;
    if (w->depth == 0) {
        w->depth = JW_BROKEN;
        return;
    }
    fl__buf_putc(&w->json, c);
    w->depth--;
}

void fl__jw_obj(fl_jw *w, const char *key) { jw_open(w, key, '{'); }
void fl__jw_arr(fl_jw *w, const char *key) { jw_open(w, key, '['); }
void fl__jw_end_obj(fl_jw *w) { jw_close(w, '}'); }
void fl__jw_end_arr(fl_jw *w) { jw_close(w, ']'); }

void fl__jw_begin_msg(fl_jw *w, fl_kind kind, const char *from, uint64_t inc)
{
    fl__jw_obj(w, NULL);
    fl__jw_u64(w, "v", FL_PROTOCOL_VERSION);
    fl__jw_str(w, "kind", fl__kind_name(kind));
    fl__jw_str(w, "from", from);
    fl__jw_u64(w, "inc", inc);
}

void fl__jw_u64(fl_jw *w, const char *key, uint64_t v)
{
    if (!jw_live(w))
        return;
    jw_key(w, key);
    fl__buf_put_u64(&w->json, v);
}

void fl__jw_bool(fl_jw *w, const char *key, bool v)
{
    fl__jw_raw(w, key, v ? "true" : "false", v ? 4 : 5);
}

void fl__jw_null(fl_jw *w, const char *key)
{
    fl__jw_raw(w, key, "null", 4);
}

void fl__jw_str(fl_jw *w, const char *key, const char *s)
{
    if (!s)
        fl__jw_null(w, key);
    else
        fl__jw_strn(w, key, s, strlen(s));
}

void fl__jw_strn(fl_jw *w, const char *key, const char *s, size_t n)
{
    if (!jw_live(w))
        return;
    jw_key(w, key);
    fl__buf_put_jstr(&w->json, s, n);
}

void fl__jw_raw(fl_jw *w, const char *key, const char *json, size_t n)
{
    if (!jw_live(w))
        return;
    jw_key(w, key);
    fl__buf_put(&w->json, json, n);
}

/* Walk a parsed tree straight into the buffer. Trees come from the guarded
 * parser, so their depth is bounded; the check keeps it so. */
static void put_tree(fl_jw *w, const cJSON *v, unsigned level)
{
    fl_buf *b = &w->json;
    int type = v ? v->type & 0xFF : cJSON_NULL;
    /* level counts containers, as the parser's limit does: a scalar inside
     * the deepest allowed array is fine. */
    if (level > FL_MAX_DEPTH && (type == cJSON_Array || type == cJSON_Object)) {
        w->depth = JW_BROKEN;
        return;
    }
    switch (type) {
    case cJSON_False: fl__buf_put(b, "false", 5); return;
    case cJSON_True: fl__buf_put(b, "true", 4); return;
    case cJSON_Number:
        if (v->valuestring) { /* an integer's exact digits (value.c) */
            fl__buf_puts(b, v->valuestring);
            return;
        }
        if (!isfinite(v->valuedouble)) {
            w->depth = JW_BROKEN;
            return;
        }
        fl__buf_put_double(b, v->valuedouble);
        return;
    case cJSON_String:
        fl__buf_put_jstr(b, v->valuestring, strlen(v->valuestring));
        return;
    case cJSON_Array:
        fl__buf_putc(b, '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                fl__buf_putc(b, ',');
            put_tree(w, c, level + 1);
        }
        fl__buf_putc(b, ']');
        return;
    case cJSON_Object:
        fl__buf_putc(b, '{');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                fl__buf_putc(b, ',');
            fl__buf_put_jstr(b, c->string ? c->string : "", c->string ? strlen(c->string) : 0);
            fl__buf_putc(b, ':');
            put_tree(w, c, level + 1);
        }
        fl__buf_putc(b, '}');
        return;
    default:
        fl__buf_put(b, "null", 4);
        return;
    }
}

void fl__jw_value(fl_jw *w, const char *key, const fl_value *v)
{
    if (!jw_live(w))
        return;
    jw_key(w, key);
    put_tree(w, (const cJSON *)v, 1);
}

typedef struct jw_bin_ref {
    const void *data;
    size_t len;
    uint8_t *writable; /* data, when room bytes in front of it are free */
    size_t room;
} jw_bin_ref;

static void jw_att_ref(fl_jw *w, const char *key, const jw_bin_ref *ref)
{
    if (!jw_live(w))
        return;
    size_t off = w->bin_len;
    fl__buf_put(&w->bin, ref, sizeof *ref);
    w->bin_len += ref->len;
    jw_key(w, key);
    fl__buf_putc(&w->json, '[');
    fl__buf_put_u64(&w->json, off);
    fl__buf_putc(&w->json, ',');
    fl__buf_put_u64(&w->json, ref->len);
    fl__buf_putc(&w->json, ']');
}

void fl__jw_att(fl_jw *w, const char *key, const void *data, size_t len)
{
    jw_bin_ref ref = {data, len, NULL, 0};
    jw_att_ref(w, key, &ref);
}

void fl__jw_att_room(fl_jw *w, const char *key, uint8_t *data, size_t len,
                     size_t room)
{
    jw_bin_ref ref = {data, len, room ? data : NULL, room};
    jw_att_ref(w, key, &ref);
}

static size_t digits(size_t x)
{
    size_t n = 1;
    while (x >= 10) {
        x /= 10;
        n++;
    }
    return n;
}

size_t fl__jw_size(const fl_jw *w)
{
    size_t n = w->json.len + (jw_live(w) ? w->depth : 0);
    if (w->bin_len)
        n += sizeof ",\"bin\":" - 1 + digits(w->bin_len) + 1 + w->bin_len;
    return n;
}

/* The JSON text and its NUL byte written just in front of the lone
 * attachment: the payload is then one run of bytes without a copy. */
static fl_status finish_in_room(fl_jw *w, const jw_bin_ref *ref,
                                const void **payload, size_t *len)
{
    uint8_t *front = ref->writable - w->json.len - 1u;
    memcpy(front, w->json.data, w->json.len);
    front[w->json.len] = '\0';
    *payload = front;
    *len = w->json.len + 1u + ref->len;
    return FL_OK;
}

void fl__jw_compress(fl_jw *w, const fl_zcodec *z)
{
    w->z = z;
}

/* The attachments compressed into w->zout, when w->z is set and that is
 * worth it; w->zout stays empty otherwise. Several attachments are
 * gathered into one run first (the codec takes one). */
static void jw_shrink(fl_jw *w)
{
    if (!FL_ZCODECS || !w->z || w->bin_len < FL_Z_MIN_BYTES)
        return;
    const jw_bin_ref *ref = (const jw_bin_ref *)(const void *)w->bin.data;
    size_t nref = w->bin.len / sizeof *ref;
    if (nref == 1) {
        fl__z_shrink(w->z, ref->data, ref->len, &w->zout);
        return;
    }
    fl_buf all;
    fl__buf_init(&all);
    fl__buf_reserve(&all, w->bin_len);
    for (size_t i = 0; i < nref; i++)
        fl__buf_put(&all, ref[i].data, ref[i].len);
    if (fl__buf_ok(&all))
        fl__z_shrink(w->z, (const uint8_t *)all.data, all.len, &w->zout);
    fl__buf_free(&all);
}

/* The payload with the compressed attachment in w->zout. */
static fl_status finish_shrunk(fl_jw *w, const void **payload, size_t *len)
{
    fl__jw_str(w, "bin_z", w->z->name);
    fl__jw_u64(w, "bin_raw", w->bin_len);
    fl__jw_u64(w, "bin", w->zout.len);
    fl__jw_end_obj(w);
    fl__buf_reserve(&w->json, 1u + w->zout.len);
    fl__buf_putc(&w->json, '\0');
    fl__buf_put(&w->json, w->zout.data, w->zout.len);
    if (!fl__buf_ok(&w->json))
        return FL_ENOMEM;
    *payload = w->json.data;
    *len = w->json.len;
    return FL_OK;
}

fl_status fl__jw_finish(fl_jw *w, const void **payload, size_t *len)
{
    *payload = NULL;
    *len = 0;
    if (!jw_live(w) || w->depth != 1)
        return FL_EINVAL;
    if (w->bin_len && fl__buf_ok(&w->bin))
        jw_shrink(w);
    if (FL_ZCODECS && w->zout.len)
        return finish_shrunk(w, payload, len);
    if (w->bin_len)
        fl__jw_u64(w, "bin", w->bin_len);
    fl__jw_end_obj(w);
    if (w->bin_len) {
        const jw_bin_ref *ref = (const jw_bin_ref *)(const void *)w->bin.data;
        size_t nref = w->bin.len / sizeof *ref;
        if (nref == 1 && ref->writable && ref->room > w->json.len &&
            fl__buf_ok(&w->json) && fl__buf_ok(&w->bin))
            return finish_in_room(w, ref, payload, len);
        fl__buf_reserve(&w->json, 1u + w->bin_len);
        fl__buf_putc(&w->json, '\0');
        for (size_t i = 0; i < nref; i++)
            fl__buf_put(&w->json, ref[i].data, ref[i].len);
    }
    if (!fl__buf_ok(&w->json) || !fl__buf_ok(&w->bin))
        return FL_ENOMEM;
    *payload = w->json.data;
    *len = w->json.len;
    return FL_OK;
}
