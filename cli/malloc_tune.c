/*
 * malloc_tune.c - keep large buffers in the heap. Word-count chunks and
 * their partial counts are messages of a few MiB; by default glibc serves
 * each from a fresh mmap and unmaps it when freed, so every message pays a
 * page fault per 4 KiB page, several times over (the codec, the MQTT
 * library and the broker each copy it). On the benchmark machine (a VM
 * where page faults are dear) that cost more CPU than counting the words:
 * a 100 MB --no-locality count took 0.9 CPU-s in mosquitto and 0.6 in each
 * node, against 0.08 and 0.3 with these settings (docs/benchmarks.md).
 * Large blocks (< 32 MiB) now come from the heap and up to 128 MiB of free
 * heap is kept: the memory of the largest job stays with the process.
 * Depends on glibc's mallopt; elsewhere it does nothing.
 */
#include "malloc_tune.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void cli_tune_malloc(void)
{
#if defined(__GLIBC__)
    /* Failure only means the default behaviour: nothing to report. */
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
#endif
}
