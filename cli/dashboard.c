/*
 * dashboard.c - `floret dashboard --listen HOST:PORT`: a zero-slot node that
 * watches the cluster (view.h, asking every node for its task events) and
 * an HTTP server (libmicrohttpd) serving one live page, embedded in the
 * binary (cli/dashboard/index.html, no CDN), its updates pushed as
 * Server-Sent Events on /events, the same snapshot as JSON on /api/status
 * and Prometheus metrics on /metrics. The main thread refreshes the
 * snapshot every second; each connection has its own thread, so an SSE
 * stream simply waits for the next snapshot. Beside its node, a picture
 * feed (dashboard_feed.h) reads the tiles of `floret mandelbrot` runs
 * (dashboard_picture.h), which every stream sends as they come, the run so
 * far first; /api/picture sums them up.
 * Depends on cli.h, client.h, clock.h, conn.h, dashboard_data.h,
 * dashboard_feed.h, dashboard_picture.h, opts.h, view.h, libmicrohttpd and
 * pthreads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "conn.h"
#include "dashboard_data.h"
#include "dashboard_feed.h"
#include "dashboard_picture.h"
#include "opts.h"
#include "view.h"

#define CMD "dashboard"
#define REFRESH_MS 1000
#define SAMPLE_MS 2000
#define SSE_KEEPALIVE_S 15
#define MAX_CONNECTIONS 64

extern const unsigned char cli_dashboard_page[];
extern const size_t cli_dashboard_page_len;

struct dash {
    struct view v;
    struct dash_series series;
    const char *cluster;
    pthread_mutex_t mu;   /* snapshot, seq, stopping, pic */
    pthread_cond_t cv;
    struct dash_pic pic;
    char *snap;
    size_t snap_len;
    uint64_t seq;
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret dashboard [OPTIONS]\n\n"
            "Serve a live page of the cluster: every node with its state, slots, load,\n"
            "tags, modules and running tasks, throughput and failures over the last\n"
            "minutes, each node's share of the work and the recent failures, and the\n"
            "picture of a running `floret mandelbrot`, tile by tile; also /metrics\n"
            "(Prometheus), /api/status and /api/picture (JSON). Runs until Ctrl-C.\n\n"
            "Options:\n"
            "  --listen HOST:PORT   where to serve (default 127.0.0.1:8080; port 0 picks\n"
            "                       a free one); HOST is an IPv4 address\n"
            "  --cluster NAME       default: default\n"
            CLI_CONN_HELP
            "  -v, --verbose        log the node's debug lines\n"
            "  -h, --help           show this help\n");
}

/* ------------------------------------------------------------ snapshots */

static void refresh(struct dash *d, fl_node *node, bool sample)
{
    struct sbuf b = {0};
    uint64_t now = cli_wall_ms();
    view_update_peers(&d->v, node, fl_node_id(node));
    view_sort(&d->v);
    view_lock(&d->v);
    if (sample)
        dash_sample(&d->series, &d->v, now);
    dash_json(&b, &d->v, &d->series, d->cluster, now);
    view_unlock(&d->v);
    if (b.failed) {
        sb_free(&b);
        return;
    }
    pthread_mutex_lock(&d->mu);
    free(d->snap);
    d->snap = b.s;
    d->snap_len = b.len;
    d->seq++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* ----------------------------------------------------------------- HTTP */

struct sse {
    struct dash *d;
    uint64_t seq;
    uint64_t pic_seq; /* the run whose events it sends */
    size_t pic_next;  /* its next event */
    char *buf;
    size_t len, off;
};

/* The next picture event this stream has not sent (under d->mu), copied
 * into s->buf; a new run starts its events again from the first. */
static bool next_picture(struct sse *s)
{
    struct dash_pic *p = &s->d->pic;
    if (!p->active)
        return false;
    if (s->pic_seq != p->run_seq) {
        s->pic_seq = p->run_seq;
        s->pic_next = 0;
    }
    if (s->pic_next >= p->nev)
        return false;
    s->buf = malloc(p->ev[s->pic_next].len);
    if (!s->buf)
        return false;
    memcpy(s->buf, p->ev[s->pic_next].text, p->ev[s->pic_next].len);
    s->len = p->ev[s->pic_next].len;
    s->pic_next++;
    return true;
}

static bool picture_waiting(const struct sse *s)
{
    const struct dash_pic *p = &s->d->pic;
    return p->active && (s->pic_seq != p->run_seq || s->pic_next < p->nev);
}

/* Send the picture's events as they come and every snapshot newer than
 * the one sent; the stream ends when the dashboard stops. */
static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct sse *s = cls;
    struct dash *d = s->d;
    (void)pos;
    if (s->off == s->len) {
        free(s->buf);
        s->buf = NULL;
        s->len = s->off = 0;
        pthread_mutex_lock(&d->mu);
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += SSE_KEEPALIVE_S;
        while (!d->stopping && d->seq == s->seq && !picture_waiting(s))
            if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) == ETIMEDOUT)
                break;
        if (d->stopping) {
            pthread_mutex_unlock(&d->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!next_picture(s) && d->seq != s->seq && d->snap) {
            s->buf = malloc(d->snap_len + 16);
            if (s->buf) {
                memcpy(s->buf, "data: ", 6);
                memcpy(s->buf + 6, d->snap, d->snap_len);
                memcpy(s->buf + 6 + d->snap_len, "\n\n", 2);
                s->len = d->snap_len + 8;
            }
            s->seq = d->seq;
        }
        pthread_mutex_unlock(&d->mu);
        if (!s->buf) {
            s->buf = strdup(": keep-alive\n\n"); /* proxies keep the stream open */
            s->len = s->buf ? strlen(s->buf) : 0;
        }
        if (!s->buf)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(out, s->buf + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    struct sse *s = cls;
    free(s->buf);
    free(s);
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned code, const char *type,
                                  const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    return send_bytes(c, code, "text/plain; charset=utf-8", text, strlen(text),
                      MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_events(struct dash *d, struct MHD_Connection *c)
{
    struct sse *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->d = d; /* seq 0: the current snapshot goes out at once */
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, s, sse_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_status(struct dash *d, struct MHD_Connection *c)
{
    pthread_mutex_lock(&d->mu);
    char *copy = d->snap ? malloc(d->snap_len) : NULL;
    size_t len = d->snap_len;
    if (copy)
        memcpy(copy, d->snap, len);
    pthread_mutex_unlock(&d->mu);
    if (!copy)
        return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n");
    return send_bytes(c, MHD_HTTP_OK, "application/json", copy, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_picture(struct dash *d, struct MHD_Connection *c)
{
    struct sbuf b = {0};
    pthread_mutex_lock(&d->mu);
    dash_pic_json(&b, &d->pic);
    pthread_mutex_unlock(&d->mu);
    if (b.failed || !b.s) {
        sb_free(&b);
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return send_bytes(c, MHD_HTTP_OK, "application/json", b.s, b.len, MHD_RESPMEM_MUST_FREE);
}

/* A picture message, on the feed's thread. */
static void on_picture(void *ud, const char *topic, const void *payload, size_t len)
{
    struct dash *d = ud;
    pthread_mutex_lock(&d->mu);
    if (dash_pic_on_message(&d->pic, topic, payload, len) == 0)
        pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Read every mandelbrot run's tiles; without the feed the page just shows
 * no picture (a warning says why). */
static struct cli_feed *open_feed(struct dash *d, const struct cli_client *c)
{
    char id[65], filter[200], err[300];
    struct cli_feed *f = NULL;
    snprintf(filter, sizeof filter, "floret/v1/%s/node/+/picture", d->cluster);
    if (cli_feed_id(&c->conn, fl_node_id(c->node), id, err, sizeof err) == 0)
        f = cli_feed_open(&c->conn, id, filter, on_picture, d, 5000, err, sizeof err);
    if (!f)
        fprintf(stderr, "warning: pictures will not show: %s\n", err);
    return f;
}

static enum MHD_Result serve_metrics(struct dash *d, struct MHD_Connection *c)
{
    struct sbuf b = {0};
    view_lock(&d->v);
    dash_metrics(&b, &d->v, d->cluster);
    view_unlock(&d->v);
    if (b.failed || !b.s) {
        sb_free(&b);
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    return send_bytes(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.s, b.len,
                      MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **req)
{
    struct dash *d = cls;
    (void)version;
    (void)upload;
    if (!*req) { /* the first call is for the headers only */
        *req = d;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* no request body is read */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            cli_dashboard_page_len, (void *)cli_dashboard_page, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/events") == 0)
        return serve_events(d, c);
    if (strcmp(url, "/api/status") == 0)
        return serve_status(d, c);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(d, c);
    if (strcmp(url, "/api/picture") == 0)
        return serve_picture(d, c);
    return send_text(c, MHD_HTTP_NOT_FOUND,
                     "not found: try /, /api/status, /api/picture or /metrics\n");
}

/* ------------------------------------------------------------------ run */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int parse_listen(const char *s, struct sockaddr_in *sa, char *host, size_t hostcap)
{
    const char *colon = strrchr(s, ':');
    long port;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || (size_t)(colon - s) >= hostcap || !cli_parse_long(colon + 1, 0, 65535, &port))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, hostcap, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

int cli_dashboard(int argc, char **argv)
{
    struct dash d;
    struct cli_client c = {.cmd = CMD};
    const char *listen = "127.0.0.1:8080";
    struct sockaddr_in sa;
    char host[64];
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            c.verbose = true;
        } else if ((m = cli_opt(argc, argv, &i, "--listen", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            listen = v;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            c.cluster = v;
        } else if ((m = cli_conn_opt(argc, argv, &i, &c.conn, CMD)) != 0) {
            if (m < 0)
                return 2;
        } else {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        }
    }
    if (parse_listen(listen, &sa, host, sizeof host) != 0)
        return cli_usage_error(CMD, "--listen '%s': expected IPV4:PORT, e.g. 127.0.0.1:8080",
                               listen);
    memset(&d, 0, sizeof d);
    if (view_init(&d.v) != 0) {
        fprintf(stderr, "floret dashboard: out of memory\n");
        return 1;
    }
    d.cluster = c.cluster ? c.cluster : "default";
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    c.observe = view_on_report;
    c.observe_ud = &d.v;
    c.watch_events = true;
    dash_pic_init(&d.pic);
    int rc = cli_client_start(&c);
    if (rc >= 0) {
        view_free(&d.v);
        return rc;
    }
    struct cli_feed *feed = open_feed(&d, &c);
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, &d, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "error: cannot listen on %s: %s\n", listen,
                errno ? strerror(errno) : "libmicrohttpd refused");
        cli_feed_close(feed);
        cli_client_stop(&c);
        view_free(&d.v);
        dash_pic_free(&d.pic);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : ntohs(sa.sin_port);
    printf("dashboard: http://%s:%u/\n", host, port);
    fflush(stdout);
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    uint64_t next_sample = 0;
    while (!g_stop) {
        uint64_t now = cli_wall_ms();
        bool sample = now >= next_sample;
        if (sample)
            next_sample = now + SAMPLE_MS;
        refresh(&d, c.node, sample);
        for (int t = 0; t < REFRESH_MS && !g_stop; t += 50) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_lock(&d.mu);
    d.stopping = true;
    pthread_cond_broadcast(&d.cv);
    pthread_mutex_unlock(&d.mu);
    MHD_stop_daemon(daemon);
    cli_feed_close(feed);
    cli_client_stop(&c);
    dash_pic_free(&d.pic);
    free(d.snap);
    view_free(&d.v);
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
    return 0;
}
