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
 * Integers stay exact: a double holds every integer only below 2^53, so an
 * integer written with 16 digits or more keeps its digits as text in the
 * node's valuestring (unused by cJSON for numbers, freed with the node),
 * which the writers print and fl_value_int64 reads; valuedouble keeps the
 * nearest double for fl_value_number.
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
    bool long_digits;  /* a run of digits that may be an integer over 2^53,
                          which a double does not hold: kept as text */
} scan_result;

/* Integers of fewer digits are below 10^15 < 2^53: exact in a double. */
#define EXACT_DIGITS 16u

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

/* The largest integer below which a double holds every integer. */
static const char TWO_POW_53_DIGITS[] = "9007199254740992";

/* A run of n digits that may be an integer over 2^53 (a run of 16 with
 * leading zeros, or inside a fraction, is over-counted: keep_digits looks
 * again). Runs of 16 digits are common (incarnations are below 2^52), so
 * they are compared rather than flagged. */
static bool beyond_double(const unsigned char *run, size_t n)
{
    return n > EXACT_DIGITS ||
           (n == EXACT_DIGITS && memcmp(run, TWO_POW_53_DIGITS, n) > 0);
}

/* One pass over the raw text: nesting, and what cJSON would let through
 * inside strings. Syntax proper is left to cJSON. */
static scan_result scan_text(const unsigned char *s, size_t n)
{
    scan_result r = {NULL, false, 0, false};
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
        if (c >= '0' && c <= '9') {
            digits++;
        } else {
            r.long_digits |= beyond_double(s + i - digits, digits);
            digits = 0;
        }
        if (digits >= OVERFLOW_DIGITS)
            r.may_overflow = true;
        i++;
    }
    r.long_digits |= beyond_double(s + n - digits, digits);
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

/* The next number in text that passed the parser, from *pos: outside
 * strings, a run of number characters starting with '-' or a digit. */
static bool next_number(const char *s, size_t n, size_t *pos, size_t *start,
                        size_t *len)
{
    size_t i = *pos;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            size_t b = i;
            while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
                             s[i] == '+' || s[i] == '.' || s[i] == 'e' ||
                             s[i] == 'E'))
                i++;
            *start = b;
            *len = i - b;
            *pos = i;
            return true;
        }
        i++;
    }
    return false;
}

/* Keep the digits of an integer token beyond 2^53 in v->valuestring ("-123...", no leading zeros). false: no memory. */
static bool keep_digits(cJSON *v, const char *tok, size_t len)
{
    size_t i = tok[0] == '-';
    for (size_t k = i; k < len; k++)
        if (tok[k] < '0' || tok[k] > '9')
            return true; /* a fraction or an exponent: a double it is */
    while (i + 1 < len && tok[i] == '0')
        i++;
    if (!beyond_double((const unsigned char *)tok + i, len - i))
        return true; /* the double is exact */
    bool neg = tok[0] == '-';
    char *text = fl__malloc(len - i + neg + 1);
    if (!text)
        return false;
    if (neg)
        text[0] = '-';
    memcpy(text + neg, tok + i, len - i);
    text[len - i + neg] = '\0';
    v->valuestring = text;
    return true;
}

/* Walk the tree in document order beside the text, whose numbers come in
 * the same order (cJSON keeps members as written, duplicates included). */
static bool mark_exact(cJSON *v, const char *s, size_t n, size_t *pos)
{
    if (cJSON_IsNumber(v)) {
        size_t start, len;
        if (!next_number(s, n, pos, &start, &len))
            return true; /* cannot happen on parsed text; nothing kept */
        return keep_digits(v, s + start, len);
    }
    for (cJSON *c = v->child; c; c = c->next)
        if (!mark_exact(c, s, n, pos))
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
    size_t pos = 0;
    if (sr.long_digits && !mark_exact(root, json, len, &pos)) {
        cJSON_Delete(root);
        *why = "out of memory";
        return FL_ENOMEM;
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

/* "-9223372036854775808" .. "9223372036854775807" into *out. */
static bool parse_int64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t x = 0;
    s += neg;
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9 || x > (limit - d) / 10u)
            return false;
        x = x * 10u + d;
    }
    /* -2^63 has no positive twin: negate in unsigned arithmetic. */
    *out = neg ? (int64_t)(0u - x) : (int64_t)x;
    return true;
}

bool fl_value_is_integer(const fl_value *v)
{
    if (!v || !cJSON_IsNumber(J(v)))
        return false;
    if (J(v)->valuestring)
        return true;
    double x = J(v)->valuedouble;
    return x == floor(x) && fabs(x) <= 9007199254740992.0;
}

bool fl_value_int64(const fl_value *v, int64_t *out)
{
    int64_t dummy;
    if (!out)
        out = &dummy;
    if (!fl_value_is_integer(v))
        return false;
    if (J(v)->valuestring)
        return parse_int64(J(v)->valuestring, out);
    *out = (int64_t)J(v)->valuedouble;
    return true;
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
