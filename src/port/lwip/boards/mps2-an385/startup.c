/*
 * startup.c - reset and exceptions of the mps2-an385 board: the vector
 * table QEMU reads at address 0 (initial stack pointer, reset handler,
 * faults, SysTick), and a reset handler that copies .data from its load
 * address, zeroes .bss (newlib's crt0 is not used: it does not copy
 * .data), paints the unused stack so its high-water mark can be
 * measured, and calls main. A fault prints its registers and restarts
 * the board.
 * Depends on the symbols of link.ld, board_mps2.h and the C library.
 */
#include <stdint.h>
#include <string.h>

#include "board_mps2.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);
void fl_board_reset(void);

static void fault(void)
{
    fl__mps2_fault("hard fault");
}

static void unexpected(void)
{
    fl__mps2_fault("unexpected exception");
}

__attribute__((section(".vectors"), used))
static void (*const vectors[16 + 32])(void) = {
    [0] = (void (*)(void))(uintptr_t)__stack_top,
    [1] = fl_board_reset,
    [2] = unexpected,        /* NMI */
    [3 ... 6] = fault,       /* HardFault, MemManage, BusFault, UsageFault */
    [7 ... 14] = unexpected, /* reserved, SVCall, DebugMonitor, PendSV */
    [15] = fl__mps2_systick,
    [16 ... 28] = unexpected, /* IRQs: all off but the Ethernet's (13) */
    [29] = fl__lan9118_irq,
    [30 ... 47] = unexpected,
};

__attribute__((noreturn, used))
void fl_board_reset(void)
{
    uint32_t *src = __data_load, *dst = __data_start;
    while (dst < __data_end)
        *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;)
        *dst++ = 0;
    /* Paint the stack below this frame (leaving it 256 bytes). */
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0) - 64;
    for (dst = __stack_bottom; dst < sp;)
        *dst++ = FL_MPS2_STACK_PAINT;
    for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
        (*f)();
    int rc = main();
    fl__mps2_exit(rc);
}
