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
 *
 * A process that moves a hundred MiB through such buffers still pays a
 * fault per 4 KiB page the first time its heap grows to hold its window of
 * messages: 10,000 faults, half of the word-count client's CPU on the
 * benchmark machine, where faults are dear. Transparent huge pages cut
 * them 512-fold; the kernel grants them only to memory that asks
 * (madvise), and glibc asks only when told at start-up by GLIBC_TUNABLES,
 * so cli_prefer_huge_pages grows the heap, marks it and gives it back to
 * malloc, which keeps it (the trim threshold above). malloc writes a
 * header at the start of each piece before the mark, and a 2 MiB range
 * with one page in it is filled 4 KiB at a time: 512 faults each, up to
 * 2,000 per run. So the marked range, free again, drops its pages.
 * Depends on glibc's mallopt and Linux's madvise; elsewhere it does nothing.
 */
#include "malloc_tune.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

void cli_tune_malloc(void)
{
#if defined(__GLIBC__)
    /* Failure only means the default behaviour: nothing to report. */
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
#endif
}

#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
enum { HEAP_PIECE = 16 << 20, HUGE_PAGE = 2 << 20, MAX_PIECES = 16 };

/* Drop the pages of [lo, hi) that lie inside malloc's free top chunk
 * (which ends at the program break and is keepcost bytes long): their
 * contents are garbage to malloc, and an empty 2 MiB range can then be
 * faulted in as one huge page. Anything else in the range is left alone:
 * a live block there must keep its bytes. */
static void drop_free_top(uintptr_t lo, uintptr_t hi)
{
#if __GLIBC_PREREQ(2, 33)
    struct mallinfo2 mi = mallinfo2();
    void *brk_now = sbrk(0);
    if (brk_now == (void *)-1)
        return;
    uintptr_t top_end = (uintptr_t)brk_now;
    if (mi.keepcost > top_end)
        return;
    /* The top chunk's own header (two words) is the one part in use. Any
     * doubt (a heap that is not one run up to the break, pieces that did
     * not fall back into the top chunk) and nothing is dropped. */
    uintptr_t body = top_end - mi.keepcost + 2 * sizeof(size_t);
    if (body > lo || hi > top_end || hi <= lo)
        return;
    (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
    (void)lo;
    (void)hi;
#endif
}

void cli_prefer_huge_pages(size_t bytes)
{
    void *piece[MAX_PIECES];
    size_t n = 0;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    /* Pieces under the mmap threshold come from the heap, one after the
     * other; nothing touches their pages yet. */
    while (n < MAX_PIECES && n * HEAP_PIECE < bytes) {
        void *p = malloc(HEAP_PIECE);
        if (!p)
            break;
        piece[n++] = p;
        if ((uintptr_t)p < lo)
            lo = (uintptr_t)p;
        if ((uintptr_t)p + HEAP_PIECE > hi)
            hi = (uintptr_t)p + HEAP_PIECE;
    }
    lo = (lo + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    hi &= ~(uintptr_t)(HUGE_PAGE - 1);
    /* Advice only: refused, the memory works as before. */
    if (n && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    while (n)
        free(piece[--n]);
    drop_free_top(lo, hi);
}
#else
void cli_prefer_huge_pages(size_t bytes)
{
    (void)bytes;
}
#endif
