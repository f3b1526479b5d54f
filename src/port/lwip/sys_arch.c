/*
 * sys_arch.c - what lwIP asks of a NO_SYS platform: sys_now() in
 * milliseconds from the board's clock, a random number source
 * (LWIP_RAND, seeded from the board's entropy on first use), and its
 * diagnostics and assertions, which go to the board's console (a failed
 * assertion restarts the board).
 * Depends on board.h, lwIP's headers and the C library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "lwip/opt.h"
#include "lwip/sys.h"

u32_t sys_now(void)
{
    return (u32_t)(fl_board_now_us() / 1000u);
}

uint32_t fl__lwip_rand(void)
{
    static uint64_t s;
    if (!s)
        s = fl_board_entropy() | 1u;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)(s >> 16);
}

void fl__lwip_diag(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        fl_board_console(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void fl__lwip_assert(const char *msg, const char *file, int line)
{
    char text[200];
    int n = snprintf(text, sizeof text, "lwIP assertion failed: %s (%s:%d); "
                     "restarting\n", msg, file, line);
    fl_board_console(text, n > 0 && (size_t)n < sizeof text ? (size_t)n : strlen(text));
    fl_board_restart();
}
