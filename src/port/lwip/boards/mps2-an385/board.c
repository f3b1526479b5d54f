/*
 * board.c - the board layer (board.h) of QEMU's mps2-an385: a 1 ms
 * SysTick from the 25 MHz system clock, the console and settings over
 * semihosting, entropy from the host's seed and clocks, the LAN9118 as
 * lwIP's netif (DHCP from QEMU's user network, or a static address), WFI
 * as idle, and the painted stack's high-water mark.
 *
 * Settings come from the semihosting command line, words of KEY=VALUE:
 *   name=ID cluster=NAME broker=A.B.C.D[:PORT] user=U pass=P slots=N
 *   seed=HEX ip=dhcp|A.B.C.D log=0..3 stats=MS
 * Depends on board.h, board_mps2.h, lwIP (netif, DHCP, etharp) and the C
 * library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "board_mps2.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "netif/ethernet.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define TICK_RELOAD (FL_MPS2_SYSCLK_HZ / 1000u - 1u)

extern uint32_t __stack_bottom[], __stack_top[];

static volatile uint32_t ticks_ms;   /* low word; wraps every 49 days */
static uint32_t ticks_hi;            /* wraps seen by fl_board_now_us */
static uint32_t last_lo;
static uint64_t seed_arg;
static int use_dhcp = 1;
static ip4_addr_t static_ip;
static struct netif eth;

void fl__mps2_systick(void)
{
    ticks_ms++;
}

static void systick_start(void)
{
    SYST_RVR = TICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* processor clock, interrupt, enable */
}

uint64_t fl_board_now_us(void)
{
    uint32_t ms, cvr;
    do {
        ms = ticks_ms;
        cvr = SYST_CVR;
    } while (ms != ticks_ms);
    if (ms < last_lo)
        ticks_hi++;
    last_lo = ms;
    uint64_t total_ms = ((uint64_t)ticks_hi << 32) | ms;
    uint32_t sub_us = (TICK_RELOAD - cvr) / (FL_MPS2_SYSCLK_HZ / 1000000u);
    return total_ms * 1000u + (sub_us < 1000u ? sub_us : 999u);
}

void fl_board_console(const char *text, size_t n)
{
    fl__semi_write(text, n);
}

/* WFI until a tick or a frame: a frame (the LAN9118's interrupt) ends
 * the wait at once, so the loop answers within microseconds. */
void fl_board_idle(uint32_t ms)
{
    (void)ms; /* the next tick is at most 1 ms away */
    __asm__ volatile("wfi");
}

size_t fl_board_stack_peak(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == FL_MPS2_STACK_PAINT)
        p++;
    return (size_t)((const char *)__stack_top - (const char *)p);
}

uint64_t fl_board_entropy(void)
{
    /* The emulated board has no RNG: the host hands a seed on the command
     * line (scripts/mcu.sh reads /dev/urandom), mixed with its clocks. */
    uint64_t x = seed_arg ^ ((uint64_t)fl__semi_time() << 20) ^
                 fl__semi_clock() ^ SYST_CVR;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ------------------------------------------------------------ settings */

static void say(const char *text)
{
    fl_board_console(text, strlen(text));
}

static int parse_ip(const char *s, uint8_t ip[4], const char **end)
{
    unsigned long v[4];
    char *e;
    for (int i = 0; i < 4; i++) {
        v[i] = strtoul(s, &e, 10);
        if (e == s || v[i] > 255 || (i < 3 && *e != '.'))
            return 0;
        s = e + (i < 3);
    }
    for (int i = 0; i < 4; i++)
        ip[i] = (uint8_t)v[i];
    *end = s;
    return 1;
}

static int copy_word(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap)
        return 0;
    memcpy(dst, v, n + 1);
    return 1;
}

static int setting(fl_board_settings *s, const char *key, const char *v)
{
    char *e;
    const char *end;
    if (strcmp(key, "name") == 0)
        return copy_word(s->node_id, sizeof s->node_id, v);
    if (strcmp(key, "cluster") == 0)
        return copy_word(s->cluster, sizeof s->cluster, v);
    if (strcmp(key, "user") == 0)
        return copy_word(s->user, sizeof s->user, v);
    if (strcmp(key, "pass") == 0)
        return copy_word(s->pass, sizeof s->pass, v);
    if (strcmp(key, "broker") == 0) {
        if (!parse_ip(v, s->broker_ip, &end))
            return 0;
        if (*end == ':') {
            unsigned long port = strtoul(end + 1, &e, 10);
            if (e == end + 1 || *e || port == 0 || port > 65535)
                return 0;
            s->broker_port = (uint16_t)port;
            return 1;
        }
        return *end == '\0';
    }
    if (strcmp(key, "slots") == 0 || strcmp(key, "log") == 0 ||
        strcmp(key, "stats") == 0) {
        unsigned long n = strtoul(v, &e, 10);
        if (e == v || *e)
            return 0;
        if (key[0] == 's' && key[1] == 'l')
            s->slots = (uint32_t)n;
        else if (key[0] == 'l')
            s->log_level = n > 3 ? 3 : (int)n;
        else
            s->stats_ms = (uint32_t)n;
        return 1;
    }
    if (strcmp(key, "seed") == 0) {
        seed_arg = strtoull(v, &e, 16);
        return e != v && *e == '\0';
    }
    if (strcmp(key, "ip") == 0) {
        uint8_t ip[4];
        if (strcmp(v, "dhcp") == 0) {
            use_dhcp = 1;
            return 1;
        }
        if (!parse_ip(v, ip, &end) || *end)
            return 0;
        IP4_ADDR(&static_ip, ip[0], ip[1], ip[2], ip[3]);
        use_dhcp = 0;
        return 1;
    }
    return 0;
}

bool fl_board_settings_get(fl_board_settings *s)
{
    static char line[512];
    if (!fl__semi_cmdline(line, sizeof line))
        return true; /* no command line: the defaults */
    for (char *w = strtok(line, " \t"); w; w = strtok(NULL, " \t")) {
        char *eq = strchr(w, '=');
        if (!eq) {
            if (w == line)
                continue; /* the program name QEMU may put first */
            say("board: setting without '=': ");
            say(w);
            say("\n");
            return false;
        }
        *eq = '\0';
        if (!setting(s, w, eq + 1)) {
            say("board: bad setting ");
            say(w);
            say("=");
            say(eq + 1);
            say(" (see src/port/lwip/boards/mps2-an385/board.c)\n");
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ network */

struct netif *fl_board_netif_start(void)
{
    ip4_addr_t ip, mask, gw;
    if (use_dhcp) {
        ip4_addr_set_zero(&ip);
        ip4_addr_set_zero(&mask);
        ip4_addr_set_zero(&gw);
    } else {
        ip = static_ip;
        IP4_ADDR(&mask, 255, 255, 255, 0);
        IP4_ADDR(&gw, ip4_addr1(&ip), ip4_addr2(&ip), ip4_addr3(&ip), 2);
    }
    if (!netif_add(&eth, &ip, &mask, &gw, NULL, fl__lan9118_init,
                   ethernet_input)) {
        say("board: no LAN9118 at 0x40200000\n");
        return NULL;
    }
    netif_set_default(&eth);
    netif_set_up(&eth);
    if (use_dhcp && dhcp_start(&eth) != ERR_OK) {
        say("board: DHCP could not start\n");
        return NULL;
    }
    return &eth;
}

void fl_board_netif_poll(struct netif *netif)
{
    fl__lan9118_poll(netif);
}

/* ------------------------------------------------------------ stop */

void fl__mps2_exit(int code)
{
    fl__semi_exit(code);
}

void fl_board_restart(void)
{
    /* SCB->AIRCR: VECTKEY | SYSRESETREQ. QEMU resets the machine and
     * boots the firmware again (unless run with -no-reboot). */
    *(volatile uint32_t *)0xE000ED0Cu = 0x05FA0004u;
    for (;;)
        __asm__ volatile("wfi");
}

void fl__mps2_fault(const char *what)
{
    char line[112];
    uint32_t cfsr = *(volatile uint32_t *)0xE000ED28u;
    uint32_t bfar = *(volatile uint32_t *)0xE000ED38u;
    snprintf(line, sizeof line, "board: %s (CFSR %08lx BFAR %08lx); restarting\n",
             what, (unsigned long)cfsr, (unsigned long)bfar);
    say(line);
    fl_board_restart();
}

int main(void)
{
    systick_start();
    return fl_mcu_main();
}
