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

#endif
