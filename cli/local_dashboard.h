/*
 * local_dashboard.h - `floret local --dashboard`: a `floret dashboard` of
 * this same binary beside the embedded cluster (local_dashboard.c).
 * Depends on POSIX.
 */
#ifndef FLORET_CLI_LOCAL_DASHBOARD_H
#define FLORET_CLI_LOCAL_DASHBOARD_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Start `floret dashboard --listen LISTEN` against $FLORET_BROKER (listen
 * NULL: 127.0.0.1:8080, or a free port when 8080 is taken) and wait for it
 * to say where it serves: its URL goes into url. Returns its pid, or -1
 * after printing why on stderr. It dies with this process.
 */
pid_t local_dashboard_start(const char *listen, char *url, size_t cap);

/* Stop it (SIGTERM, bounded wait, SIGKILL). */
void local_dashboard_stop(pid_t pid);

#endif
