/*
 * clock.h - wall-clock helpers of the monitor subcommands (clock.c).
 * Depends on the C library only.
 */
#ifndef FLORET_CLI_CLOCK_H
#define FLORET_CLI_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since 1970-01-01 UTC. */
uint64_t cli_wall_ms(void);

/* ms as "2026-12-01T22:55:06.123Z" into out (cap >= 25). */
void cli_iso_time(char *out, size_t cap, uint64_t ms);

#endif
