/*
 * log.c - the node's log lines: to the application's callback when it gave
 * one, else one line on stderr, "<UTC time> floret[<node>] <level>: <line>"
 * (ISO 8601, milliseconds), or with FL_LOG_JSON one JSON object per line
 * (docs/watching.md, "Logs"). Lines above the configured level are dropped
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

/* s as a JSON string: quotes, backslash and control bytes escaped; other
 * bytes as they are (the node's own text, or a task's, which the codec
 * checked to be UTF-8). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_member(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",\"%s\":", key);
    json_str(f, value);
}

/* One JSON object: time, level, node, message and a task's fields. */
static void write_json(const fl_logger *lg, const char *stamp, int level,
                       const char *line, const fl_core_task_log *t)
{
    FILE *f = stderr;
    fputs("{\"time\":", f);
    json_str(f, stamp);
    json_member(f, "level", level_name(level));
    json_member(f, "node", lg->node);
    json_member(f, "message", line);
    if (t) {
        char id[FL_MAX_ID_BUF + 24];
        snprintf(id, sizeof id, "%s:%llu", t->owner, (unsigned long long)t->id);
        json_member(f, "task", t->name);
        json_member(f, "task_id", id);
        fprintf(f, ",\"attempt\":%u", (unsigned)t->attempt);
        json_member(f, "outcome", t->ok ? "succeeded" : "failed");
        fprintf(f, ",\"duration_ms\":%.3f", (double)t->run_us / 1000.0);
        if (!t->ok) {
            json_member(f, "error_type", t->err_type);
            if (t->err_message)
                json_member(f, "error", t->err_message);
        }
    }
    fputs("}\n", f);
}

static void emit(fl_logger *lg, int level, const char *line,
                 const fl_core_task_log *t)
{
    if (level > lg->level)
        return;
    /* Serialised so a callback never runs twice at once and stderr lines
     * from several threads never interleave. */
    pthread_mutex_lock(&lg->mu);
    if (lg->fn) {
        lg->fn(lg->ud, level, line);
    } else {
        struct timespec ts;
        struct tm tm;
        char stamp[96];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000L) % 1000);
        if (lg->format == FL_LOG_JSON)
            write_json(lg, stamp, level, line, t);
        else
            fprintf(stderr, "%s floret[%s] %s: %s\n", stamp, lg->node,
                    level_name(level), line);
    }
    pthread_mutex_unlock(&lg->mu);
}

void fl__plog_line(fl_logger *lg, int level, const char *line)
{
    emit(lg, level, line, NULL);
}

void fl__plog_task(fl_logger *lg, int level, const char *line,
                   const fl_core_task_log *t)
{
    emit(lg, level, line, t);
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
