/*
 * buf.h - a growable byte buffer used to build outgoing messages, with a
 * JSON string escaper. Allocation failure is sticky: after it every append is
 * a no-op and fl__buf_ok() is false, so builders check once at the end.
 * Depends on alloc.h.
 */
#ifndef FL_BUF_H
#define FL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} fl_buf;

void fl__buf_init(fl_buf *b);
void fl__buf_free(fl_buf *b);
void fl__buf_reset(fl_buf *b);          /* len = 0, keeps memory */
bool fl__buf_ok(const fl_buf *b);
void fl__buf_reserve(fl_buf *b, size_t extra);
void fl__buf_put(fl_buf *b, const void *data, size_t len);
void fl__buf_puts(fl_buf *b, const char *s);
void fl__buf_putc(fl_buf *b, char c);
void fl__buf_put_u64(fl_buf *b, uint64_t x);
/* A JSON number; NaN and infinities are refused (buffer marked failed). */
void fl__buf_put_double(fl_buf *b, double x);
/* s as a JSON string literal with quotes, escaping as RFC 8259 requires;
 * invalid UTF-8 bytes are replaced by U+FFFD so the output is valid JSON. */
void fl__buf_put_jstr(fl_buf *b, const char *s, size_t len);

/* Classify the UTF-8 sequence at s (n > 0 bytes available): true when it is
 * well-formed, with *used its length (1..4); false when it is not, with
 * *used the bytes (>= 1) of its maximal ill-formed prefix, which count as
 * one replacement character (Unicode's "maximal subpart" practice). */
bool fl__utf8_next(const unsigned char *s, size_t n, size_t *used);

#endif
