/*
 * dtoa.h - doubles written as text without the C library's printf, whose
 * floating point a board's libc may leave out (newlib-nano). The text is
 * exactly what printf("%.*g", p, x) prints for the smallest precision p
 * (1 to 17) that reads back as x: the shortest round trip, in %g's own
 * layout, so it is also valid JSON for every finite x. Depends on nothing.
 */
#ifndef FL_DTOA_H
#define FL_DTOA_H

#include <stddef.h>

/* Longest text fl__dtoa writes, with its NUL: "-1.2345678901234567e-308". */
#define FL_DTOA_BUF 32

/* Writes x to out (FL_DTOA_BUF bytes) and returns its length; NaN and the
 * infinities come out as "nan", "inf" and "-inf", which JSON has not. */
size_t fl__dtoa(double x, char *out);

#endif
