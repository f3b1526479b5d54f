/*
 * semihost.c - Arm semihosting calls (a BKPT 0xAB the emulator traps):
 * the console, the command line QEMU passes with -semihosting-config
 * arg=..., the host's clock for entropy, and exit. On real hardware with
 * no debugger attached these calls would fault: a board for real silicon
 * uses a UART and flash settings instead.
 * Depends on board_mps2.h and <string.h>.
 */
#include <string.h>

#include "board_mps2.h"

#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_CLOCK 0x10
#define SYS_TIME 0x11
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18

static uintptr_t semi(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static long console_fd = -1;

void fl__semi_write(const char *text, size_t n)
{
    if (console_fd < 0) {
        /* ":tt" opened for writing ("w" is mode 4) is the host's stdout. */
        uintptr_t args[3] = {(uintptr_t)":tt", 4, 3};
        console_fd = (long)semi(SYS_OPEN, args);
        if (console_fd < 0)
            return;
    }
    uintptr_t args[3] = {(uintptr_t)console_fd, (uintptr_t)text, n};
    semi(SYS_WRITE, args);
}

int fl__semi_cmdline(char *buf, size_t cap)
{
    uintptr_t args[2] = {(uintptr_t)buf, cap};
    if (cap == 0 || semi(SYS_GET_CMDLINE, args) != 0) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    buf[cap - 1] = '\0';
    return 1;
}

uint32_t fl__semi_time(void)
{
    return (uint32_t)semi(SYS_TIME, NULL);
}

uint32_t fl__semi_clock(void)
{
    return (uint32_t)semi(SYS_CLOCK, NULL);
}

void fl__semi_exit(int code)
{
    /* ADP_Stopped_ApplicationExit; 32-bit semihosting passes the reason
     * alone, so the host sees exit status 0 or 1. */
    (void)code;
    for (;;)
        semi(SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? 0x20026 : 0x20023));
}
