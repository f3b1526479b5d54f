/*
 * printf_z.c - snprintf and vsnprintf for a C library whose printf does
 * not know C99's 'z' length modifier (newlib as Debian builds it for
 * arm-none-eabi prints "%zu" as "zu"), while floret's messages use %zu
 * for sizes ("argument 2 must be a number"). The linker routes the
 * firmware's calls here (-Wl,--wrap=snprintf,--wrap=vsnprintf); the
 * format loses its 'z's, which is exact where size_t is unsigned int,
 * and goes on to the library's own vsnprintf.
 * Depends on the C library.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>

_Static_assert(sizeof(size_t) == sizeof(unsigned int) && SIZE_MAX == UINT_MAX,
               "dropping 'z' is exact only where size_t is unsigned int");

int __real_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int __wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int __wrap_snprintf(char *buf, size_t n, const char *fmt, ...);

/* Copy fmt into out without the 'z' of its conversions; false when it
 * does not fit (then fmt is used as it is). */
static int drop_z(const char *fmt, char *out, size_t cap)
{
    size_t o = 0;
    int in_conv = 0, changed = 0;
    for (const char *p = fmt; *p; p++) {
        if (o + 2 >= cap)
            return 0;
        if (in_conv) {
            if (*p == 'z') {
                changed = 1;
                continue;
            }
            /* flags, width, precision, other length modifiers */
            in_conv = (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                      *p == '+' || *p == ' ' || *p == '#' || *p == '*' ||
                      *p == 'l' || *p == 'h';
        } else if (*p == '%') {
            in_conv = p[1] != '%';
            if (!in_conv)
                out[o++] = *p++;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
    return changed;
}

int __wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    char f[256];
    return __real_vsnprintf(buf, n, drop_z(fmt, f, sizeof f) ? f : fmt, ap);
}

int __wrap_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = __wrap_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}
