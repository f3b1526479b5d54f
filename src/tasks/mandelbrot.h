/*
 * mandelbrot.h - the Mandelbrot showcase's one code path (docs/watching.md,
 * "A picture of the cluster at work"): a tile's parameters read from the
 * kwargs of the task "mandel.tile" and its pixels, shared by the task and
 * by `floret mandelbrot --reference` (which runs the task in its own
 * process with fl_registry_apply), so that a render on the cluster and
 * one in a single process come out byte for byte the same.
 * Portable and sans-I/O. Depends on the public header only.
 */
#ifndef FL_MANDELBROT_H
#define FL_MANDELBROT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

/* The limits of one tile task are in floret.h (FL_MANDEL_MAX_*). */

/* The image is width x height pixels showing the complex plane centred on
 * (cx, cy), span wide; the tile is its w x h pixels from (x, y). */
typedef struct fl_mandel_tile {
    uint32_t width, height;
    uint32_t x, y, w, h;
    uint32_t iter;
    double cx, cy, span;
} fl_mandel_tile;

/* Read t from kwargs {"width","height","x","y","w","h","iter","cx","cy",
 * "span"}. false with a message naming the member and what was wrong in
 * err (always NUL-terminated). */
bool fl__mandel_parse(const fl_value *kwargs, fl_mandel_tile *t, char *err,
                      size_t errlen);

/* The tile's w * h pixels, row by row, into out: 0 inside the set, else
 * 1..255 growing with the escape time (square root of its share of iter). */
void fl__mandel_render(const fl_mandel_tile *t, uint8_t *out);

#endif
