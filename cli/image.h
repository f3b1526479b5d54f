/*
 * image.h - the two image files `floret mandelbrot` writes, by hand and
 * without a library: binary PGM (P5) and PNG, 8-bit gray or with a palette
 * of up to 256 colours, its pixels in stored (uncompressed) deflate blocks.
 * Depends on the C library only.
 */
#ifndef FLORET_CLI_IMAGE_H
#define FLORET_CLI_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* width x height bytes, row by row: gray levels, or palette indexes when
 * palette (ncolors RGB triples) is given. 0 on success, else -1 with errno
 * set (the file may be partly written). */
int cli_write_pgm(const char *path, const uint8_t *px, uint32_t width,
                  uint32_t height);
int cli_write_png(const char *path, const uint8_t *px, uint32_t width,
                  uint32_t height, const uint8_t *palette, size_t ncolors);

/* The tints of `floret mandelbrot`: tile i's node is tint i % CLI_TINTS,
 * each in CLI_TINT_LEVELS levels, so a tinted picture has 256 colours. */
#define CLI_TINTS 8
#define CLI_TINT_LEVELS 32

/* Fill pal (CLI_TINTS * CLI_TINT_LEVELS RGB triples): tint t's level l is
 * pal[(t * CLI_TINT_LEVELS + l) * 3]. Level 0 (inside the set) is black
 * for every tint; the PNG and the dashboard's page use the same one. */
void cli_tint_palette(uint8_t *pal);

/* The level of gray value g (0 inside the set, then 1 to
 * CLI_TINT_LEVELS - 1). */
static inline uint8_t cli_tint_level(uint8_t g)
{
    return (uint8_t)(g ? 1 + g * (CLI_TINT_LEVELS - 2) / 255 : 0);
}

/* The tints' names, as `floret mandelbrot` prints them. */
extern const char *const cli_tint_names[CLI_TINTS];

#endif
