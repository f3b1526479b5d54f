/*
 * codec_head.c - reads the sender, mid and kind of a payload too big to
 * decode, so that it can still be answered with a TooBig error naming its
 * mid (docs/protocol.md 3.7). It walks the top-level members of the JSON
 * text, skipping values without building them, and looks no further than
 * FL_HEAD_SCAN_BYTES: floret writes "v", "kind" and "from" first, and a
 * reply is not worth reading megabytes for.
 * Depends on codec.h; no allocation.
 */
#include <string.h>

#include "codec.h"

#ifndef FL_HEAD_SCAN_BYTES
#define FL_HEAD_SCAN_BYTES 4096u
#endif

typedef struct scan {
    const char *p;
    const char *end;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string at s->p (its opening quote); on return s->p is past the closing
 * quote. *raw and *n give the bytes inside it; *plain is false when they
 * hold an escape (so they are not the string's value). */
static bool read_string(scan *s, const char **raw, size_t *n, bool *plain)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    const char *start = ++s->p;
    *plain = true;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\') {
            *plain = false;
            s->p++;
        }
        s->p++;
    }
    if (s->p >= s->end)
        return false;
    *raw = start;
    *n = (size_t)(s->p - start);
    s->p++;
    return true;
}

/* Any value: strings and nested arrays/objects are skipped whole (strings
 * inside them too, so a bracket in a string does not count). */
static bool skip_value(scan *s)
{
    const char *raw;
    size_t n;
    bool plain;
    size_t depth = 0;
    do {
        if (s->p >= s->end)
            return false;
        char ch = *s->p;
        if (ch == '"') {
            if (!read_string(s, &raw, &n, &plain))
                return false;
        } else if (ch == '[' || ch == '{') {
            depth++;
            s->p++;
        } else if (ch == ']' || ch == '}') {
            if (depth == 0)
                return false;
            depth--;
            s->p++;
        } else if (depth == 0) {
            /* A number or literal: up to the next delimiter. */
            while (s->p < s->end && *s->p != ',' && *s->p != '}' &&
                   *s->p != ']' && *s->p != ' ' && *s->p != '\n' &&
                   *s->p != '\r' && *s->p != '\t')
                s->p++;
        } else {
            s->p++;
        }
    } while (depth > 0);
    return true;
}

/* A whole number of at most 15 digits at s->p (mids are counters). */
static bool read_count(scan *s, uint64_t *out)
{
    uint64_t x = 0;
    size_t digits = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && digits < 16) {
        x = x * 10 + (uint64_t)(*s->p - '0');
        s->p++;
        digits++;
    }
    if (digits == 0 || digits > 15)
        return false;
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return false;
    *out = x;
    return true;
}

static bool key_is(const char *raw, size_t n, const char *key)
{
    return n == strlen(key) && memcmp(raw, key, n) == 0;
}

/* One member's value; records it when it is one of the three we want. */
static bool read_member(scan *s, const char *key, size_t klen,
                        fl_msg_head *h, bool *kind_seen)
{
    const char *raw;
    size_t n;
    bool plain;
    if (key_is(key, klen, "from") && s->p < s->end && *s->p == '"') {
        if (!read_string(s, &raw, &n, &plain))
            return false;
        if (plain && n <= FL_MAX_ID) {
            char id[FL_MAX_ID_BUF];
            memcpy(id, raw, n);
            id[n] = '\0';
            if (fl__valid_id(id))
                memcpy(h->from, id, n + 1);
        }
        return true;
    }
    if (key_is(key, klen, "kind") && s->p < s->end && *s->p == '"') {
        if (!read_string(s, &raw, &n, &plain))
            return false;
        *kind_seen = true;
        h->is_error = !plain || key_is(raw, n, "error");
        return true;
    }
    if (key_is(key, klen, "mid") && s->p < s->end && *s->p >= '0' &&
        *s->p <= '9') {
        h->has_mid = read_count(s, &h->mid);
        return h->has_mid;
    }
    return skip_value(s);
}

void fl__scan_head(const void *payload, size_t len, fl_msg_head *h)
{
    memset(h, 0, sizeof *h);
    const char *p = payload;
    if (!p)
        len = 0;
    size_t n = len < FL_HEAD_SCAN_BYTES ? len : FL_HEAD_SCAN_BYTES;
    const char *nul = n ? memchr(p, 0, n) : NULL;
    /* p + 0 on a NULL payload is undefined, so an empty scan is spelled out. */
    scan s = {p, nul ? nul : (p ? p + n : p)};
    bool kind_seen = false;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '{') {
        s.p++;
        for (;;) {
            const char *key;
            size_t klen;
            bool plain;
            skip_ws(&s);
            if (!read_string(&s, &key, &klen, &plain))
                break;
            skip_ws(&s);
            if (s.p >= s.end || *s.p != ':')
                break;
            s.p++;
            skip_ws(&s);
            if (!read_member(&s, plain ? key : "", plain ? klen : 0, h,
                             &kind_seen))
                break;
            skip_ws(&s);
            if (s.p >= s.end || *s.p != ',')
                break;
            s.p++;
            if (h->from[0] && kind_seen && h->has_mid)
                break;
        }
    }
    if (!kind_seen)
        h->is_error = true;  /* cannot tell: do not answer */
}
