/*
 * arch/cc.h - lwIP's compiler and platform header for the floret
 * microcontroller port (newlib on a little-endian Cortex-M, or any C11
 * toolchain with <stdint.h> and <inttypes.h>). Assertions and diagnostics
 * go to the board's console.
 * Depends on board.h (fl_board_console) and the C library.
 */
#ifndef FL_LWIP_ARCH_CC_H
#define FL_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

#define LWIP_NO_UNISTD_H 1
#define LWIP_TIMEVAL_PRIVATE 0

void fl__lwip_diag(const char *fmt, ...);
void fl__lwip_assert(const char *msg, const char *file, int line);
uint32_t fl__lwip_rand(void);

#define LWIP_PLATFORM_DIAG(x) do { fl__lwip_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) fl__lwip_assert((x), __FILE__, __LINE__)

#endif
