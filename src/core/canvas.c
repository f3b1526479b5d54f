/*
 * canvas.c - the owner's workflow engine: Celery's Canvas (signature, chain,
 * group, chord, map, starmap, chunks) as a tree the owner drives. A leaf is
 * submitted as an ordinary owned task the moment its input exists; when it
 * ends, its parent decides what runs next. The whole tree reports to the
 * waiter once, through the same `final` callback as a plain task.
 *
 * A workflow arrives as canvas JSON (docs/canvas.md): the C builders, the
 * `floret run` expression parser and remote `submit` messages all produce
 * it, so there is one validator and one engine.
 * Depends on internal.h; snprintf only for messages.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "canvas_parse.h"
#include "dtoa.h"
#include "internal.h"

typedef enum { WF_TASK, WF_CHAIN, WF_GROUP } wf_kind;

struct fl_wf {
    wf_kind kind;
    struct fl_wf *parent;
    size_t index;            /* position in the parent */
    struct fl_wf **kids;
    size_t nkids;
    fl_wfroot *root;
    /* WF_TASK */
    char *name;
    char *args;              /* JSON array text */
    char *kwargs;            /* JSON object text */
    bool immutable;
    fl_call_options opt;
    char *route;
    char *rate;              /* options.rate_limit, or NULL */
    uint64_t task_id;        /* 0 when not submitted or ended */
    /* WF_CHAIN: next step; WF_GROUP: members ended */
    size_t next;
    size_t ended;
    char **results;          /* WF_GROUP: JSON text per member */
    bool failed;
    char *err_type, *err_message;
};

struct fl_wfroot {
    uint64_t id;
    struct fl_wf *top;
    bool revoked;
    bool started;
    struct fl_wfroot *prev, *next;
};

/* ------------------------------------------------------------ building */

typedef struct build_ctx {
    fl_core *c;
    fl_wfroot *root;
    char *err;
    size_t errlen;
    size_t leaves;
} build_ctx;

static void wf_free(struct fl_wf *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nkids; i++)
        wf_free(w->kids[i]);
    if (w->results)
        for (size_t i = 0; i < w->nkids; i++)
            fl__free(w->results[i]);
    fl__free(w->results);
    fl__free(w->kids);
    fl__free(w->name);
    fl__free(w->args);
    fl__free(w->kwargs);
    fl__free(w->route);
    fl__free(w->rate);
    fl__free(w->err_type);
    fl__free(w->err_message);
    fl__free(w);
}

static bool bad(build_ctx *b, const char *path, const char *what)
{
    snprintf(b->err, b->errlen, "%s: %s", path, what);
    return false;
}

static struct fl_wf *wf_new(build_ctx *b, wf_kind kind, size_t nkids)
{
    struct fl_wf *w = fl__calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->kind = kind;
    w->root = b->root;
    if (nkids) {
        w->kids = fl__calloc(nkids, sizeof *w->kids);
        if (!w->kids) {
            fl__free(w);
            return NULL;
        }
    }
    w->nkids = nkids;
    return w;
}

static struct fl_wf *build(build_ctx *b, const fl_value *v, const char *path,
                           const fl_call_options *inherited);

static bool seconds_ms(build_ctx *b, const fl_value *o, const char *key,
                       uint32_t *out, const char *path)
{
    const fl_value *v = fl_value_get(o, key);
    if (!v)
        return true;
    double s = fl_value_number(v);
    if (fl_value_type(v) != FL_TYPE_NUMBER || !(s >= 0) || s > 4e6) {
        char what[96];
        snprintf(what, sizeof what, "options.%s must be seconds (a number "
                 "from 0 to 4000000)", key);
        return bad(b, path, what);
    }
    *out = (uint32_t)(s * 1000.0 + 0.5);
    return true;
}

static bool count_opt(build_ctx *b, const fl_value *o, const char *key,
                      uint32_t *out, const char *path)
{
    const fl_value *v = fl_value_get(o, key);
    if (!v)
        return true;
    double n = fl_value_number(v);
    if (fl_value_type(v) != FL_TYPE_NUMBER || !(n >= 0) || n > 1000 ||
        n != (double)(uint32_t)n) {
        char what[96];
        snprintf(what, sizeof what, "options.%s must be an integer from 0 "
                 "to 1000", key);
        return bad(b, path, what);
    }
    *out = (uint32_t)n;
    return true;
}

/* ms as seconds for a message: "3", "2.5" (no %g: a board's printf may
 * lack it). */
static void seconds_text(uint32_t ms, char out[FL_DTOA_BUF])
{
    if (ms % 1000u == 0)
        snprintf(out, FL_DTOA_BUF, "%u", (unsigned)(ms / 1000u));
    else
        fl__dtoa(ms / 1000.0, out);
}

/* eta: ISO 8601 text or Unix seconds (fl_eta_parse). */
static bool eta_opt(build_ctx *b, const fl_value *o, uint64_t *out,
                    const char *path)
{
    const fl_value *v = fl_value_get(o, "eta");
    if (!v)
        return true;
    const char *text = fl_value_string(v, NULL);
    double n = fl_value_number(v);
    if (text ? fl_eta_parse(text, out) == FL_OK
             : fl_value_type(v) == FL_TYPE_NUMBER && n >= 0 &&
                   n < 253402300800.0) {
        if (!text)
            *out = (uint64_t)(n * 1000.0 + 0.5);
        return true;
    }
    return bad(b, path, "options.eta must be a time in UTC such as "
               "\"2026-12-02T18:00:00Z\" or Unix seconds");
}

static bool priority_opt(build_ctx *b, const fl_value *o, uint8_t *out,
                         const char *path)
{
    const fl_value *v = fl_value_get(o, "priority");
    if (!v)
        return true;
    double n = fl_value_number(v);
    if (fl_value_type(v) != FL_TYPE_NUMBER || !(n >= 0) ||
        n > FL_PRIORITY_MAX || n != (double)(uint32_t)n)
        return bad(b, path, "options.priority must be an integer from 0 to "
                   "9 (higher first)");
    *out = (uint8_t)n;
    return true;
}

/* Read "options" of v over the inherited ones; route and rate_limit are
 * borrowed from v. */
static bool read_options(build_ctx *b, const fl_value *v, const char *path,
                         fl_call_options *opt)
{
    const fl_value *o = fl_value_get(v, "options");
    if (!o)
        return true;
    if (fl_value_type(o) != FL_TYPE_OBJECT)
        return bad(b, path, "options must be an object");
    static const char *known[] = {"retries", "max_attempts", "time_limit",
                                  "soft_time_limit", "countdown", "eta",
                                  "expires", "route", "priority",
                                  "rate_limit"};
    for (size_t i = 0; i < fl_value_count(o); i++) {
        const char *k = fl_value_key_at(o, i);
        bool ok = false;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            ok |= strcmp(k, known[j]) == 0;
        if (!ok) {
            char what[192];
            snprintf(what, sizeof what, "unknown option '%.40s' (known: "
                     "retries, max_attempts, time_limit, soft_time_limit, "
                     "countdown, eta, expires, route, priority, rate_limit)",
                     k);
            return bad(b, path, what);
        }
    }
    const fl_value *r = fl_value_get(o, "route");
    if (r) {
        const char *s = fl_value_string(r, NULL);
        if (!s || (!fl__valid_id(s) && !fl__valid_tag(s, strlen(s))))
            return bad(b, path, "options.route must be a node id or a tag key=value");
        opt->route = s;
    }
    const fl_value *rl = fl_value_get(o, "rate_limit");
    if (rl) {
        const char *s = fl_value_string(rl, NULL);
        fl_rate_spec spec;
        if (!s || !fl__rate_parse(s, strlen(s), &spec))
            return bad(b, path, "options.rate_limit must be a rate such as "
                       "\"10/s\", \"100/m\" or \"5/h\" (1 to 1000000 a "
                       "second, minute or hour)");
        opt->rate_limit = s;
    }
    if (!count_opt(b, o, "retries", &opt->retries, path) ||
        !count_opt(b, o, "max_attempts", &opt->max_attempts, path) ||
        !seconds_ms(b, o, "time_limit", &opt->time_limit_ms, path) ||
        !seconds_ms(b, o, "soft_time_limit", &opt->soft_time_limit_ms,
                    path) ||
        !seconds_ms(b, o, "countdown", &opt->countdown_ms, path) ||
        !seconds_ms(b, o, "expires", &opt->expires_ms, path) ||
        !eta_opt(b, o, &opt->eta_ms, path) ||
        !priority_opt(b, o, &opt->priority, path))
        return false;
    if (opt->soft_time_limit_ms && opt->time_limit_ms &&
        opt->soft_time_limit_ms >= opt->time_limit_ms) {
        char what[160], soft[FL_DTOA_BUF], hard[FL_DTOA_BUF];
        seconds_text(opt->soft_time_limit_ms, soft);
        seconds_text(opt->time_limit_ms, hard);
        snprintf(what, sizeof what, "options.soft_time_limit (%s s) must be "
                 "less than options.time_limit (%s s)", soft, hard);
        return bad(b, path, what);
    }
    return true;
}

static struct fl_wf *leaf(build_ctx *b, const char *name, const char *args,
                          const char *kwargs, bool immutable,
                          const fl_call_options *opt)
{
    struct fl_wf *w = wf_new(b, WF_TASK, 0);
    if (!w)
        return NULL;
    w->name = fl__strdup(name);
    w->args = fl__strdup(args);
    w->kwargs = fl__strdup(kwargs ? kwargs : "{}");
    w->immutable = immutable;
    w->opt = *opt;
    w->opt.route = NULL;
    w->opt.rate_limit = NULL;
    if (opt->route)
        w->route = fl__strdup(opt->route);
    if (opt->rate_limit)
        w->rate = fl__strdup(opt->rate_limit);
    if (!w->name || !w->args || !w->kwargs || (opt->route && !w->route) ||
        (opt->rate_limit && !w->rate)) {
        wf_free(w);
        return NULL;
    }
    b->leaves++;
    return w;
}

static const char *task_name(build_ctx *b, const fl_value *v, const char *key,
                             const char *path)
{
    const char *name = fl_value_string(fl_value_get(v, key), NULL);
    if (!name || !fl__valid_id(name)) {
        char what[96];
        snprintf(what, sizeof what, "%s must be a task name", key);
        bad(b, path, what);
        return NULL;
    }
    return name;
}

static struct fl_wf *build_sig(build_ctx *b, const fl_value *v,
                               const char *path, const fl_call_options *opt)
{
    const char *name = task_name(b, v, "task", path);
    if (!name)
        return NULL;
    const fl_value *args = fl_value_get(v, "args");
    const fl_value *kwargs = fl_value_get(v, "kwargs");
    const fl_value *imm = fl_value_get(v, "immutable");
    if (args && fl_value_type(args) != FL_TYPE_ARRAY)
        return bad(b, path, "args must be an array"), NULL;
    if (kwargs && fl_value_type(kwargs) != FL_TYPE_OBJECT)
        return bad(b, path, "kwargs must be an object"), NULL;
    if (imm && fl_value_type(imm) != FL_TYPE_BOOL)
        return bad(b, path, "immutable must be true or false"), NULL;
    char *a = args ? fl_value_to_json(args, NULL) : NULL;
    char *k = kwargs ? fl_value_to_json(kwargs, NULL) : NULL;
    struct fl_wf *w = NULL;
    if ((!args || a) && (!kwargs || k))
        w = leaf(b, name, a ? a : "[]", k, fl_value_bool(imm), opt);
    fl_free(a);
    fl_free(k);
    return w;
}

/* map, starmap and chunks: one leaf per element (or per slice of n). */
static struct fl_wf *build_fan(build_ctx *b, const fl_value *v,
                               const char *kind, const char *path,
                               const fl_call_options *opt)
{
    const char *name = task_name(b, v, kind, path);
    if (!name)
        return NULL;
    const fl_value *items = fl_value_get(v, "items");
    if (fl_value_type(items) != FL_TYPE_ARRAY)
        return bad(b, path, "items must be an array"), NULL;
    size_t n = fl_value_count(items), per = 1;
    bool star = strcmp(kind, "starmap") == 0, chunks = strcmp(kind, "chunks") == 0;
    if (chunks) {
        double d = fl_value_number(fl_value_get(v, "n"));
        if (!(d >= 1) || d > 1e9 || d != (double)(size_t)d)
            return bad(b, path, "chunks needs n, a positive integer"), NULL;
        per = (size_t)d;
    }
    size_t nkids = chunks ? (n + per - 1) / per : n;
    struct fl_wf *g = wf_new(b, WF_GROUP, nkids);
    if (!g && nkids)
        return NULL;
    if (!g)
        g = wf_new(b, WF_GROUP, 0);
    const fl_value *item = fl_value_first(items), *slice = item;
    for (size_t i = 0; g && i < nkids; i++, item = fl_value_next(item)) {
        fl_buf a;
        fl__buf_init(&a);
        if (star && fl_value_type(item) != FL_TYPE_ARRAY) {
            char p[64];
            snprintf(p, sizeof p, "%s.items[%zu]", path, i);
            bad(b, p, "starmap items must be argument arrays");
            fl__buf_free(&a);
            wf_free(g);
            return NULL;
        }
        char *text = NULL;
        if (chunks) {
            fl__buf_puts(&a, "[");
            fl__buf_put_jstr(&a, name, strlen(name));
            fl__buf_puts(&a, ",[");
            for (size_t k = i * per; k < n && k < (i + 1) * per;
                 k++, slice = fl_value_next(slice)) {
                char *t = fl_value_to_json(slice, NULL);
                if (k > i * per)
                    fl__buf_putc(&a, ',');
                if (t)
                    fl__buf_puts(&a, t);
                else
                    a.failed = true;
                fl_free(t);
            }
            fl__buf_puts(&a, "]]");
        } else {
            text = fl_value_to_json(item, NULL);
            if (!star)
                fl__buf_putc(&a, '[');
            if (text)
                fl__buf_puts(&a, text);
            else
                a.failed = true;
            if (!star)
                fl__buf_putc(&a, ']');
            fl_free(text);
        }
        fl__buf_putc(&a, '\0');
        struct fl_wf *k = fl__buf_ok(&a)
                              ? leaf(b, chunks ? "fl.starmap" : name, a.data,
                                     NULL, true, opt)
                              : NULL;
        fl__buf_free(&a);
        if (!k) {
            wf_free(g);
            return NULL;
        }
        k->parent = g;
        k->index = i;
        g->kids[i] = k;
    }
    return g;
}

static struct fl_wf *build_list(build_ctx *b, const fl_value *list,
                                wf_kind kind, const char *path,
                                const fl_call_options *opt)
{
    if (fl_value_type(list) != FL_TYPE_ARRAY)
        return bad(b, path, "expected an array of signatures"), NULL;
    size_t n = fl_value_count(list);
    if (kind == WF_CHAIN && n == 0)
        return bad(b, path, "a chain needs at least one step"), NULL;
    struct fl_wf *w = wf_new(b, kind, n);
    if (!w)
        return NULL;
    const fl_value *m = fl_value_first(list);
    for (size_t i = 0; i < n; i++, m = fl_value_next(m)) {
        char p[256];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        struct fl_wf *k = build(b, m, p, opt);
        if (!k) {
            wf_free(w);
            return NULL;
        }
        k->parent = w;
        k->index = i;
        w->kids[i] = k;
    }
    return w;
}

/* chord(header, body) runs exactly as chain(group(header), body). */
static struct fl_wf *build_chord(build_ctx *b, const fl_value *v,
                                 const char *path, const fl_call_options *opt)
{
    char p[256];
    snprintf(p, sizeof p, "%s.chord", path);
    struct fl_wf *head = build_list(b, fl_value_get(v, "chord"), WF_GROUP, p,
                                    opt);
    if (!head)
        return NULL;
    snprintf(p, sizeof p, "%s.body", path);
    const fl_value *bodyv = fl_value_get(v, "body");
    struct fl_wf *body = bodyv ? build(b, bodyv, p, opt)
                               : (bad(b, path, "a chord needs a body"), NULL);
    struct fl_wf *w = body ? wf_new(b, WF_CHAIN, 2) : NULL;
    if (!w) {
        wf_free(head);
        wf_free(body);
        return NULL;
    }
    w->kids[0] = head;
    w->kids[1] = body;
    head->parent = body->parent = w;
    body->index = 1;
    return w;
}

static struct fl_wf *build(build_ctx *b, const fl_value *v, const char *path,
                           const fl_call_options *inherited)
{
    fl_call_options opt = *inherited;
    if (fl_value_type(v) != FL_TYPE_OBJECT)
        return bad(b, path, "expected a signature object"), NULL;
    if (!read_options(b, v, path, &opt))
        return NULL;
    if (fl_value_get(v, "task"))
        return build_sig(b, v, path, &opt);
    char p[256];
    if (fl_value_get(v, "chain")) {
        snprintf(p, sizeof p, "%s.chain", path);
        return build_list(b, fl_value_get(v, "chain"), WF_CHAIN, p, &opt);
    }
    if (fl_value_get(v, "group")) {
        snprintf(p, sizeof p, "%s.group", path);
        return build_list(b, fl_value_get(v, "group"), WF_GROUP, p, &opt);
    }
    if (fl_value_get(v, "chord"))
        return build_chord(b, v, path, &opt);
    static const char *fans[] = {"map", "starmap", "chunks"};
    for (size_t i = 0; i < 3; i++)
        if (fl_value_get(v, fans[i]))
            return build_fan(b, v, fans[i], path, &opt);
    return bad(b, path, "expected one of task, chain, group, chord, map, "
               "starmap, chunks"), NULL;
}

/* ------------------------------------------------------------ running */

static void node_ended(fl_core *c, struct fl_wf *w, bool ok, char *value,
                       const char *err_type, const char *err_message,
                       uint64_t now);

/* "[input, a, b]" from input and "[a, b]". */
static char *prepend_arg(const char *input, const char *args)
{
    const char *rest = args;
    while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
        rest++;
    rest++; /* the '[' of a validated array */
    const char *r = rest;
    while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
        r++;
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_putc(&b, '[');
    fl__buf_puts(&b, input);
    if (*r != ']')
        fl__buf_putc(&b, ',');
    fl__buf_puts(&b, rest);
    fl__buf_putc(&b, '\0');
    if (!fl__buf_ok(&b)) {
        fl__buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void start(fl_core *c, struct fl_wf *w, const char *input,
                  uint64_t now);

static void start_task(fl_core *c, struct fl_wf *w, const char *input,
                       uint64_t now)
{
    char *args = (!w->immutable && input) ? prepend_arg(input, w->args) : NULL;
    if (!w->immutable && input && !args) {
        node_ended(c, w, false, NULL, "MemoryError", "out of memory", now);
        return;
    }
    const char *a = args ? args : w->args;
    /* A previous result prepended (or a group's list) adds a level: say
     * so here rather than as a refused submit. */
    const char *deep = fl__json_depth_check(a, strlen(a), FL_MAX_ARG_DEPTH);
    if (deep) {
        char msg[192];
        snprintf(msg, sizeof msg, "%s: its arguments are %s for task "
                 "arguments (a lease carries them 3 levels down)", w->name,
                 deep);
        fl__free(args);
        node_ended(c, w, false, NULL, "ValueError", msg, now);
        return;
    }
    fl_submit s = {.name = w->name, .args_json = a, .args_len = strlen(a),
                   .kwargs_json = w->kwargs, .kwargs_len = strlen(w->kwargs),
                   .opt = w->opt};
    s.opt.route = w->route;
    s.opt.rate_limit = w->rate;
    uint64_t id = 0;
    fl_status st = fl__owner_submit(c, &s, now, w, &id);
    fl__free(args);
    if (st != FL_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s could not be queued: %s", w->name,
                 fl_strerror(st));
        node_ended(c, w, false, NULL, st == FL_ETOOBIG ? "TooBig" : "ValueError",
                   msg, now);
        return;
    }
    w->task_id = id;
}

static void start(fl_core *c, struct fl_wf *w, const char *input,
                  uint64_t now)
{
    switch (w->kind) {
    case WF_TASK:
        start_task(c, w, input, now);
        break;
    case WF_CHAIN:
        w->next = 1;
        start(c, w->kids[0], input, now);
        break;
    case WF_GROUP:
        if (w->nkids == 0) {
            char *empty = fl__strdup("[]");
            node_ended(c, w, empty != NULL, empty, "MemoryError",
                       "out of memory", now);
            return;
        }
        w->results = fl__calloc(w->nkids, sizeof *w->results);
        if (!w->results) {
            node_ended(c, w, false, NULL, "MemoryError", "out of memory", now);
            return;
        }
        /* The group cannot end before its last member starts, and may end
         * (and be freed) as that one starts: touch w no more after it. */
        for (size_t i = 0, n = w->nkids; i < n; i++)
            start(c, w->kids[i], input, now);
        break;
    }
}

static const char *describe(const struct fl_wf *w)
{
    switch (w->kind) {
    case WF_TASK:
        return w->name;
    case WF_CHAIN:
        return "chain";
    default:
        return "group";
    }
}

/* The list of member results, null where a member failed. */
static char *group_list(const struct fl_wf *w)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_putc(&b, '[');
    for (size_t i = 0; i < w->nkids; i++) {
        if (i)
            fl__buf_putc(&b, ',');
        fl__buf_puts(&b, w->results[i] ? w->results[i] : "null");
    }
    fl__buf_putc(&b, ']');
    fl__buf_putc(&b, '\0');
    if (!fl__buf_ok(&b)) {
        fl__buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void root_ended(fl_core *c, fl_wfroot *r, bool ok, char *value,
                       const char *err_type, const char *err_message);

static void group_member_ended(fl_core *c, struct fl_wf *g, size_t i, bool ok,
                               char *value, const char *err_type,
                               const char *err_message, uint64_t now)
{
    g->ended++;
    if (ok) {
        g->results[i] = value;
    } else if (!g->failed) {
        g->failed = true;
        g->err_type = fl__strdup(err_type ? err_type : "TaskError");
        g->err_message = fl__strdup_printf(
            FL_MAX_ERROR_MESSAGE, "group member %zu (%s) failed: %s", i + 1,
            describe(g->kids[i]), err_message ? err_message : "");
    }
    if (g->ended < g->nkids)
        return;
    char *list = group_list(g);
    if (!g->failed) {
        node_ended(c, g, list != NULL, list, "MemoryError", "out of memory",
                   now);
        return;
    }
    if (!g->parent) {
        /* The waiter gets the members that did succeed with the error. */
        root_ended(c, g->root, false, list, g->err_type, g->err_message);
        return;
    }
    fl__free(list);
    node_ended(c, g, false, NULL, g->err_type, g->err_message, now);
}

static void chain_step_ended(fl_core *c, struct fl_wf *ch, size_t i, bool ok,
                             char *value, const char *err_type,
                             const char *err_message, uint64_t now)
{
    if (!ok) {
        char *msg = fl__strdup_printf(
            FL_MAX_ERROR_MESSAGE, "chain step %zu (%s) failed: %s", i + 1,
            describe(ch->kids[i]), err_message ? err_message : "");
        node_ended(c, ch, false, NULL, err_type,
                   msg ? msg : "out of memory", now);
        fl__free(msg);
        return;
    }
    if (ch->next < ch->nkids && !ch->root->revoked) {
        struct fl_wf *k = ch->kids[ch->next++];
        start(c, k, value, now);
        fl__free(value);
        return;
    }
    node_ended(c, ch, true, value, NULL, NULL, now);
}

/* w ended: hand the outcome to its parent, or to the waiter. Takes value. */
static void node_ended(fl_core *c, struct fl_wf *w, bool ok, char *value,
                       const char *err_type, const char *err_message,
                       uint64_t now)
{
    struct fl_wf *p = w->parent;
    if (!p) {
        root_ended(c, w->root, ok, value, err_type, err_message);
        return;
    }
    if (p->kind == WF_GROUP)
        group_member_ended(c, p, w->index, ok, value, err_type, err_message,
                           now);
    else
        chain_step_ended(c, p, w->index, ok, value, err_type, err_message,
                         now);
}

/* ------------------------------------------------------------ roots */

static void root_unlink(fl_core *c, fl_wfroot *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->owner.roots = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void root_ended(fl_core *c, fl_wfroot *r, bool ok, char *value,
                       const char *err_type, const char *err_message)
{
    fl_value *v = NULL;
    if (value && fl_value_parse(value, strlen(value), &v) != FL_OK)
        v = NULL;
    fl__free(value);
    fl_final fin = {.id = r->id,
                    .state = r->revoked ? FL_REVOKED
                                        : ok ? FL_SUCCESS : FL_FAILURE,
                    .value = v,
                    .err_type = ok ? NULL : err_type,
                    .err_message = ok ? NULL : err_message,
                    .worker = ""};
    if (r->revoked) {
        fin.err_type = "Revoked";
        fin.err_message = "revoked by its owner";
    }
    root_unlink(c, r);
    fl__map_del(&c->owner.tasks_roots, r->id);
    struct fl_wf *top = r->top;
    fl__free(r);
    c->stats.finished++;
    c->stats.workflows_finished++;
    fl__final(c, &fin);
    wf_free(top);
}

void fl__canvas_task_ran_on(fl_core *c, struct fl_wf *w, const char *worker)
{
    fl__remote_member_node(c, w->root->id, worker);
}

void fl__canvas_task_leased(fl_core *c, struct fl_wf *w)
{
    fl__remote_member_leased(c, w->root->id);
}

void fl__canvas_task_state(fl_core *c, struct fl_wf *w, fl_state st,
                           const char *worker)
{
    fl_wfroot *r = w->root;
    if (st == FL_STARTED)
        r->started = true;
    fl__remote_member_state(c, r->id, st, worker);
    if (c->io.state)
        c->io.state(c->io.ud, r->id, st);
}

void fl__canvas_task_ended(fl_core *c, struct fl_wf *w, fl_state st,
                           fl_value *value, const char *err_type,
                           const char *err_message, uint64_t now)
{
    /* A member's task was counted as submitted like any owned task, so
     * its end counts too: submitted = finished + owned_pending. */
    c->stats.finished++;
    w->task_id = 0;
    /* A member that ended started, reported or not (an older worker, or
     * one quicker than its report). */
    if (!w->root->started)
        fl__canvas_task_state(c, w, FL_STARTED, NULL);
    if (st == FL_SUCCESS) {
        char *text = value ? fl_value_to_json(value, NULL) : fl__strdup("null");
        fl_value_free(value);
        if (!text) {
            node_ended(c, w, false, NULL, "MemoryError", "out of memory", now);
            return;
        }
        node_ended(c, w, true, text, NULL, NULL, now);
        return;
    }
    fl_value_free(value);
    node_ended(c, w, false, NULL, err_type, err_message, now);
}

/* Parse canvas JSON and build r's tree (r->top); err gets the reason. */
static fl_status parse_and_build(fl_core *c, const char *canvas, size_t len,
                                 fl_wfroot *r, char *err, size_t errlen)
{
    fl_value *v = NULL;
    const char *why = canvas ? fl__json_depth_check(canvas, len,
                                                    FL_MAX_CANVAS_DEPTH)
                             : "no canvas";
    fl_status st = why ? FL_EINVAL : fl__json_parse(canvas, len, 0, &v, &why);
    if (st != FL_OK) {
        snprintf(err, errlen, "canvas: %s", why ? why : "not valid JSON");
        return st;
    }
    build_ctx b = {.c = c, .root = r, .err = err, .errlen = errlen};
    fl_call_options none = {0};
    r->top = build(&b, v, "canvas", &none);
    fl_value_free(v);
    if (r->top)
        return FL_OK;
    if (!err[0])
        snprintf(err, errlen, "canvas: out of memory");
    return strstr(err, "memory") ? FL_ENOMEM : FL_EINVAL;
}

fl_status fl__canvas_validate(const char *json, size_t len, char *err,
                              size_t errlen)
{
    fl_wfroot r = {0};
    err[0] = '\0';
    fl_status st = parse_and_build(NULL, json, len, &r, err, errlen);
    wf_free(r.top);
    return st;
}

fl_status fl_core_apply(fl_core *c, const char *canvas, size_t len,
                        uint64_t now, uint64_t *id, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (c->shutting_down)
        return FL_ESTATE;
    fl_wfroot *r = fl__calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    fl_status st = parse_and_build(c, canvas, len, r, err, errlen);
    if (st != FL_OK) {
        fl__free(r);
        return st;
    }
    r->id = c->owner.next_id++;
    if (!fl__map_put(&c->owner.tasks_roots, r->id, r)) {
        wf_free(r->top);
        fl__free(r);
        return FL_ENOMEM;
    }
    r->next = c->owner.roots;
    if (r->next)
        r->next->prev = r;
    c->owner.roots = r;
    c->stats.submitted++;
    c->stats.workflows++;
    if (id)
        *id = r->id;
    start(c, r->top, NULL, now);
    return FL_OK;
}

static void collect_leaves(const struct fl_wf *w, fl_buf *ids)
{
    for (size_t i = 0; i < w->nkids; i++)
        collect_leaves(w->kids[i], ids);
    if (w->kind == WF_TASK && w->task_id)
        fl__buf_put(ids, &w->task_id, sizeof w->task_id);
}

bool fl__canvas_revoke(fl_core *c, uint64_t id, uint64_t now)
{
    fl_wfroot *r = fl__map_get(&c->owner.tasks_roots, id);
    if (!r)
        return false;
    r->revoked = true;
    /* Revoking the live leaves ends the tree, which frees it: take their
     * ids first, then revoke by id. */
    fl_buf ids;
    fl__buf_init(&ids);
    collect_leaves(r->top, &ids);
    size_t n = ids.len / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++) {
        uint64_t tid;
        memcpy(&tid, ids.data + i * sizeof tid, sizeof tid);
        fl_core_revoke(c, tid, now);
    }
    fl__buf_free(&ids);
    return true;
}

void fl__canvas_free_all(fl_core *c)
{
    while (c->owner.roots) {
        fl_wfroot *r = c->owner.roots;
        root_unlink(c, r);
        wf_free(r->top);
        fl__free(r);
    }
    fl__map_free(&c->owner.tasks_roots);
}
