/*
 * canvas_parse.h - the `floret run` expression language (canvas_parse.c).
 * Depends on buf.h and the public header.
 */
#ifndef FL_CANVAS_PARSE_H
#define FL_CANVAS_PARSE_H

#include <stddef.h>

#include "buf.h"
#include "floret/floret.h"

/*
 * Parse len bytes of expression into canvas JSON appended to out
 * (NUL-terminated, the NUL not counted in out->len). FL_OK, FL_EINVAL (err
 * says what was expected, *col the byte offset where it went wrong) or
 * FL_ENOMEM.
 */
fl_status fl__canvas_parse(const char *text, size_t len, fl_buf *out,
                           char *err, size_t errlen, size_t *col);

/*
 * Check len bytes of canvas JSON as fl_core_apply would before running it
 * (canvas.c, the one validator): FL_OK, FL_EINVAL (err says where and
 * what, "canvas.group[1]: ...") or FL_ENOMEM.
 */
fl_status fl__canvas_validate(const char *json, size_t len, char *err,
                              size_t errlen);

#endif
