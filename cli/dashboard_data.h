/*
 * dashboard_data.h - what `floret dashboard` serves, written from the view
 * (view.h): the JSON snapshot behind /api/status and every Server-Sent
 * Event of the page, and the Prometheus text of /metrics. Also the
 * cluster-wide series of the page's chart, sampled by the caller.
 * Depends on view.h.
 */
#ifndef FLORET_CLI_DASHBOARD_DATA_H
#define FLORET_CLI_DASHBOARD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* A growable text buffer; on allocation failure it stays as it was and
 * failed is set. */
struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
};

void sb_free(struct sbuf *b);
void sb_printf(struct sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Append len bytes (NULs included: the buffer stays NUL-terminated after
 * them). */
void sb_add(struct sbuf *b, const void *data, size_t len);

/* Append s as a JSON string ('<' escaped, so never "</script>"). */
void sb_str(struct sbuf *b, const char *s);

#define DASH_SERIES 150 /* 5 minutes at 2 s */

/* Cluster totals over time, for the chart. */
struct dash_series {
    uint64_t at[DASH_SERIES];
    double rate[DASH_SERIES], fail_rate[DASH_SERIES];
    size_t n;                 /* samples taken (ring) */
    uint64_t last_at, last_executed, last_failed;
};

/* Take one sample of the cluster's totals (under the view's lock). */
void dash_sample(struct dash_series *s, struct view *v, uint64_t now);

/* The snapshot as JSON (under the view's lock). */
void dash_json(struct sbuf *b, struct view *v, const struct dash_series *s,
               const char *cluster, uint64_t now);

/* /metrics in Prometheus' text format 0.0.4 (under the view's lock). */
void dash_metrics(struct sbuf *b, struct view *v, const char *cluster);

#endif
