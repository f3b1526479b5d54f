/*
 * log.c - the node's log lines: to the application's callback when it gave
 * one, else one line on stderr, "<UTC time> floret[<node>] <level>: <line>"
 * (ISO 8601, milliseconds). Lines above the configured level are dropped
 * before they are formatted.
 * Depends on posix.h and stdio.
 */
#include "posix.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *level_name(int level)
{
    switch (level) {
    case FL_LOG_ERROR: return "error";
    case FL_LOG_WARN: return "warn";
    case FL_LOG_INFO: return "info";
    default: return "debug";
    }
}

void fl__plog_init(fl_logger *lg, fl_log_fn fn, void *ud, int level)
{
    memset(lg, 0, sizeof *lg);
    lg->fn = fn;
    lg->ud = ud;
    lg->level = level;
    pthread_mutex_init(&lg->mu, NULL);
}

void fl__plog_destroy(fl_logger *lg)
{
    pthread_mutex_destroy(&lg->mu);
}

void fl__plog_line(fl_logger *lg, int level, const char *line)
{
    if (level > lg->level)
        return;
    /* Serialised so a callback never runs twice at once and stderr lines
     * from several threads never interleave. */
    pthread_mutex_lock(&lg->mu);
    if (lg->fn)
        lg->fn(lg->ud, level, line);
    else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ floret[%s] %s: %s\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000L, lg->node, level_name(level), line);
    }
    pthread_mutex_unlock(&lg->mu);
}

void fl__plog(fl_logger *lg, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (level > lg->level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fl__plog_line(lg, level, line);
}
