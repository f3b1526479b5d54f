/*
 * canvas_build.c - the C builders of floret.h's Canvas API. A canvas is its
 * canvas JSON text (docs/canvas.md) plus, when a builder was handed bad
 * input, the reason, which fl_node_apply reports instead of running it.
 * Depends on buf.h, codec.h (JSON checks), canvas_parse.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "canvas_parse.h"
#include "codec.h"

struct fl_canvas {
    fl_buf json;   /* NUL-terminated; len excludes the NUL */
    char *error;   /* NULL when valid */
};

static fl_canvas *canvas_new(void)
{
    fl_canvas *c = fl__calloc(1, sizeof *c);
    if (c)
        fl__buf_init(&c->json);
    return c;
}

void fl_canvas_free(fl_canvas *c)
{
    if (!c)
        return;
    fl__buf_free(&c->json);
    fl__free(c->error);
    fl__free(c);
}

/* Close c's JSON; NULL (and c freed) when memory ran out. */
static fl_canvas *seal(fl_canvas *c)
{
    fl__buf_putc(&c->json, '\0');
    if (!fl__buf_ok(&c->json)) {
        fl_canvas_free(c);
        return NULL;
    }
    c->json.len--;
    return c;
}

static void set_error(fl_canvas *c, const char *fmt, const char *a,
                      const char *b)
{
    char msg[256];
    if (c->error)
        return;
    snprintf(msg, sizeof msg, fmt, a, b);
    c->error = fl__strdup(msg);
}

/* Append JSON text checked to be of type want, or note why not. */
static void put_checked(fl_canvas *c, const char *what, const char *json,
                        int want, const char *fallback)
{
    char why[128];
    if (!json) {
        fl__buf_puts(&c->json, fallback);
        return;
    }
    if (fl__check_json(json, strlen(json), want, why, sizeof why) != FL_OK) {
        set_error(c, "%s: %s", what, why);
        fl__buf_puts(&c->json, fallback);
        return;
    }
    fl__buf_puts(&c->json, json);
}

static fl_canvas *sig(const char *task, const char *args, const char *kwargs,
                      bool immutable)
{
    fl_canvas *c = canvas_new();
    if (!c)
        return NULL;
    const char *name = task ? task : "";
    if (!fl__valid_id(name))
        set_error(c, "task name '%.64s' is not 1..64 bytes of "
                  "[A-Za-z0-9_.-]%s", name, "");
    fl__buf_puts(&c->json, "{\"task\":");
    fl__buf_put_jstr(&c->json, name, strlen(name));
    fl__buf_puts(&c->json, ",\"args\":");
    char what[96];
    snprintf(what, sizeof what, "%.64s args", name);
    put_checked(c, what, args, FL_TYPE_ARRAY, "[]");
    if (kwargs) {
        fl__buf_puts(&c->json, ",\"kwargs\":");
        snprintf(what, sizeof what, "%.64s kwargs", name);
        put_checked(c, what, kwargs, FL_TYPE_OBJECT, "{}");
    }
    if (immutable)
        fl__buf_puts(&c->json, ",\"immutable\":true");
    fl__buf_putc(&c->json, '}');
    return seal(c);
}

fl_canvas *fl_sig(const char *task, const char *args, const char *kwargs)
{
    return sig(task, args, kwargs, false);
}

fl_canvas *fl_sig_immutable(const char *task, const char *args,
                            const char *kwargs)
{
    return sig(task, args, kwargs, true);
}

/* {"<kind>":[members...]}; takes the members. */
static fl_canvas *list_of(const char *kind, fl_canvas **items, size_t n)
{
    fl_canvas *c = canvas_new();
    bool missing = false;
    for (size_t i = 0; i < n; i++)
        missing |= items[i] == NULL;
    if (c && !missing) {
        fl__buf_puts(&c->json, "{\"");
        fl__buf_puts(&c->json, kind);
        fl__buf_puts(&c->json, "\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                fl__buf_putc(&c->json, ',');
            fl__buf_put(&c->json, items[i]->json.data, items[i]->json.len);
            if (items[i]->error)
                set_error(c, "%s", items[i]->error, NULL);
        }
        fl__buf_puts(&c->json, "]}");
    }
    for (size_t i = 0; i < n; i++)
        fl_canvas_free(items[i]);
    if (!c || missing) {
        fl_canvas_free(c);
        return NULL;
    }
    return seal(c);
}

fl_canvas *fl_chain_of(fl_canvas **items, size_t n)
{
    return list_of("chain", items, n);
}

fl_canvas *fl_group_of(fl_canvas **items, size_t n)
{
    return list_of("group", items, n);
}

/* Collect a NULL-terminated argument list (counted first, so no array of
 * them sits on the stack); a NULL member cannot be told from the
 * terminator, so it simply ends the list early. Takes the members. */
static fl_canvas *variadic(const char *kind, fl_canvas *first, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    size_t n = 0;
    for (fl_canvas *c = first; c; c = va_arg(again, fl_canvas *))
        n++;
    va_end(again);
    fl_canvas **items = n ? fl__malloc(n * sizeof *items) : NULL;
    size_t k = 0;
    for (fl_canvas *c = first; c; c = va_arg(ap, fl_canvas *)) {
        if (items)
            items[k++] = c;
        else
            fl_canvas_free(c);
    }
    fl_canvas *c = n && !items ? NULL : list_of(kind, items, k);
    fl__free(items);
    return c;
}

fl_canvas *fl_chain(fl_canvas *first, ...)
{
    va_list ap;
    va_start(ap, first);
    fl_canvas *c = variadic("chain", first, ap);
    va_end(ap);
    return c;
}

fl_canvas *fl_group(fl_canvas *first, ...)
{
    va_list ap;
    va_start(ap, first);
    fl_canvas *c = variadic("group", first, ap);
    va_end(ap);
    return c;
}

fl_canvas *fl_chord(fl_canvas *header, fl_canvas *body)
{
    fl_canvas *c = header && body ? canvas_new() : NULL;
    if (c) {
        /* A header built with fl_group is {"group":[...]}: reuse its list. */
        const char *h = header->json.data;
        if (strncmp(h, "{\"group\":", 9) == 0) {
            fl__buf_puts(&c->json, "{\"chord\":");
            fl__buf_put(&c->json, h + 9, header->json.len - 10);
        } else {
            fl__buf_puts(&c->json, "{\"chord\":[");
            fl__buf_put(&c->json, h, header->json.len);
            fl__buf_putc(&c->json, ']');
        }
        fl__buf_puts(&c->json, ",\"body\":");
        fl__buf_put(&c->json, body->json.data, body->json.len);
        fl__buf_putc(&c->json, '}');
        if (header->error || body->error)
            set_error(c, "%s", header->error ? header->error : body->error,
                      NULL);
    }
    fl_canvas_free(header);
    fl_canvas_free(body);
    return c ? seal(c) : NULL;
}

static fl_canvas *fan(const char *kind, const char *task, const char *items,
                      size_t n)
{
    fl_canvas *c = canvas_new();
    if (!c)
        return NULL;
    const char *name = task ? task : "";
    if (!fl__valid_id(name))
        set_error(c, "task name '%.64s' is not valid%s", name, "");
    fl__buf_puts(&c->json, "{\"");
    fl__buf_puts(&c->json, kind);
    fl__buf_puts(&c->json, "\":");
    fl__buf_put_jstr(&c->json, name, strlen(name));
    fl__buf_puts(&c->json, ",\"items\":");
    put_checked(c, kind, items ? items : "", FL_TYPE_ARRAY, "[]");
    if (n) {
        fl__buf_puts(&c->json, ",\"n\":");
        fl__buf_put_u64(&c->json, n);
    }
    fl__buf_putc(&c->json, '}');
    return seal(c);
}

fl_canvas *fl_map(const char *task, const char *items)
{
    return fan("map", task, items, 0);
}

fl_canvas *fl_starmap(const char *task, const char *items)
{
    return fan("starmap", task, items, 0);
}

fl_canvas *fl_chunks(const char *task, const char *items, size_t n)
{
    fl_canvas *c = fan("chunks", task, items, n);
    if (c && n == 0)
        set_error(c, "chunks: n must be at least 1%s%s", "", "");
    return c;
}

fl_canvas *fl_canvas_set(fl_canvas *c, const fl_call_options *opt)
{
    if (!c || !opt || c->json.len < 2)
        return c;
    fl_buf o;
    fl__buf_init(&o);
    const char *sep = "";
    fl__buf_puts(&o, ",\"options\":{");
#define PUT_NUM(key, val, scale)                                          \
    if (val) {                                                            \
        fl__buf_puts(&o, sep);                                            \
        fl__buf_puts(&o, "\"" key "\":");                                 \
        fl__buf_put_double(&o, (double)(val) / (scale));                  \
        sep = ",";                                                        \
    }
    PUT_NUM("retries", opt->retries, 1)
    PUT_NUM("max_attempts", opt->max_attempts, 1)
    PUT_NUM("time_limit", opt->time_limit_ms, 1000.0)
    PUT_NUM("soft_time_limit", opt->soft_time_limit_ms, 1000.0)
    PUT_NUM("countdown", opt->countdown_ms, 1000.0)
    PUT_NUM("eta", opt->eta_ms, 1000.0)
    PUT_NUM("expires", opt->expires_ms, 1000.0)
    PUT_NUM("priority", opt->priority, 1)
#undef PUT_NUM
#define PUT_STR(key, val)                                                 \
    if (val) {                                                            \
        fl__buf_puts(&o, sep);                                            \
        fl__buf_puts(&o, "\"" key "\":");                                 \
        fl__buf_put_jstr(&o, val, strlen(val));                           \
        sep = ",";                                                        \
    }
    PUT_STR("route", opt->route)
    PUT_STR("rate_limit", opt->rate_limit)
#undef PUT_STR
    fl__buf_puts(&o, "}}");
    /* Replace the closing brace of c's object by the options. An object
     * that already has options keeps them (the engine reads the first). */
    c->json.len--;
    fl__buf_put(&c->json, o.data, o.len);
    bool ok = fl__buf_ok(&o);
    fl__buf_free(&o);
    if (!ok)
        c->json.failed = true;
    fl__buf_putc(&c->json, '\0');
    if (!fl__buf_ok(&c->json)) {
        set_error(c, "out of memory%s%s", "", "");
        return c;
    }
    c->json.len--;
    return c;
}

fl_canvas *fl_canvas_parse(const char *expr, char *err, size_t errlen,
                           size_t *col)
{
    size_t where = 0;
    fl_canvas *c = canvas_new();
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (fl__canvas_parse(expr, strlen(expr), &c->json, err, errlen,
                         &where) != FL_OK) {
        if (col)
            *col = where;
        fl_canvas_free(c);
        return NULL;
    }
    return c;
}

fl_canvas *fl_canvas_from_json(const char *json)
{
    fl_canvas *c = canvas_new();
    if (!c)
        return NULL;
    fl__buf_puts(&c->json, json ? json : "null");
    return seal(c);
}

const char *fl_canvas_json(const fl_canvas *c)
{
    return c ? c->json.data : NULL;
}

/* The tasks of canvas JSON v, counted as canvas.c builds them: a chord is
 * its header and body, a fan one task per item or per slice. */
static size_t count_tasks(const fl_value *v)
{
    const fl_value *m;
    size_t n = 0;
    if (fl_value_get(v, "task"))
        return 1;
    if ((m = fl_value_get(v, "chain")) || (m = fl_value_get(v, "group")) ||
        (m = fl_value_get(v, "chord"))) {
        for (const fl_value *k = fl_value_first(m); k; k = fl_value_next(k))
            n += count_tasks(k);
        if (fl_value_get(v, "chord"))
            n += count_tasks(fl_value_get(v, "body"));
        return n;
    }
    n = fl_value_count(fl_value_get(v, "items"));
    if (fl_value_get(v, "chunks")) {
        double per = fl_value_number(fl_value_get(v, "n"));
        if (!(per >= 1) || per > 1e9)
            return 0;
        return (n + (size_t)per - 1) / (size_t)per;
    }
    return fl_value_get(v, "map") || fl_value_get(v, "starmap") ? n : 0;
}

size_t fl_canvas_tasks(const fl_canvas *c)
{
    fl_value *v = NULL;
    size_t n;
    if (!c || c->error || fl_value_parse(c->json.data, c->json.len, &v) != FL_OK)
        return 0;
    n = count_tasks(v);
    fl_value_free(v);
    return n;
}

const char *fl_canvas_error(const fl_canvas *c)
{
    return c ? c->error : "out of memory";
}

fl_status fl_canvas_check(const fl_canvas *c, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!c || c->error) {
        snprintf(err, errlen, "%s", fl_canvas_error(c));
        return c ? FL_EINVAL : FL_ENOMEM;
    }
    return fl__canvas_validate(c->json.data, c->json.len, err, errlen);
}
