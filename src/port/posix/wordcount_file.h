/*
 * wordcount_file.h - the word count's locality task "wc.file": a node that
 * can read the client's input file itself counts a range of it, so the
 * bytes never cross the broker (docs/wordcount.md, "Data locality"); its
 * public calls (fl_wordcount_roots_*, fl_register_wordcount_file) are in
 * floret.h.
 * Depends on the public header only.
 */
#ifndef FL_WORDCOUNT_FILE_H
#define FL_WORDCOUNT_FILE_H

#include "floret/floret.h"

/* The error type of a node that cannot prove it sees the client's file:
 * the client then sends that chunk's bytes instead. Never retryable. */
#define FL_WC_NOT_LOCAL "NotLocal"

#endif
