/*
 * value.c - fl_value, the read-only JSON value of the public API, and the
 * one JSON parser of the core.
 *
 * An fl_value is a cJSON node (cast), so a parsed document or a subtree
 * detached from one is handed out without copying. Parsing is guarded
 * before cJSON sees the text: one cheap pass rejects documents that are too
 * big, nested too deep, carry raw control characters or invalid UTF-8
 * inside strings, so cJSON's own (deeper) nesting limit never matters and
 * everything accepted can be re-encoded byte-faithfully.
 * cJSON allocates through the fl_set_allocator hook; a flag set by the
 * hook's wrapper (thread-local when FL_THREADS) tells an allocation
 * failure from bad text.
 * Depends on codec.h (declarations), buf.h, alloc.h, defaults.h and cJSON;
 * snprintf only to format the depth in a reason.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "codec.h"
#include "defaults.h"

/* -------------------------------------------------------- cJSON hooks */

#if FL_THREADS
static _Thread_local bool json_oom;
#else
static bool json_oom;
#endif

static void *json_malloc(size_t size)
{
    void *p = fl__malloc(size);
    if (!p)
        json_oom = true;
    return p;
}

static void json_free(void *p)
{
    fl__free(p);
}

void fl__json_hooks_update(void)
{
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
}

/* ------------------------------------------------------------ parsing */

typedef struct scan_result {
    const char *why;   /* NULL when the text passed */
    bool may_overflow; /* a number may be beyond a double: check them */
    unsigned depth;    /* deepest nesting seen (all of it when too deep) */
} scan_result;

/* The reason for a document nested too deep names both depths, so it is
 * formatted; one buffer per thread, like json_oom. */
#if FL_THREADS
static _Thread_local char depth_why[80];
#else
static char depth_why[80];
#endif

static const char *too_deep(unsigned depth, unsigned limit)
{
    snprintf(depth_why, sizeof depth_why,
             "nested %u levels deep, over the limit of %u", depth, limit);
    return depth_why;
}

/* A run of as many digits as DBL_MAX has before its point (309): such a
 * number may overflow to infinity without any exponent. */
#define OVERFLOW_DIGITS 309

/* One pass over the raw text: nesting, and what cJSON would let through
 * inside strings. Syntax proper is left to cJSON. */
static scan_result scan_text(const unsigned char *s, size_t n)
{
    scan_result r = {NULL, false, 0};
    unsigned depth = 0;
    size_t i = 0, digits = 0;

    while (i < n) {
        unsigned char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; ) {
                unsigned char d = s[i];
                size_t used = 1;
                if (d == '\\') {
                    used = 2;
                } else if (d < 0x20) {
                    r.why = "not valid JSON: control character in a string";
                    return r;
                } else if (d >= 0x80 && !fl__utf8_next(s + i, n - i, &used)) {
                    r.why = "not valid JSON: invalid UTF-8 in a string";
                    return r;
                }
                i += used;
            }
            i++;
            continue;
        }
        if (c == '[' || c == '{') {
            /* Counted on past the limit (no recursion here), so that the
             * reason says how deep the text is. */
            if (++depth > r.depth)
                r.depth = depth;
        } else if (c == ']' || c == '}') {
            if (depth > 0)
                depth--;
        } else if ((c == 'e' || c == 'E') && i > 0 &&
                   ((s[i - 1] >= '0' && s[i - 1] <= '9') || s[i - 1] == '.')) {
            r.may_overflow = true;
        }
        digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
        if (digits >= OVERFLOW_DIGITS)
            r.may_overflow = true;
        i++;
    }
    if (r.depth > FL_MAX_DEPTH)
        r.why = too_deep(r.depth, FL_MAX_DEPTH);
    return r;
}

/* strtod turns 1e999 into infinity, which no JSON text can carry back. */
static bool all_finite(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return isfinite(v->valuedouble);
    for (const cJSON *c = v->child; c; c = c->next)
        if (!all_finite(c))
            return false;
    return true;
}

static bool only_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

const char *fl__json_guard(const char *json, size_t len)
{
    return scan_text((const unsigned char *)json, len).why;
}

const char *fl__json_depth_check(const char *json, size_t len, unsigned limit)
{
    unsigned depth = scan_text((const unsigned char *)json, len).depth;
    return depth > limit ? too_deep(depth, limit) : NULL;
}

fl_status fl__json_parse(const char *json, size_t len, size_t max,
                         fl_value **out, const char **why)
{
    static const char *dummy;
    if (!why)
        why = &dummy;
    *out = NULL;
    *why = NULL;
    if (max == 0)
        max = FL_DEFAULT_MAX_MESSAGE;
    if (len > max) {
        *why = "larger than the size limit";
        return FL_ETOOBIG;
    }
    scan_result sr = scan_text((const unsigned char *)json, len);
    if (sr.why) {
        *why = sr.why;
        return FL_EINVAL;
    }

    const char *end = NULL;
    json_oom = false;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        if (json_oom) {
            *why = "out of memory";
            return FL_ENOMEM;
        }
        *why = "not valid JSON";
        return FL_EINVAL;
    }
    if (!end || !only_space(end, json + len)) {
        cJSON_Delete(root);
        *why = "not valid JSON: text after the value";
        return FL_EINVAL;
    }
    if (sr.may_overflow && !all_finite(root)) {
        cJSON_Delete(root);
        *why = "number out of range";
        return FL_EINVAL;
    }
    *out = (fl_value *)root;
    return FL_OK;
}

fl_status fl_value_parse(const char *json, size_t len, fl_value **out)
{
    if (!out)
        return FL_EINVAL;
    if (!json) {
        *out = NULL;
        return FL_EINVAL;
    }
    return fl__json_parse(json, len, FL_DEFAULT_MAX_MESSAGE, out, NULL);
}

void fl_value_free(fl_value *v)
{
    cJSON_Delete((cJSON *)v);
}

/* ----------------------------------------------------------- reading */

static const cJSON *J(const fl_value *v)
{
    return (const cJSON *)v;
}

fl_type fl_value_type(const fl_value *v)
{
    if (!v)
        return FL_TYPE_NULL;
    switch (J(v)->type & 0xFF) {
    case cJSON_False:
    case cJSON_True: return FL_TYPE_BOOL;
    case cJSON_Number: return FL_TYPE_NUMBER;
    case cJSON_String: return FL_TYPE_STRING;
    case cJSON_Array: return FL_TYPE_ARRAY;
    case cJSON_Object: return FL_TYPE_OBJECT;
    default: return FL_TYPE_NULL;
    }
}

double fl_value_number(const fl_value *v)
{
    return v && cJSON_IsNumber(J(v)) ? J(v)->valuedouble : 0.0;
}

bool fl_value_bool(const fl_value *v)
{
    return v && cJSON_IsTrue(J(v));
}

const char *fl_value_string(const fl_value *v, size_t *len)
{
    if (!v || !cJSON_IsString(J(v)) || !J(v)->valuestring) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = strlen(J(v)->valuestring);
    return J(v)->valuestring;
}

static bool is_container(const fl_value *v)
{
    return v && (cJSON_IsArray(J(v)) || cJSON_IsObject(J(v)));
}

/* cJSON keeps members in a linked list, so counting and indexing walk it:
 * O(n) and O(i). */
size_t fl_value_count(const fl_value *v)
{
    size_t n = 0;
    if (is_container(v))
        for (const cJSON *c = J(v)->child; c; c = c->next)
            n++;
    return n;
}

const fl_value *fl_value_at(const fl_value *v, size_t i)
{
    if (!is_container(v))
        return NULL;
    const cJSON *c = J(v)->child;
    while (c && i--)
        c = c->next;
    return (const fl_value *)c;
}

const fl_value *fl_value_first(const fl_value *v)
{
    return is_container(v) ? (const fl_value *)J(v)->child : NULL;
}

const fl_value *fl_value_next(const fl_value *member)
{
    return member ? (const fl_value *)J(member)->next : NULL;
}

const char *fl_value_key(const fl_value *member)
{
    return member ? J(member)->string : NULL;
}

const char *fl_value_key_at(const fl_value *v, size_t i)
{
    if (!v || !cJSON_IsObject(J(v)))
        return NULL;
    const cJSON *c = (const cJSON *)fl_value_at(v, i);
    return c ? c->string : NULL;
}

const fl_value *fl_value_get(const fl_value *v, const char *key)
{
    if (!v || !key || !cJSON_IsObject(J(v)))
        return NULL;
    return (const fl_value *)cJSON_GetObjectItemCaseSensitive(J(v), key);
}

/* ----------------------------------------------------------- printing */

/* Our own writer rather than cJSON_PrintUnformatted: one growing buffer
 * instead of cJSON's measure-and-copy, and numbers printed the way every
 * other floret message prints them. */
char *fl_value_to_json(const fl_value *v, size_t *len)
{
    fl_jw w;
    fl__jw_init(&w);
    fl__jw_value(&w, NULL, v);
    fl__buf_putc(&w.json, '\0');
    bool ok = w.depth == 0 && fl__buf_ok(&w.json);
    fl__buf_free(&w.bin);
    if (!ok) {
        fl__buf_free(&w.json);
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = w.json.len - 1;
    return w.json.data;
}
