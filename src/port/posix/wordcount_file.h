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

/*
 * Register "wc.file": kwargs {"path": absolute path, "offset": o,
 * "length": n, "size": file size, "mtime_s": s, "mtime_ns": ns,
 * "sample": 16 hex digits of fl__wc_sample_hash, "min_length": L}; the
 * outcome is wc.map's for bytes [o, o+n) of the file, or NotLocal when the
 * node's file differs in any checked way or cannot be read.
 * FL_OK, FL_EEXIST or FL_ENOMEM.
 */
fl_status fl__register_wordcount_file(fl_registry *reg);

#endif
