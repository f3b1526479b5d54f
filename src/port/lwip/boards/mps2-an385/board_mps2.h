/*
 * board_mps2.h - what the files of the mps2-an385 board share: the
 * semihosting calls (console, command line, host time), the SysTick
 * handler, the LAN9118 driver's netif, and how the board stops.
 * Depends on <stddef.h>, <stdint.h> and lwIP's netif/err types.
 */
#ifndef FL_BOARD_MPS2_H
#define FL_BOARD_MPS2_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/err.h"

struct netif;

#define FL_MPS2_STACK_PAINT 0xA5C3A5C3u
#define FL_MPS2_SYSCLK_HZ 25000000u

/* semihost.c: Arm semihosting (QEMU -semihosting-config enable=on). */
void fl__semi_write(const char *text, size_t n);
/* The command line (QEMU's arg=... joined by spaces); false if none. */
int fl__semi_cmdline(char *buf, size_t cap);
/* Seconds since 1970 and centiseconds since start, from the host. */
uint32_t fl__semi_time(void);
uint32_t fl__semi_clock(void);
__attribute__((noreturn)) void fl__semi_exit(int code);

/* board.c */
void fl__mps2_systick(void);
__attribute__((noreturn)) void fl__mps2_fault(const char *what);
__attribute__((noreturn)) void fl__mps2_exit(int code);

/* lan9118.c: the netif init function for netif_add, and its poll. */
err_t fl__lan9118_init(struct netif *netif);
void fl__lan9118_poll(struct netif *netif);
void fl__lan9118_irq(void);

#endif
