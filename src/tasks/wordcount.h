/*
 * wordcount.h - the word-count engine: tokenizer, word -> count table,
 * the binary partial-count format, merge, rankings and the chunker.
 * Shared by the wc.map task, the floret wordcount command and the bench
 * counter, so all three count exactly the same words (docs/wordcount.md).
 * Portable and sans-I/O. Depends on the public header (statuses) only.
 */
#ifndef FL_WORDCOUNT_H
#define FL_WORDCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

/* First bytes of every encoded partial count. */
#define FL_WC_MAGIC "FWC1"
#define FL_WC_MAGIC_LEN 4

/* Longest word the table holds (bytes); longer ones fail with FL_ETOOBIG. */
#define FL_WC_MAX_WORD 0xFFFFFFF0u

/* A word -> count table; memory grows with the vocabulary, not the input. */
typedef struct fl_wc_table fl_wc_table;

/* One word of a table, as handed out by the ranking calls. word is not
 * NUL-terminated and lives as long as the table is not modified. */
typedef struct fl_wc_entry {
    const uint8_t *word;
    size_t len;
    uint64_t count;
} fl_wc_entry;

/* True for the bytes that make up words: ASCII letters and digits and
 * every byte >= 0x80. */
bool fl__wc_is_word_byte(uint8_t b);

/* A new empty table, or NULL when out of memory. */
fl_wc_table *fl__wc_new(void);
void fl__wc_free(fl_wc_table *t);

/* Forget every word but keep the memory, so a table reused for the next
 * chunk neither grows again nor touches fresh pages. */
void fl__wc_clear(fl_wc_table *t);

/* Zero every count but keep the words and the memory: the next chunk of
 * the same text finds most of its words already in place, so counting it
 * neither inserts them again nor grows the table. Words left at 0 are not
 * seen by fl__wc_next, fl__wc_distinct, the rankings or the encoding. When
 * the kept words are more than twice those counted since the last reuse
 * (plus 4096), the text has moved on: the table forgets them all
 * (fl__wc_clear), so its memory stays near one chunk's vocabulary. */
void fl__wc_reuse(fl_wc_table *t);

/*
 * Count the words of data[0..len) that are at least min_len bytes long
 * (min_len 0 and 1 both keep every word). The buffer is taken as whole: a
 * word touching either end counts as a word. FL_OK, FL_ENOMEM or
 * FL_ETOOBIG (a word over FL_WC_MAX_WORD or the table's address space);
 * on error the table keeps what was counted before the failing word.
 */
fl_status fl__wc_count(fl_wc_table *t, const void *data, size_t len,
                       size_t min_len);

/* Add count occurrences of a word, which must already be a lowercase word
 * (no separator byte, len >= 1). FL_OK, FL_EINVAL, FL_ENOMEM, FL_ETOOBIG. */
fl_status fl__wc_add(fl_wc_table *t, const void *word, size_t len,
                     uint64_t count);

/* fl__wc_add for a word already known to be a lowercase word of len >= 1
 * bytes (the merge checks a whole partial first): no second check. */
fl_status fl__wc_add_checked(fl_wc_table *t, const void *word, size_t len,
                             uint64_t count);

/* fl__wc_add_checked for n <= FL_WC_BATCH words at once, faster on a
 * large table (their memory is fetched together). Stops at the first error;
 * the words before it are counted. FL_EINVAL when n is too large. */
#define FL_WC_BATCH 16u
fl_status fl__wc_add_batch(fl_wc_table *t, const fl_wc_entry *e, size_t n);

/* Walk the words in first-seen order: start with *pos = 0; fills *e and
 * returns true, or returns false after the last word. */
bool fl__wc_next(const fl_wc_table *t, size_t *pos, fl_wc_entry *e);

/* Sum of all counts and number of distinct words. */
uint64_t fl__wc_total(const fl_wc_table *t);
size_t fl__wc_distinct(const fl_wc_table *t);

/* Bytes of memory the table holds (for tests and --verbose reports). */
size_t fl__wc_memory(const fl_wc_table *t);

/*
 * Encode the table as a partial count (docs/wordcount.md, "Partial count
 * format") into a new buffer the caller frees with fl__free.
 * FL_OK or FL_ENOMEM.
 */
fl_status fl__wc_encode(const fl_wc_table *t, uint8_t **out, size_t *out_len);

/*
 * Validate an encoded partial count, then add it to t. Untrusted input:
 * anything malformed is FL_EPROTO and leaves t untouched. *words and
 * *distinct (either may be NULL) get the partial's totals. FL_OK,
 * FL_EPROTO, FL_ENOMEM or FL_ETOOBIG (the latter two may leave t partly
 * merged).
 */
fl_status fl__wc_merge(fl_wc_table *t, const void *data, size_t len,
                       uint64_t *words, size_t *distinct);

/*
 * What fl__wc_merge_from remembers of one source of partials: the entry of
 * t that each position of its last partial went to. A node keeps its
 * table between tasks (fl__wc_task_table), so its partials list their
 * words in nearly the same order, and a word found at the remembered
 * entry is added without hashing or probing. Start zeroed; release with
 * fl__wc_hint_free. Only for the one table it was used with.
 */
typedef struct fl_wc_hint {
    uint32_t *entry; /* entry number + 1 by position; 0: unknown */
    size_t n, cap;
} fl_wc_hint;

void fl__wc_hint_free(fl_wc_hint *h);

/* fl__wc_merge for partials that come from one source, with its hint h:
 * the same checks, statuses and result. */
fl_status fl__wc_merge_from(fl_wc_table *t, fl_wc_hint *h, const void *data,
                            size_t len, uint64_t *words, size_t *distinct);

/* Add count to a checked lowercase word (as fl__wc_add_checked), first
 * trying entry *e (entry number + 1, 0 for none); *e gets the word's
 * entry. */
fl_status fl__wc_add_at(fl_wc_table *t, const void *word, size_t len,
                        uint64_t count, uint32_t *e);

/* Ask the cache for entry e (number + 1) of t ahead of its use; nothing
 * for 0 or an entry t does not have. */
void fl__wc_prefetch_entry(const fl_wc_table *t, uint32_t e);

/*
 * The n most frequent words (count descending, then word ascending
 * bytewise), or all of them when n is 0 or above the vocabulary. *out is
 * an array the caller frees with fl__free (NULL when *count is 0).
 * FL_OK or FL_ENOMEM.
 */
fl_status fl__wc_top(const fl_wc_table *t, size_t n, fl_wc_entry **out,
                     size_t *count);

/* Every word in ascending bytewise order (the order of `LC_ALL=C sort`).
 * Same ownership and statuses as fl__wc_top. */
fl_status fl__wc_sorted(const fl_wc_table *t, fl_wc_entry **out,
                        size_t *count);

/*
 * The chunker. Given the next avail bytes of one input, where the next
 * chunk of about target bytes should end so that no word is split:
 * returns k in 1..avail such that data[0..k) ends at a word boundary and
 * k <= target unless the first word alone is longer than target (that word
 * then becomes a chunk of its own). eof says no byte follows data[avail-1].
 * Returns 0 when more bytes are needed to decide: avail <= target without
 * eof, or the first word runs to the end of the bytes given. Returns 0 for
 * avail 0. target 0 is taken as 1.
 */
size_t fl__wc_chunk_end(const void *data, size_t avail, size_t target,
                        bool eof);

/* Bytes of each piece the locality check hashes (docs/wordcount.md). */
#define FL_WC_SAMPLE 4096u

/*
 * The locality check's sample hash of a range of a file of file_size
 * bytes: head is the file's first min(FL_WC_SAMPLE, file_size) bytes,
 * range the range's bytes (only its first and last FL_WC_SAMPLE are read).
 * The client and the node that reads the file compute it each from its own
 * view; equal hashes (with equal size and mtime) mean the same bytes.
 * Not a cryptographic hash: it guards against stale or different files.
 */
uint64_t fl__wc_sample_hash(uint64_t file_size, const void *head,
                            size_t head_len, const void *range,
                            size_t range_len);

/* fl__wc_sample_hash from the range's ends alone, for a reader that does
 * not hold the whole range: first is the whole range when range_len <=
 * 2 * FL_WC_SAMPLE; otherwise first and last are its first and last
 * FL_WC_SAMPLE bytes. */
uint64_t fl__wc_sample_hash_ends(uint64_t file_size, const void *head,
                                 size_t head_len, const void *first,
                                 const void *last, size_t range_len);

/*
 * The body of a map task: count data[0..len) keeping words of at least
 * kwargs.min_length bytes and set the task's outcome, {"words": n,
 * "distinct": d} with the partial count as the result attachment, or a
 * clear failure. task names the task in error messages. Shared by wc.map
 * (bytes in the attachment) and wc.file (bytes read by the node).
 */
void fl__wc_map_bytes(fl_task_ctx *ctx, const char *task, const void *data,
                      size_t len);

/*
 * The same body in two steps, for a reader that counts its bytes piece by
 * piece (each piece cut at a word boundary) into the table:
 * fl__wc_map_start reads kwargs.min_length into *min_len and returns an
 * empty table (fl__wc_task_table), or NULL after failing the task.
 * fl__wc_map_finish takes the table (fl__wc_task_table_done): with
 * count_status FL_OK it sets the outcome as fl__wc_map_bytes does;
 * otherwise it fails the task with that status.
 */
fl_wc_table *fl__wc_map_start(fl_task_ctx *ctx, const char *task,
                              size_t *min_len);
void fl__wc_map_finish(fl_task_ctx *ctx, const char *task, fl_wc_table *t,
                       fl_status count_status);

/*
 * The map tasks' tables. fl__wc_task_table returns an empty table, the
 * one a finished task gave back if there is one (NULL when out of memory);
 * fl__wc_task_table_done gives it back, reused (fl__wc_reuse), to be
 * kept for the next task, or frees it when it holds over 8 MiB or 8 are
 * already kept. So a node's threads keep the words of their last chunk
 * between tasks, and a node keeps at most 64 MiB for it after a word
 * count. Safe from any thread.
 */
fl_wc_table *fl__wc_task_table(void);
void fl__wc_task_table_done(fl_wc_table *t);

#endif
