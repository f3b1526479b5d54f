/*
 * wordcount_task.c - the native map task "wc.map": counts the words of its
 * attachment and returns {"words": n, "distinct": d} with the partial count
 * (docs/wordcount.md) as the result attachment. The counting body is shared
 * with wc.file, which reads its bytes from a file instead.
 * Portable. Depends on the public header, wordcount.h, alloc.h,
 * defaults.h, dtoa.h and, when FL_THREADS, C11 atomics (the tables kept between
 * tasks are shared by executor threads).
 */
#include <string.h>

#include "alloc.h"
#include "defaults.h"
#include "dtoa.h"
#include "wordcount.h"

#if FL_THREADS
#include <stdatomic.h>
#endif

/* Largest accepted min_length: longer than any chunk a message can carry,
 * so nothing is lost by refusing more. */
#define WC_MAX_MIN_LENGTH 1e12

/* kwargs.min_length: absent or null means 1; else a whole number >= 0. */
static bool read_min_length(fl_task_ctx *ctx, const char *task, size_t *out)
{
    const fl_value *v = fl_value_get(fl_task_kwargs(ctx), "min_length");
    *out = 1;
    if (v == NULL || fl_value_type(v) == FL_TYPE_NULL)
        return true;
    if (fl_value_type(v) != FL_TYPE_NUMBER) {
        (void)fl_task_fail(ctx, "TypeError", false,
                           "%s: kwargs.min_length must be a number, got %s",
                           task, fl_type_name(fl_value_type(v)));
        return false;
    }
    double x = fl_value_number(v);
    if (!(x >= 0) || x > WC_MAX_MIN_LENGTH || x != (double)(uint64_t)x) {
        char num[FL_DTOA_BUF];  /* no %g: a board's printf may lack it */
        fl__dtoa(x, num);
        (void)fl_task_fail(ctx, "ValueError", false,
                           "%s: kwargs.min_length must be a whole number "
                           "from 0 to 1e12, got %s", task, num);
        return false;
    }
    *out = (uint64_t)x > SIZE_MAX ? SIZE_MAX : (size_t)x;
    return true;
}

/* Tables kept between map tasks: the next chunk of a text finds most of
 * its words already in place, which a fresh table per chunk would insert
 * again (docs/benchmarks.md, "Word count"). Each slot holds one or NULL;
 * an exchange takes a table, a compare-exchange gives one back, so two
 * threads never hold the same one. */
#define WC_KEPT FL_WC_KEPT
#define WC_KEEP_BYTES FL_WC_KEEP_BYTES

#if FL_THREADS
static _Atomic(fl_wc_table *) kept[WC_KEPT];

static fl_wc_table *take_kept(size_t i)
{
    return atomic_exchange(&kept[i], NULL);
}

static bool give_kept(size_t i, fl_wc_table *t)
{
    fl_wc_table *none = NULL;
    return atomic_compare_exchange_strong(&kept[i], &none, t);
}
#else
static fl_wc_table *kept[WC_KEPT];

static fl_wc_table *take_kept(size_t i)
{
    fl_wc_table *t = kept[i];
    kept[i] = NULL;
    return t;
}

static bool give_kept(size_t i, fl_wc_table *t)
{
    if (kept[i] != NULL)
        return false;
    kept[i] = t;
    return true;
}
#endif

fl_wc_table *fl__wc_task_table(void)
{
    for (size_t i = 0; i < WC_KEPT; i++) {
        fl_wc_table *t = take_kept(i);
        if (t != NULL)
            return t;
    }
    return fl__wc_new();
}

void fl__wc_task_table_done(fl_wc_table *t)
{
    if (t == NULL)
        return;
    if (fl__wc_memory(t) <= WC_KEEP_BYTES) {
        fl__wc_reuse(t);
        for (size_t i = 0; i < WC_KEPT; i++)
            if (give_kept(i, t))
                return;
    }
    fl__wc_free(t);
}

/* Decimal digits of x at p; returns the end. */
static char *put_u64(char *p, uint64_t x)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + x % 10u);
        x /= 10u;
    } while (x != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static fl_status return_summary(fl_task_ctx *ctx, const fl_wc_table *t)
{
    char json[80];
    char *p = json;
    memcpy(p, "{\"words\":", 9);
    p = put_u64(p + 9, fl__wc_total(t));
    memcpy(p, ",\"distinct\":", 12);
    p = put_u64(p + 12, fl__wc_distinct(t));
    *p++ = '}';
    return fl_task_return_json(ctx, json, (size_t)(p - json));
}

static void fail_status(fl_task_ctx *ctx, const char *task, fl_status st,
                        const char *what)
{
    (void)fl_task_fail(ctx, st == FL_ENOMEM ? "MemoryError" : "ValueError",
                       st == FL_ENOMEM, "%s: %s: %s", task, what,
                       fl_strerror(st));
}

fl_wc_table *fl__wc_map_start(fl_task_ctx *ctx, const char *task,
                              size_t *min_len)
{
    if (!read_min_length(ctx, task, min_len))
        return NULL;
    fl_wc_table *t = fl__wc_task_table();
    if (t == NULL)
        fail_status(ctx, task, FL_ENOMEM, "table");
    return t;
}

void fl__wc_map_finish(fl_task_ctx *ctx, const char *task, fl_wc_table *t,
                       fl_status st)
{
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (st != FL_OK) {
        fail_status(ctx, task, st, "counting the chunk");
    } else if ((st = fl__wc_encode(t, &enc, &enc_len)) != FL_OK) {
        fail_status(ctx, task, st, "encoding the partial count");
    } else if ((st = return_summary(ctx, t)) != FL_OK) {
        fail_status(ctx, task, st, "returning the summary");
    } else if ((st = fl_task_return_attachment(ctx, enc, enc_len)) == FL_ETOOBIG) {
        /* The protocol's name for it: the client splits the chunk. */
        (void)fl_task_fail(ctx, "ResultTooBig", false,
                           "%s: the partial count (%zu bytes) does not fit in a "
                           "message; use smaller chunks", task, enc_len);
    } else if (st != FL_OK) {
        fail_status(ctx, task, st, "returning the partial count");
    }
    fl__free(enc);
    fl__wc_task_table_done(t);
}

void fl__wc_map_bytes(fl_task_ctx *ctx, const char *task, const void *data,
                      size_t len)
{
    size_t min_len;
    fl_wc_table *t = fl__wc_map_start(ctx, task, &min_len);
    if (t != NULL)
        fl__wc_map_finish(ctx, task, t, fl__wc_count(t, data, len, min_len));
}

static void wc_map(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    size_t len = 0;
    const void *att = fl_task_attachment(ctx, &len);
    fl__wc_map_bytes(ctx, "wc.map", att, len);
}

fl_status fl_register_wordcount(fl_registry *reg)
{
    return fl_registry_add(reg, "wc.map", wc_map, NULL);
}
