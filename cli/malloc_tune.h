/*
 * malloc_tune.h - how the floret processes ask the C library to keep the
 * memory of large messages instead of returning it to the system after
 * each one (see malloc_tune.c for the measurement behind it).
 * Depends on nothing.
 */
#ifndef FLORET_CLI_MALLOC_TUNE_H
#define FLORET_CLI_MALLOC_TUNE_H

#include <stddef.h>

/* The same settings as an environment entry for a child process we start
 * (the local cluster's broker): "GLIBC_TUNABLES=...". */
#define CLI_MALLOC_TUNABLES \
    "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"

/* Apply them to this process; call first thing in main, before threads. */
void cli_tune_malloc(void);

/* Ask for transparent huge pages behind the next `bytes` of large heap
 * blocks (Linux with glibc; elsewhere, or when the kernel says no, it does
 * nothing). Only for a process that will fill that much anyway, like the
 * word-count client: a huge page is 2 MiB of memory once touched. */
void cli_prefer_huge_pages(size_t bytes);

#endif
