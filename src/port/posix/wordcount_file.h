/*
 * wordcount_file.h - the word count's locality task "wc.file": a node that
 * can read the client's input file itself counts a range of it, so the
 * bytes never cross the broker (docs/wordcount.md, "Data locality").
 * Depends on the public header only, so cli/ can include it.
 */
#ifndef FL_WORDCOUNT_FILE_H
#define FL_WORDCOUNT_FILE_H

#include "floret/floret.h"

/* The error type of a node that cannot prove it sees the client's file:
 * the client then sends that chunk's bytes instead. Never retryable. */
#define FL_WC_NOT_LOCAL "NotLocal"

/* The directories wc.file may read below (--data-dir). */
typedef struct fl__wc_roots fl__wc_roots;

/*
 * Resolve dirs[0..n) (realpath: each must exist and be a directory) into a
 * set of allowed directories; NULL with a one-line reason in err when one
 * is not. n may be 0 (nothing is readable). Free with fl__wc_roots_free.
 */
fl__wc_roots *fl__wc_roots_new(const char *const *dirs, size_t n, char *err,
                               size_t errlen);
void fl__wc_roots_free(fl__wc_roots *roots);

/*
 * Register "wc.file": kwargs {"path": absolute path, "offset": o,
 * "length": n, "size": file size, "mtime_s": s, "mtime_ns": ns,
 * "sample": 16 hex digits of fl__wc_sample_hash, "min_length": L}; the
 * outcome is wc.map's for bytes [o, o+n) of the file, or NotLocal ("not
 * readable here", whatever the reason) when the path is not a regular file
 * below one of roots, reached without a symbolic link below it, or differs
 * from the client's in any checked way. roots must outlive the registry.
 * FL_OK, FL_EEXIST or FL_ENOMEM.
 */
fl_status fl__register_wordcount_file(fl_registry *reg, const fl__wc_roots *roots);

#endif
