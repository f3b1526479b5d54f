/*
 * progress.c - `floret run`'s progress line (progress.h): like pv, one line
 * on stderr redrawn with a carriage return, only on a terminal unless
 * forced. The rate is that of the last 5 s of samples (the whole run before
 * then), so the ETA follows a cluster that speeds up or slows down.
 * Depends on progress.h and the C library (isatty, ioctl for the width).
 */
#include "progress.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FIRST_DRAW_S 0.5
#define RATE_WINDOW_S 5.0
#define DEFAULT_WIDTH 80
#define BAR_WIDTH 20

bool cli_progress_wanted(enum cli_progress_mode mode, FILE *out)
{
    if (mode == CLI_PROGRESS_ON)
        return true;
    if (mode == CLI_PROGRESS_OFF)
        return false;
    return isatty(fileno(out)) == 1;
}

static int columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return DEFAULT_WIDTH;
}

void cli_progress_init(struct cli_progress *p, FILE *out, bool on, bool forced,
                       size_t total, double now_s)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->on = on;
    p->forced = forced;
    p->total = total;
    p->start_s = now_s;
    p->width = on ? columns(out) : DEFAULT_WIDTH;
}

/* "1:02:03", "2:03" or "--:--" for a time not known. */
static void clock_text(char *buf, size_t cap, double s)
{
    if (!(s >= 0) || s > 99 * 3600.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

void cli_progress_format(char *buf, size_t cap, size_t total,
                         const fl_node_counters *k, double rate,
                         double elapsed_s, bool final)
{
    uint64_t done = k->tasks_finished;
    char bar[BAR_WIDTH + 1], when[32];
    size_t fill = total ? (size_t)((double)BAR_WIDTH *
                                   (double)(done < total ? done : total) /
                                   (double)total)
                        : 0;
    for (size_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    if (final) {
        clock_text(when, sizeof when, elapsed_s);
    } else {
        double eta = rate > 0 && total > done ? (double)(total - done) / rate
                     : total <= done ? 0 : -1;
        char t[24];
        clock_text(t, sizeof t, eta);
        snprintf(when, sizeof when, "ETA %s", t);
    }
    snprintf(buf, cap, "[%s] %llu/%zu tasks %3u%%  %u running  %llu failed  "
                       "%.1f/s  %s%s",
             bar, (unsigned long long)done, total,
             total ? (unsigned)(100.0 * (double)(done < total ? done : total) /
                                (double)total)
                   : 0,
             (unsigned)k->leased, (unsigned long long)k->tasks_failed, rate,
             final ? "in " : "", when);
}

static void add_sample(struct cli_progress *p, double now_s, uint64_t done)
{
    if (p->nsamples == CLI_PROGRESS_SAMPLES) {
        memmove(p->at, p->at + 1, sizeof p->at[0] * (CLI_PROGRESS_SAMPLES - 1));
        memmove(p->done, p->done + 1,
                sizeof p->done[0] * (CLI_PROGRESS_SAMPLES - 1));
        p->nsamples--;
    }
    p->at[p->nsamples] = now_s;
    p->done[p->nsamples] = done;
    p->nsamples++;
}

/* Tasks per second over the last RATE_WINDOW_S (from the start before). */
static double rate_of(const struct cli_progress *p, double now_s, uint64_t done)
{
    double t0 = p->start_s;
    uint64_t d0 = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        if (now_s - p->at[i] <= RATE_WINDOW_S) {
            if (i > 0) {
                t0 = p->at[i - 1];
                d0 = p->done[i - 1];
            }
            break;
        }
        t0 = p->at[i];
        d0 = p->done[i];
    }
    if (now_s - t0 < 0.05 || done < d0)
        return 0;
    return (double)(done - d0) / (now_s - t0);
}

static void draw(struct cli_progress *p, const fl_node_counters *k,
                 double rate, double now_s, bool final)
{
    char line[256];
    size_t max = (size_t)p->width - 1;
    cli_progress_format(line, sizeof line, p->total, k, rate,
                        now_s - p->start_s, final);
    if (max < sizeof line)
        line[max] = '\0'; /* a line that wraps cannot be redrawn in place */
    /* \033[K clears what a longer previous line left. */
    fprintf(p->out, "\r%s\033[K%s", line, final ? "\n" : "");
    fflush(p->out);
    p->drawn = true;
}

void cli_progress_update(struct cli_progress *p, const fl_node_counters *k,
                         double now_s)
{
    if (!p->on)
        return;
    if (!p->forced && !p->drawn && now_s - p->start_s < FIRST_DRAW_S)
        return;
    double rate = rate_of(p, now_s, k->tasks_finished);
    add_sample(p, now_s, k->tasks_finished);
    draw(p, k, rate, now_s, false);
}

void cli_progress_end(struct cli_progress *p, const fl_node_counters *k,
                      double now_s)
{
    if (!p->on || (!p->drawn && !p->forced))
        return;
    double el = now_s - p->start_s;
    double rate = el > 0 ? (double)k->tasks_finished / el : 0;
    draw(p, k, isfinite(rate) ? rate : 0, now_s, true);
}
