/*
 * mandelbrot.c - the native task "mandel.tile" (mandelbrot.h): renders one
 * tile of a Mandelbrot image and returns its pixels as the result
 * attachment, with {"x","y","w","h"} as the value, so the client places
 * it without trusting anything else.
 * Portable (a board can render tiles too). Depends on the public header,
 * mandelbrot.h, alloc.h and libm's sqrt.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "mandelbrot.h"

/* kwargs[key] as a whole number in [lo, hi]. */
static bool read_uint(const fl_value *kw, const char *key, uint32_t lo,
                      uint32_t hi, uint32_t *out, char *err, size_t errlen)
{
    const fl_value *v = fl_value_get(kw, key);
    double x = fl_value_number(v);
    if (fl_value_type(v) != FL_TYPE_NUMBER) {
        snprintf(err, errlen, "kwargs.%s must be a number, got %s", key,
                 v ? fl_type_name(fl_value_type(v)) : "nothing");
        return false;
    }
    if (!(x >= lo && x <= hi) || x != (double)(uint32_t)x) {
        snprintf(err, errlen, "kwargs.%s must be a whole number from %lu to %lu",
                 key, (unsigned long)lo, (unsigned long)hi);
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

/* range: the bounds as text (no %g: a board's printf may lack it). */
static bool read_double(const fl_value *kw, const char *key, double lo,
                        double hi, const char *range, double *out, char *err,
                        size_t errlen)
{
    const fl_value *v = fl_value_get(kw, key);
    double x = fl_value_number(v);
    if (fl_value_type(v) != FL_TYPE_NUMBER || !(x >= lo && x <= hi)) {
        snprintf(err, errlen, "kwargs.%s must be a number from %s", key, range);
        return false;
    }
    *out = x;
    return true;
}

bool fl__mandel_parse(const fl_value *kw, fl_mandel_tile *t, char *err,
                      size_t errlen)
{
    const uint32_t side = FL_MANDEL_MAX_SIDE;
    memset(t, 0, sizeof *t);
    err[0] = '\0';
    if (fl_value_type(kw) != FL_TYPE_OBJECT) {
        snprintf(err, errlen, "kwargs must be an object");
        return false;
    }
    if (!read_uint(kw, "width", 1, side, &t->width, err, errlen) ||
        !read_uint(kw, "height", 1, side, &t->height, err, errlen) ||
        !read_uint(kw, "x", 0, t->width - 1, &t->x, err, errlen) ||
        !read_uint(kw, "y", 0, t->height - 1, &t->y, err, errlen) ||
        !read_uint(kw, "w", 1, t->width - t->x, &t->w, err, errlen) ||
        !read_uint(kw, "h", 1, t->height - t->y, &t->h, err, errlen) ||
        !read_uint(kw, "iter", 1, FL_MANDEL_MAX_ITER, &t->iter, err, errlen) ||
        !read_double(kw, "cx", -4, 4, "-4 to 4", &t->cx, err, errlen) ||
        !read_double(kw, "cy", -4, 4, "-4 to 4", &t->cy, err, errlen) ||
        !read_double(kw, "span", 1e-12, 16, "1e-12 to 16", &t->span, err,
                     errlen))
        return false;
    if ((uint64_t)t->w * t->h > FL_MANDEL_MAX_TILE) {
        snprintf(err, errlen, "kwargs.w * kwargs.h must be at most %u pixels",
                 FL_MANDEL_MAX_TILE);
        return false;
    }
    return true;
}

/* Escape time of c = (re, im), 0..iter. */
static uint32_t escape(double re, double im, uint32_t iter)
{
    double zr = 0, zi = 0;
    uint32_t n = 0;
    while (n < iter) {
        double zr2 = zr * zr, zi2 = zi * zi;
        if (zr2 + zi2 > 4.0)
            break;
        zi = 2.0 * zr * zi + im;
        zr = zr2 - zi2 + re;
        n++;
    }
    return n;
}

void fl__mandel_render(const fl_mandel_tile *t, uint8_t *out)
{
    /* Square pixels: span covers the width, the height follows. */
    double step = t->span / (double)t->width;
    double left = t->cx - t->span / 2.0;
    double top = t->cy + step * (double)t->height / 2.0;
    for (uint32_t j = 0; j < t->h; j++) {
        double im = top - step * ((double)(t->y + j) + 0.5);
        for (uint32_t i = 0; i < t->w; i++) {
            double re = left + step * ((double)(t->x + i) + 0.5);
            uint32_t n = escape(re, im, t->iter);
            uint8_t v = 0;
            if (n < t->iter) {
                double s = sqrt((double)n / (double)t->iter);
                v = (uint8_t)(1.0 + 254.0 * s);
            }
            out[(size_t)j * t->w + i] = v;
        }
    }
}

static void mandel_tile(fl_task_ctx *ctx, void *ud)
{
    fl_mandel_tile t;
    char err[160], value[128];
    (void)ud;
    if (!fl__mandel_parse(fl_task_kwargs(ctx), &t, err, sizeof err)) {
        (void)fl_task_fail(ctx, "ValueError", false, "mandel.tile: %s", err);
        return;
    }
    uint8_t *px = fl__malloc((size_t)t.w * t.h);
    if (!px) {
        (void)fl_task_fail(ctx, "MemoryError", true,
                           "mandel.tile: no memory for %u x %u pixels",
                           (unsigned)t.w, (unsigned)t.h);
        return;
    }
    fl__mandel_render(&t, px);
    snprintf(value, sizeof value, "{\"x\":%u,\"y\":%u,\"w\":%u,\"h\":%u}",
             (unsigned)t.x, (unsigned)t.y, (unsigned)t.w, (unsigned)t.h);
    if (fl_task_return_json(ctx, value, strlen(value)) == FL_OK)
        (void)fl_task_return_attachment(ctx, px, (size_t)t.w * t.h);
    fl__free(px);
}

fl_status fl_register_mandelbrot(fl_registry *reg)
{
    return fl_registry_add(reg, "mandel.tile", mandel_tile, NULL);
}
