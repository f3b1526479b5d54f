/*
 * image.c - PGM and PNG writers (image.h). The PNG is what the format
 * needs and no more: IHDR, PLTE for a palette, one IDAT holding a zlib
 * stream of stored blocks (each row after its filter byte 0), IEND, with
 * CRC-32 and Adler-32 computed here. Any PNG reader opens it; it is as big
 * as the pixels, which a tool can recompress (docs/watching.md). Also the
 * tinted palette that the PNG and the dashboard share.
 * Depends on the C library only.
 */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORED_MAX 65535u

int cli_write_pgm(const char *path, const uint8_t *px, uint32_t width,
                  uint32_t height)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fprintf(f, "P5\n%u %u\n255\n", (unsigned)width, (unsigned)height);
    fwrite(px, 1, (size_t)width * height, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static void chunk(FILE *f, const char *type, const uint8_t *data, size_t len)
{
    uint8_t b[4];
    uint32_t crc = crc_update(0xFFFFFFFFu, (const uint8_t *)type, 4);
    crc = crc_update(crc, data, len);
    put32(b, (uint32_t)len);
    fwrite(b, 1, 4, f);
    fwrite(type, 1, 4, f);
    if (len)
        fwrite(data, 1, len, f);
    put32(b, crc ^ 0xFFFFFFFFu);
    fwrite(b, 1, 4, f);
}

/* The zlib stream of raw (the filtered rows, n > 0) in stored blocks. */
static uint8_t *zlib_stored(const uint8_t *raw, size_t n, size_t *out_len)
{
    size_t blocks = n / STORED_MAX + 1;
    uint8_t *z = malloc(2 + n + blocks * 5 + 4);
    uint32_t a = 1, b = 0;
    size_t o = 0;
    if (!z)
        return NULL;
    z[o++] = 0x78; /* deflate, 32 KiB window */
    z[o++] = 0x01; /* no dictionary; 0x7801 % 31 == 0 */
    for (size_t i = 0; i < n; i += STORED_MAX) {
        size_t len = n - i < STORED_MAX ? n - i : STORED_MAX;
        z[o++] = i + len >= n ? 1 : 0; /* BFINAL, BTYPE 00 */
        z[o++] = (uint8_t)len;
        z[o++] = (uint8_t)(len >> 8);
        z[o++] = (uint8_t)~len;
        z[o++] = (uint8_t)(~len >> 8);
        memcpy(z + o, raw + i, len);
        o += len;
    }
    for (size_t i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    put32(z + o, b << 16 | a);
    *out_len = o + 4;
    return z;
}

int cli_write_png(const char *path, const uint8_t *px, uint32_t width,
                  uint32_t height, const uint8_t *palette, size_t ncolors)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13];
    size_t row = (size_t)width + 1, zlen = 0;
    uint8_t *raw = malloc(row * height), *z;
    FILE *f;
    int bad;

    if (!raw)
        return -1;
    for (uint32_t y = 0; y < height; y++) {
        raw[y * row] = 0; /* filter: none */
        memcpy(raw + y * row + 1, px + (size_t)y * width, width);
    }
    z = zlib_stored(raw, row * height, &zlen);
    free(raw);
    if (!z)
        return -1;
    f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(z);
        errno = e;
        return -1;
    }
    crc_init();
    put32(ihdr, width);
    put32(ihdr + 4, height);
    ihdr[8] = 8;                  /* bit depth */
    ihdr[9] = palette ? 3 : 0;    /* indexed or gray */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    fwrite(sig, 1, sizeof sig, f);
    chunk(f, "IHDR", ihdr, sizeof ihdr);
    if (palette)
        chunk(f, "PLTE", palette, ncolors * 3);
    chunk(f, "IDAT", z, zlen);
    chunk(f, "IEND", NULL, 0);
    free(z);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}

const char *const cli_tint_names[CLI_TINTS] = {"red", "green", "blue", "yellow",
                                               "magenta", "cyan", "orange", "violet"};

/* Tint t's levels: level 0 (inside the set) black, the rest from a
 * quarter of the tint, so every tile shows whose it is, to the full tint
 * along the set's edge. */
void cli_tint_palette(uint8_t *pal)
{
    static const uint8_t tints[CLI_TINTS][3] = {
        {255, 90, 70}, {80, 220, 90}, {80, 140, 255}, {255, 210, 60},
        {230, 90, 230}, {70, 220, 230}, {255, 150, 50}, {170, 130, 255},
    };
    for (size_t t = 0; t < CLI_TINTS; t++)
        for (size_t l = 0; l < CLI_TINT_LEVELS; l++)
            for (size_t c = 0; c < 3; c++) {
                double lit = l == 0 ? 0 : 0.25 + 0.75 * (double)l / (CLI_TINT_LEVELS - 1);
                double v = lit * (0.2 * 255.0 + 0.8 * tints[t][c]);
                pal[(t * CLI_TINT_LEVELS + l) * 3 + c] = (uint8_t)(v + 0.5);
            }
}
