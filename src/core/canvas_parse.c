/*
 * canvas_parse.c - the `floret run` expression language, close to Celery's
 * Python, turned into canvas JSON (docs/canvas.md):
 *
 *   add(4,4) | mul(8) | mul(10)          chain; a step gets the previous result
 *   [add(2,2), add(4,4)]                 group
 *   [add(1,1), add(2,2)] | xsum()        chord (a group piped into a task)
 *   xsum.map([[0,1,2],[3,4]])            map;  add.starmap([[1,1],[2,2]])
 *   add.chunks([[1,1],[2,2],[3,3]], 2)   chunks of 2
 *   add.si(1,1)  add.s(1)                immutable / partial signature
 *   add(1,2).set(retries=3, time_limit=5)
 *   group(a, b)  chain(a, b)  chord([a, b], c)
 *
 * Arguments are JSON values; name=value makes a keyword argument. An error
 * gives the byte column where parsing stopped, so the CLI can draw a caret.
 * Depends on buf.h and codec.h (JSON validation); no allocation beyond the
 * output buffer.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "canvas_parse.h"
#include "defaults.h"
#include "codec.h"

typedef struct parser {
    const char *s;
    size_t pos, len;
    char *err;
    size_t errlen;
    size_t err_col;
    bool failed;
    unsigned depth;
    unsigned max_depth;   /* deepest atom so far, and where it starts: */
    size_t deepest_pos;   /* the caret of a canvas nested too deep */
} parser;

/* A bound on the parser's recursion; the canvas's own limit (checked on
 * the JSON made, FL_MAX_CANVAS_DEPTH) is reached first by groups and
 * chains, which take two JSON levels each. */
#define MAX_EXPR_DEPTH 32
#define STR_(x) #x
#define STR(x) STR_(x)

static bool fail(parser *p, const char *fmt, const char *arg)
{
    if (!p->failed) {
        snprintf(p->err, p->errlen, fmt, arg ? arg : "");
        p->err_col = p->pos;
        p->failed = true;
    }
    return false;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static bool peek(parser *p, char c)
{
    skip_ws(p);
    return p->pos < p->len && p->s[p->pos] == c;
}

static bool expect(parser *p, char c)
{
    char what[4] = {'\'', c, '\'', 0};
    if (!peek(p, c))
        return fail(p, "expected %s", what);
    p->pos++;
    return true;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* A name made of [A-Za-z0-9_.-], copied into out. */
static bool read_name(parser *p, char *out, size_t cap)
{
    skip_ws(p);
    size_t start = p->pos;
    while (p->pos < p->len && name_char(p->s[p->pos]))
        p->pos++;
    size_t n = p->pos - start;
    if (n == 0) {
        p->pos = start;
        return fail(p, "expected a task name, a [group] or (...)", NULL);
    }
    if (n >= cap) {
        p->pos = start;
        return fail(p, "name is longer than 64 bytes", NULL);
    }
    memcpy(out, p->s + start, n);
    out[n] = '\0';
    return true;
}

/* The extent of one JSON value starting at p->pos. */
static bool scan_json(parser *p, size_t *start, size_t *end)
{
    skip_ws(p);
    *start = p->pos;
    int depth = 0;
    bool in_str = false;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (in_str) {
            if (c == '\\')
                p->pos++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                break;
            depth--;
        } else if (depth == 0 && (c == ',' || c == ')')) {
            break;
        }
        p->pos++;
        if (depth == 0 && !in_str && (c == '"' || c == ']' || c == '}'))
            break;
    }
    *end = p->pos;
    while (*end > *start && (p->s[*end - 1] == ' ' || p->s[*end - 1] == '\t'))
        (*end)--;
    if (*end == *start)
        return fail(p, "expected a JSON value", NULL);
    return true;
}

static bool json_value(parser *p, fl_buf *out, const char *what)
{
    size_t a, b;
    if (!scan_json(p, &a, &b))
        return false;
    char why[96];
    if (fl__check_json(p->s + a, b - a, -1, why, sizeof why) != FL_OK) {
        p->pos = a;
        char msg[192];
        bool bare = name_char(p->s[a]) && p->s[a] != '-' &&
                    !(p->s[a] >= '0' && p->s[a] <= '9');
        snprintf(msg, sizeof msg, "%s is not JSON%s", what,
                 bare ? " (a bare word is not a string: write \"...\")" : "");
        return fail(p, "%s", msg);
    }
    fl__buf_put(out, p->s + a, b - a);
    return true;
}

/* Is the text at pos `ident =` (a keyword argument)? */
static bool at_keyword(parser *p, size_t *klen)
{
    skip_ws(p);
    size_t i = p->pos;
    while (i < p->len && name_char(p->s[i]) && p->s[i] != '.')
        i++;
    size_t n = i - p->pos;
    while (i < p->len && p->s[i] == ' ')
        i++;
    if (n && i < p->len && p->s[i] == '=' &&
        !(p->s[p->pos] >= '0' && p->s[p->pos] <= '9') &&
        p->s[p->pos] != '-') {
        *klen = n;
        return true;
    }
    return false;
}

/* (a, b, k=v): positional args into args, keyword args into kwargs. */
static bool arg_list(parser *p, fl_buf *args, fl_buf *kwargs)
{
    if (!expect(p, '('))
        return false;
    fl__buf_putc(args, '[');
    fl__buf_putc(kwargs, '{');
    size_t na = 0, nk = 0;
    while (!peek(p, ')')) {
        if (na + nk && !expect(p, ','))
            return false;
        size_t klen;
        char what[32];
        if (at_keyword(p, &klen)) {
            if (nk++)
                fl__buf_putc(kwargs, ',');
            fl__buf_put_jstr(kwargs, p->s + p->pos, klen);
            fl__buf_putc(kwargs, ':');
            p->pos += klen;
            expect(p, '=');
            snprintf(what, sizeof what, "keyword argument");
            if (!json_value(p, kwargs, what))
                return false;
        } else {
            if (nk)
                return fail(p, "positional argument after keyword argument",
                            NULL);
            if (na++)
                fl__buf_putc(args, ',');
            snprintf(what, sizeof what, "argument %zu", na);
            if (!json_value(p, args, what))
                return false;
        }
    }
    p->pos++;
    fl__buf_putc(args, ']');
    fl__buf_putc(kwargs, '}');
    return true;
}

static bool expr(parser *p, fl_buf *out);

/* A comma-separated list of expressions up to `close`, as a JSON array. */
static bool expr_list(parser *p, fl_buf *out, char close)
{
    fl__buf_putc(out, '[');
    size_t n = 0;
    while (!peek(p, close)) {
        if (n++ && !expect(p, ','))
            return false;
        if (peek(p, close))
            break; /* trailing comma */
        if (!expr(p, out))
            return false;
        if (!peek(p, ',') && !peek(p, close)) {
            char what[4] = {'\'', close, '\'', 0};
            return fail(p, "expected ',' or %s", what);
        }
        if (peek(p, ','))
            fl__buf_putc(out, ',');
    }
    p->pos++;
    /* drop a trailing comma written before the close */
    if (out->len && out->data[out->len - 1] == ',')
        out->len--;
    fl__buf_putc(out, ']');
    return true;
}

static bool signature(parser *p, fl_buf *out, const char *name,
                      bool immutable)
{
    fl_buf args, kwargs;
    fl__buf_init(&args);
    fl__buf_init(&kwargs);
    bool ok = arg_list(p, &args, &kwargs);
    if (ok) {
        fl__buf_puts(out, "{\"task\":");
        fl__buf_put_jstr(out, name, strlen(name));
        fl__buf_puts(out, ",\"args\":");
        fl__buf_put(out, args.data, args.len);
        if (kwargs.len > 2) {
            fl__buf_puts(out, ",\"kwargs\":");
            fl__buf_put(out, kwargs.data, kwargs.len);
        }
        if (immutable)
            fl__buf_puts(out, ",\"immutable\":true");
        fl__buf_putc(out, '}');
    }
    fl__buf_free(&args);
    fl__buf_free(&kwargs);
    return ok;
}

/* name.map(items) / name.starmap(items) / name.chunks(items, n) */
static bool fan(parser *p, fl_buf *out, const char *name, const char *kind)
{
    if (!expect(p, '('))
        return false;
    fl__buf_puts(out, "{\"");
    fl__buf_puts(out, kind);
    fl__buf_puts(out, "\":");
    fl__buf_put_jstr(out, name, strlen(name));
    fl__buf_puts(out, ",\"items\":");
    if (!json_value(p, out, "items"))
        return false;
    if (strcmp(kind, "chunks") == 0) {
        if (!expect(p, ','))
            return false;
        fl__buf_puts(out, ",\"n\":");
        if (!json_value(p, out, "chunk size"))
            return false;
    }
    fl__buf_putc(out, '}');
    return expect(p, ')');
}

/* Split "add.si" into "add" + method "si" when the tail is a method. */
static const char *method_of(char *name)
{
    static const char *methods[] = {"si", "s", "map", "starmap", "chunks"};
    char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return NULL;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(dot + 1, methods[i]) == 0) {
            *dot = '\0';
            return methods[i];
        }
    }
    return NULL;
}

static bool named(parser *p, fl_buf *out)
{
    char name[FL_MAX_ID + 16];
    size_t at = p->pos;
    if (!read_name(p, name, sizeof name))
        return false;
    if (strcmp(name, "group") == 0 || strcmp(name, "chain") == 0) {
        fl__buf_puts(out, name[1] == 'r' ? "{\"group\":" : "{\"chain\":");
        if (!expect(p, '(') || !expr_list(p, out, ')'))
            return false;
        fl__buf_putc(out, '}');
        return true;
    }
    if (strcmp(name, "chord") == 0) {
        fl__buf_puts(out, "{\"chord\":");
        if (!expect(p, '(') || !expect(p, '[') || !expr_list(p, out, ']') ||
            !expect(p, ','))
            return false;
        fl__buf_puts(out, ",\"body\":");
        if (!expr(p, out) || !expect(p, ')'))
            return false;
        fl__buf_putc(out, '}');
        return true;
    }
    const char *m = method_of(name);
    if (!fl__valid_id(name)) {
        p->pos = at;
        return fail(p, "'%s' is not a valid task name", name);
    }
    if (!m)
        return signature(p, out, name, false);
    if (strcmp(m, "s") == 0 || strcmp(m, "si") == 0)
        return signature(p, out, name, m[1] == 'i');
    return fan(p, out, name, m);
}

static bool atom(parser *p, fl_buf *out)
{
    if (++p->depth > MAX_EXPR_DEPTH)
        return fail(p, "expression nested more than " STR(MAX_EXPR_DEPTH)
                    " levels deep (brackets, parentheses and calls)", NULL);
    if (p->depth > p->max_depth) {
        p->max_depth = p->depth;
        skip_ws(p);
        p->deepest_pos = p->pos;
    }
    bool ok;
    if (peek(p, '[')) {
        p->pos++;
        fl__buf_puts(out, "{\"group\":");
        ok = expr_list(p, out, ']');
        fl__buf_putc(out, '}');
    } else if (peek(p, '(')) {
        p->pos++;
        ok = expr(p, out) && expect(p, ')');
    } else {
        ok = named(p, out);
    }
    p->depth--;
    return ok;
}

/* .set(k=v, ...) after an atom: wraps it as {"chain":[atom],"options":{}}
 * when the atom is not a plain object we can extend in place. */
static bool options(parser *p, fl_buf *out)
{
    while (peek(p, '.')) {
        size_t at = p->pos;
        p->pos++;
        char name[16];
        if (!read_name(p, name, sizeof name) || strcmp(name, "set") != 0) {
            p->pos = at + 1;
            p->failed = false;
            return fail(p, "expected .set(...) here", NULL);
        }
        fl_buf args, kwargs;
        fl__buf_init(&args);
        fl__buf_init(&kwargs);
        skip_ws(p);
        size_t open = p->pos + 1;
        bool ok = arg_list(p, &args, &kwargs);
        if (ok && args.len > 2) {
            p->pos = open;
            ok = fail(p, ".set takes only keyword arguments (retries=3)", NULL);
        }
        if (ok) {
            /* out ends with the atom's closing '}': add "options" to it. */
            out->len--;
            fl__buf_puts(out, ",\"options\":");
            fl__buf_put(out, kwargs.data, kwargs.len);
            fl__buf_putc(out, '}');
        }
        fl__buf_free(&args);
        fl__buf_free(&kwargs);
        if (!ok)
            return false;
    }
    return true;
}

static bool term(parser *p, fl_buf *out)
{
    return atom(p, out) && options(p, out);
}

static bool expr(parser *p, fl_buf *out)
{
    size_t mark = out->len;
    if (!term(p, out))
        return false;
    if (!peek(p, '|'))
        return true;
    /* a | b | c: a chain of the terms. */
    fl_buf first;
    fl__buf_init(&first);
    fl__buf_put(&first, out->data + mark, out->len - mark);
    out->len = mark;
    fl__buf_puts(out, "{\"chain\":[");
    fl__buf_put(out, first.data, first.len);
    fl__buf_free(&first);
    while (peek(p, '|')) {
        p->pos++;
        fl__buf_putc(out, ',');
        if (!term(p, out))
            return false;
    }
    fl__buf_puts(out, "]}");
    return true;
}

fl_status fl__canvas_parse(const char *text, size_t len, fl_buf *out,
                           char *err, size_t errlen, size_t *col)
{
    parser p = {.s = text, .len = len, .err = err, .errlen = errlen};
    err[0] = '\0';
    *col = 0;
    bool ok = expr(&p, out);
    if (ok) {
        skip_ws(&p);
        if (p.pos < p.len)
            ok = fail(&p, "unexpected text after the expression", NULL);
    }
    if (!ok) {
        *col = p.err_col;
        return FL_EINVAL;
    }
    fl__buf_putc(out, '\0');
    if (!fl__buf_ok(out))
        return FL_ENOMEM;
    out->len--;
    /* What --show prints must be what fl_node_apply takes. */
    const char *deep = fl__json_depth_check(out->data, out->len,
                                            FL_MAX_CANVAS_DEPTH);
    if (deep) {
        snprintf(err, errlen, "workflow too deeply nested: its canvas JSON is "
                 "%s (each group, chain or chord takes 2 levels)", deep);
        *col = p.deepest_pos;
        return FL_EINVAL;
    }
    return FL_OK;
}
