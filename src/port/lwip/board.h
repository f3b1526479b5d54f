/*
 * board.h - what a board gives the floret microcontroller port: a clock,
 * a console, one lwIP network interface, entropy, and its settings (node
 * id, broker, slots). A new board implements exactly these functions in
 * boards/<name>/ and calls fl_mcu_main() from its main(); everything else
 * (the floret core, lwIP's MQTT client, the task loop, the memory arena)
 * is the port's. docs/microcontrollers.md says how to bring up a board.
 *
 * All functions are called from the one thread of the firmware's loop;
 * none needs to be reentrant or interrupt-safe beyond what it says.
 * Depends on <stdbool.h>, <stddef.h>, <stdint.h> and lwIP's netif type.
 */
#ifndef FL_BOARD_H
#define FL_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netif;

/* Room for a node id or cluster name (64 bytes, floret's limit) and NUL. */
#define FL_BOARD_ID_BUF 65

/* What the board tells the port at boot (from its command line, flash,
 * fuses...). fl_mcu_main fills the defaults first, so a board sets only
 * what it knows. */
typedef struct fl_board_settings {
    char node_id[FL_BOARD_ID_BUF];  /* "" = "mcu-" and 8 hex digits of entropy */
    char cluster[FL_BOARD_ID_BUF];  /* default "default" */
    uint8_t broker_ip[4];           /* IPv4 address of the MQTT broker */
    uint16_t broker_port;           /* default 1883 */
    char user[FL_BOARD_ID_BUF];     /* MQTT user name, "" = none */
    char pass[FL_BOARD_ID_BUF];     /* MQTT password, "" = none */
    uint32_t slots;                 /* tasks run at once (default 1) */
    int log_level;                  /* FL_LOG_* (default FL_LOG_INFO) */
    uint32_t stats_ms;              /* print memory and task counters this
                                     * often on the console; 0 = never */
} fl_board_settings;

/* Microseconds since boot, monotonic, never wrapping within 2^64. A
 * resolution of one millisecond is enough (lwIP's timers and floret's
 * leases are in milliseconds; finer only sharpens task run times). */
uint64_t fl_board_now_us(void);

/* Write n bytes of text to the console (log lines arrive with their
 * newline). May drop bytes when no console is attached. */
void fl_board_console(const char *text, size_t n);

/* Fill s with the board's settings. false: the board cannot run (its
 * reason is already on the console). */
bool fl_board_settings_get(fl_board_settings *s);

/* 64 bits that differ at every boot (hardware RNG, an ADC's noise, a
 * seed handed in by the host): floret's incarnation and its jitter come
 * from them. */
uint64_t fl_board_entropy(void);

/* Start the network interface: netif_add it to lwIP, give it an address
 * (DHCP or static) and make it the default. Called once, after lwip_init.
 * NULL when there is no network (the reason is on the console). */
struct netif *fl_board_netif_start(void);

/* Move frames the NIC received into lwIP (netif->input) and anything
 * else the driver needs to do; called once per turn of the loop. */
void fl_board_netif_poll(struct netif *netif);

/* Wait for an interrupt (a tick, a frame), at most about ms milliseconds;
 * returning at once is allowed. */
void fl_board_idle(uint32_t ms);

/* Bytes of the stack used so far at most (a painted stack's high-water
 * mark), or 0 when the board does not measure it. */
size_t fl_board_stack_peak(void);

/* Start the board again from reset (a watchdog reset, AIRCR's
 * SYSRESETREQ): what the port does when lwIP's own checks fail, so that a
 * broken state ends in a reboot and a new incarnation, not a hung node.
 * Never returns. */
void fl_board_restart(void) __attribute__((noreturn));

/* The firmware's entry: never returns while it can run; returns non-zero
 * when the board cannot start (no settings, no network). */
int fl_mcu_main(void);

#endif
