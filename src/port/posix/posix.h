/*
 * posix.h - the inside of the hosted node: the fl_node object and the
 * parts it is made of (clock, log, wake pipe, inbox, id map, executor pool,
 * MQTT transport, event loop). Only src/port/posix/ includes it.
 *
 * Threads: one event-loop thread owns the fl_core and the MQTT connection;
 * executor threads run jobs; application threads call fl_node_* and
 * fl_result_*. They meet only in the inbox (application/executor -> loop),
 * the executor queue (loop -> executor) and result handles (loop -> app).
 * Depends on the public header, core.h, hosted.h, pthreads.
 */
#ifndef FL_POSIX_H
#define FL_POSIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core.h"
#include "floret/floret.h"
#include "hosted.h"
#include "zcodec.h"

/* ------------------------------------------------------------------ clock */

/* Microseconds on the monotonic clock. */
uint64_t fl__now_us(void);
/* A condition variable that times out against the monotonic clock. */
int fl__cond_init(pthread_cond_t *cv);
/* The absolute monotonic time ms from now, for pthread_cond_timedwait. */
struct timespec fl__deadline_after_ms(uint64_t ms);
/* Same for an absolute time in microseconds of fl__now_us. */
struct timespec fl__deadline_at_us(uint64_t us);

/* -------------------------------------------------------------------- log */

typedef struct fl_logger {
    fl_log_fn fn; /* NULL: stderr */
    void *ud;
    int level;
    int format;   /* FL_LOG_TEXT or FL_LOG_JSON, for stderr */
    char node[FL_MAX_ID_BUF];
    pthread_mutex_t mu; /* one line at a time, whichever thread logs */
} fl_logger;

void fl__plog_init(fl_logger *lg, fl_log_fn fn, void *ud, int level);
void fl__plog_destroy(fl_logger *lg);
void fl__plog_line(fl_logger *lg, int level, const char *line);
/* The same for a task's outcome line, whose fields a JSON line carries. */
void fl__plog_task(fl_logger *lg, int level, const char *line,
                   const fl_core_task_log *t);
void fl__plog(fl_logger *lg, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* --------------------------------------------------------------- identity */

/* <hostname>-<pid>, cut and cleaned to a valid node id. */
void fl__default_node_id(char *out, size_t cap);
/* Random bits from the kernel (getrandom or /dev/urandom). FL_OK/FL_EIO. */
fl_status fl__random_bytes(void *out, size_t len);
/* The machine name ("x86_64", "aarch64"); "unknown" if it cannot tell. */
void fl__machine(char *out, size_t cap);

/* ------------------------------------------------------------- codecs */

/* The attachment codec of this build named name (len bytes), or NULL. */
const fl_zcodec *fl__posix_zcodec(const char *name, size_t len);
/* The codecs a node's compress option names (zcodec.c): NULL, every one
 * this build has (zstd, lz4), to decode only; "none" or "", none; else a
 * comma-separated list in order of preference, which it also compresses
 * with (*send). Up to cap into out, *n of them. FL_OK, or FL_EINVAL with
 * a reason naming the codec in err. */
fl_status fl__posix_zset(const char *option, const fl_zcodec **out,
                         size_t cap, size_t *n, bool *send, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------- wake */

/* A self-pipe the loop polls; any thread may ring it. */
typedef struct fl_wake {
    int rd, wr;
} fl_wake;

fl_status fl__wake_open(fl_wake *w);
void fl__wake_close(fl_wake *w);
void fl__wake_ring(fl_wake *w);
void fl__wake_drain(fl_wake *w);

/* ----------------------------------------------------------------- result */

/* A result handle is shared by the application (which frees it) and the
 * loop (which fills it); the last of the two to let go frees it. */
struct fl_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int refs;
    atomic_int state;      /* fl_state */
    atomic_bool ready;     /* final fields below are written before this */
    bool id_known;         /* under mu */
    uint64_t id;           /* under mu until id_known */

    fl_value *value;
    uint8_t *att;
    size_t att_len;
    char *err_type;
    char *err_message;
    char worker[FL_MAX_ID_BUF];
    uint32_t attempts;     /* a kept workflow's (fl_result_get_info) */
    uint64_t submitted_ms, started_ms, ended_ms;

    /* The submission, held until the loop hands it to the core. */
    char *name;
    char *args;
    size_t args_len;
    char *kwargs;
    size_t kwargs_len;
    uint8_t *sub_att;
    size_t sub_att_len;
    size_t sub_att_room;   /* free bytes in front of sub_att, same block */
    char *route;
    char *rate_limit;      /* opt.rate_limit's copy */
    fl_call_options opt;
    char *canvas;          /* a workflow (canvas JSON) instead of a task */
    struct fl_node *node;  /* the submitting node (for revoke) */
    char *remote_owner;    /* hand canvas to, or query remote_wid at, it */
    uint64_t remote_wid;
    bool remote_revoke;    /* ask remote_owner to revoke remote_wid */
    bool remote_terminate; /* ... with terminate */
    bool remote_now;       /* the query asks for the current state */
    char *sched_op;        /* a schedule request to remote_owner: "add",
                            * "list" or "remove" (canvas for add) */
    char *sched_name, *sched_cron;

    atomic_bool revoke_wanted; /* set by fl_result_revoke */
    atomic_bool revoke_terminate; /* set by fl_result_terminate */
    struct fl_result *next; /* inbox link */
    struct fl_result *revoke_next; /* inbox link for revoke requests */
};

fl_result *fl__result_new(void);
/* node.c: hand a filled handle to the loop (FL_ESTATE, and r freed, when
 * the node is not running). */
fl_status fl__node_hand_over(fl_node *node, fl_result *r);

/* Is owner online, or (owner NULL) which online node with slots that keeps
 * workflows (not a worker-only board; with durable, one with a state
 * directory) is the least loaded? Waits up to 2 s for presence right after
 * start. A named owner is asked even when its presence says it keeps none:
 * its NotAKeeper answer says why. FL_OK with its id in out, FL_ENOTFOUND,
 * FL_ESTATE, FL_ENOMEM. */
fl_status fl__node_pick_keeper(fl_node *node, const char *owner, bool durable,
                               char *out, size_t cap);
void fl__result_unref(fl_result *r);
void fl__result_drop_submission(fl_result *r);
/* The loop gave the task its id. */
void fl__result_set_id(fl_result *r, uint64_t id);
void fl__result_set_state(fl_result *r, fl_state st);
/* Fill the final outcome (takes fin->value) and wake waiters. */
void fl__result_finish(fl_result *r, const fl_final *fin);
/* End r in FAILURE with type/message without the core (node stopping). */
void fl__result_abort(fl_result *r, fl_state st, const char *type,
                      const char *message);

/* ----------------------------------------------------------------- id map */

/* Task id -> result handle, used by the loop thread only. */
typedef struct fl_idmap {
    uint64_t *keys; /* 0 = empty (task ids start at 1) */
    fl_result **vals;
    size_t cap, len;
} fl_idmap;

void fl__idmap_init(fl_idmap *m);
void fl__idmap_free(fl_idmap *m);
fl_status fl__idmap_put(fl_idmap *m, uint64_t id, fl_result *r);
fl_result *fl__idmap_get(const fl_idmap *m, uint64_t id);
fl_result *fl__idmap_take(fl_idmap *m, uint64_t id);
/* Hand every entry to fn, then empty the map. */
void fl__idmap_drain(fl_idmap *m, void (*fn)(void *ud, fl_result *r), void *ud);

/* --------------------------------------------------------------- fastpath */

/* Run times of the tasks this node ran, by name (fastpath.c). */
#define FL_FASTPATH_SLOTS 256
typedef struct fl_taskstat {
    char name[FL_MAX_ID_BUF]; /* "" = free */
    double ewma_us;
    uint32_t runs;
    bool slow;                /* a run took over the limit: never inline */
} fl_taskstat;

typedef struct fl_fastpath {
    fl_taskstat *slots; /* FL_FASTPATH_SLOTS, allocated on first record */
} fl_fastpath;

/* May job run on the loop thread (a quick native task, no time limit)? */
bool fl__fastpath_ok(fl_fastpath *fp, const fl_registry *reg, const fl_job *job);
/* A run of task name took run_us. */
void fl__fastpath_record(fl_fastpath *fp, const char *name, uint64_t run_us);
void fl__fastpath_free(fl_fastpath *fp);

/* --------------------------------------------------------------- executor */

typedef struct fl_executor fl_executor;

/* One job on its way through the pool and back to the loop. */
typedef struct fl_xjob {
    fl_job *job;
    fl_outcome out;
    atomic_bool cancelled;
    uint64_t soft_at;  /* its soft time limit, set as it starts; 0: none */
    fl_executor *ex;
    struct fl_xjob *next;
} fl_xjob;

typedef void (*fl_xjob_done_fn)(void *ud, fl_xjob *xj);

struct fl_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* work arrived / quit */
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv; /* a job was cancelled */
    fl_xjob *head, *tail;
    size_t queued;     /* jobs between head and tail */
    unsigned idle;
    bool quit;
    atomic_bool cancel_all;
    pthread_t *threads;
    unsigned want;     /* threads to start */
    unsigned nthreads; /* threads started and not joined */
    unsigned alive;    /* threads that have not returned yet (mu) */
    pthread_cond_t exit_cv; /* a thread returned */
    uint64_t stop_by_us;    /* fl__executor_stop waits until then; 0: forever */
    bool abandoned;    /* stop gave up on threads stuck in a task */
    const fl_registry *reg;
    struct fl_lua_set *lua; /* hot-deployed tasks, or NULL */
    const char *node_id;
    size_t max_result;
    int task_nice;     /* niceness each thread adds to its own at start */
    fl_pool pool;      /* where jobs run: threads or child processes */
    fl_logger *log;    /* for the kills of child processes; may be NULL */
    fl_xjob_done_fn done;
    void *done_ud;
};

/* lua (may be NULL) runs the tasks reg does not have; each thread keeps
 * its own Lua state. */
fl_status fl__executor_init(fl_executor *ex, unsigned nthreads,
                            const fl_registry *reg, struct fl_lua_set *lua,
                            const char *node_id, size_t max_result,
                            fl_xjob_done_fn done, void *done_ud);
/* Start the threads; FL_EIO if one could not be created (the ones that
 * started are stopped by fl__executor_stop). */
fl_status fl__executor_start(fl_executor *ex);
void fl__executor_push(fl_executor *ex, fl_xjob *xj);
void fl__executor_cancel(fl_executor *ex, fl_xjob *xj);
void fl__executor_cancel_all(fl_executor *ex);
/* Stop the threads (after their current job); jobs never started are
 * returned as a list for the caller to answer. When stop_by_us is set and
 * passes with a thread still in a task (one that ignores cancellation),
 * the threads are detached instead of joined and abandoned is set: such
 * a thread may still use the executor, its registry and the node's inbox,
 * so none of them may be freed (the process is about to exit). */
fl_xjob *fl__executor_stop(fl_executor *ex);
/* Run xj here, on the calling thread, with the native registry only (the
 * fast path: see fastpath.c). */
void fl__executor_run_here(fl_executor *ex, fl_xjob *xj);
void fl__executor_destroy(fl_executor *ex);

/* ------------------------------------------------------------------ probe */

typedef enum fl_probe_result {
    FL_PROBE_RUNNING,
    FL_PROBE_CLEAR,  /* no other live node holds the id */
    FL_PROBE_TAKEN,  /* another incarnation answered on the id's inbox */
    FL_PROBE_FAILED  /* the broker could not be asked (why says so) */
} fl_probe_result;

/* Is a node id held by another live node? (probe.c) */
typedef struct fl_probe {
    struct mosquitto *mosq;
    const fl_url *url;
    uint64_t inc;
    char node_id[FL_MAX_ID_BUF];
    char probe_id[FL_MAX_ID_BUF]; /* its node id: from, inbox */
    char presence[FL_MAX_ID_BUF * 2 + 32]; /* node/<id> */
    char inbox[FL_MAX_ID_BUF * 2 + 40];    /* node/<probe id>/in */
    bool tried, pollout_done, pinging, marker_seen;
    bool blind;          /* CLEAR only because the broker let us not look */
    uint64_t started, subscribed_at, ping_deadline, now;
    uint64_t holder_inc;
    fl_probe_result result;
    char why[200];
} fl_probe;

fl_status fl__probe_init(fl_probe *p, const fl_url *url, const char *prefix,
                         const char *node_id, uint64_t inc);
void fl__probe_free(fl_probe *p);
void fl__probe_begin(fl_probe *p, uint64_t now);
void fl__probe_prepare(fl_probe *p, uint64_t now, int *fd, short *events,
                       uint64_t *deadline);
fl_probe_result fl__probe_step(fl_probe *p, uint64_t now, short revents);

/* -------------------------------------------------------------- transport */

typedef struct fl_transport_cb {
    void *ud;
    void (*up)(void *ud);
    void (*down)(void *ud);
    /* An attempt failed; lasting when retrying cannot help (the broker's
     * certificate or our credentials were refused). */
    void (*failed)(void *ud, const char *reason, bool lasting);
    /* Another live node holds our id (the probe said so): the transport
     * closes for good. */
    void (*taken)(void *ud, const char *reason);
    void (*message)(void *ud, const char *topic, const void *payload,
                    size_t len);
} fl_transport_cb;

typedef enum fl_tp_state {
    FL_TP_IDLE,       /* waiting for the next attempt */
    FL_TP_PROBING,    /* our own TCP connect to the broker, pending */
    FL_TP_ID_CHECK,   /* asking whether another node holds our id */
    FL_TP_CONNECTING, /* socket open, no CONNACK yet */
    FL_TP_UP,         /* CONNACK accepted */
    FL_TP_CLOSED      /* closed for good */
} fl_tp_state;

typedef struct fl_transport {
    struct mosquitto *mosq;
    const fl_url *url;
    fl_logger *log;
    fl_transport_cb cb;
    fl_tp_state state;
    bool tried;          /* connect_async was called once */
    bool pollout_done;   /* the pending TCP connect was completed */
    uint64_t next_try;   /* IDLE: when to try again */
    uint64_t backoff_us;
    uint64_t attempt_at;
    unsigned failures;   /* since the last success */
    uint64_t failing_since; /* when the first of them failed */
    uint64_t quiet_logged;  /* when the last once-a-minute line was */
    bool ever_up;
    bool reason_set;     /* this attempt's failure reason is recorded */
    bool tls_reason_set; /* ...and it is the TLS handshake's, which wins */
    bool lasting;        /* ...and retrying will not help */
    bool v5;             /* MQTT 5 (until a broker says it does not speak it) */
    bool fallback;       /* this attempt's broker refused MQTT 5 */
    bool connacked;      /* this attempt's broker answered the CONNECT */
    bool silent_v311;    /* 3.1.1 because a broker closed on an MQTT 5 CONNECT */
    bool silent_logged;  /* ...and that was said once */
    void *props;         /* mosquitto_property list of the v5 CONNECT */
    int probe_fd;        /* PROBING: the socket, else -1 */
    int probe_errno;
    struct addrinfo *probe_list, *probe_next;
    char last_error[256];
    /* state as of the loop's last turn, for a thread that waits on the
     * connection and must say what it was waiting for (fl__tp_waiting) */
    atomic_int seen_state;
    uint64_t now;        /* set by the loop before each step */
    fl_probe idc;        /* the id check (probe.c) */
    bool idc_on;         /* check the id before every connection attempt */
    bool idc_warned;     /* said once that the check could not look */
} fl_transport;

/* max_packet: the largest MQTT packet this node reads, announced to an
 * MQTT 5 broker so that it drops larger ones before they are sent. */
fl_status fl__tp_init(fl_transport *tp, const char *client_id, const fl_url *url,
                      size_t max_packet,
                      const char *will_topic, const void *will, size_t will_len,
                      bool will_retain, fl_logger *log,
                      const fl_transport_cb *cb);
void fl__tp_free(fl_transport *tp);
/* Before each connection attempt, make sure no other live node holds our
 * client id (probe.c); nodes with slots do. FL_OK, FL_ENOMEM, FL_EINVAL. */
fl_status fl__tp_check_id_first(fl_transport *tp, const char *prefix,
                             const char *node_id, uint64_t inc);
/* Back to "not connected, try at once" (after a close), for a restart. */
void fl__tp_reset(fl_transport *tp);
/* Fill pfd (fd -1 when there is no socket to watch) and lower *deadline to
 * the next time the transport needs a step. */
void fl__tp_prepare(fl_transport *tp, uint64_t now, int *fd, short *events,
                    uint64_t *deadline);
/* Act on poll's revents (0 when the socket was not polled) and timers. */
void fl__tp_step(fl_transport *tp, uint64_t now, short revents);
bool fl__tp_up(const fl_transport *tp);
/* What an attempt that has neither succeeded nor failed yet waits for,
 * as a reason for "cannot connect" after a timeout: no answer to the TCP
 * connection, or no MQTT answer on an accepted one. Any thread. */
const char *fl__tp_waiting(const fl_transport *tp);
void fl__tp_publish(fl_transport *tp, const char *topic, const void *payload,
                    size_t len, int qos, bool retain);
void fl__tp_subscribe(fl_transport *tp, const char *filter, int qos);
/* Write what is queued (up to timeout_ms), send DISCONNECT, close. */
void fl__tp_close(fl_transport *tp, uint32_t timeout_ms);

/* ------------------------------------------------------------------ inbox */

/* A request for the list of peers (or, with stats set, the node's own
 * counters), answered by the loop. */
typedef struct fl_peers_req {
    fl_peer *peers;
    size_t cap;
    size_t n;
    fl_core_stats *stats;
    /* Or, with pub_topic set, one QoS 1 publish from the loop (n is 1
     * when it was handed to the transport). */
    const char *pub_topic;
    const void *pub_payload;
    size_t pub_len;
    bool pub_retain;
    bool done;
    struct fl_peers_req *next;
} fl_peers_req;

/* What other threads hand the loop. One mutex; the wake pipe is rung only
 * when the inbox goes from "nothing to do" to "something to do", so a burst
 * of calls or finished jobs costs one wake-up. */
typedef struct fl_inbox {
    pthread_mutex_t mu;
    fl_wake wake;
    bool rung;
    fl_result *sub_head, *sub_tail;
    fl_xjob *done_head, *done_tail;
    fl_peers_req *req_head;
    fl_result *rev_head; /* revoke requests; each holds a reference */
    struct fl_deploy_checked *chk_head, *chk_tail; /* deploy checks, in order */
    bool stop;
    uint32_t stop_grace_ms;
    bool quit; /* leave at once (start gave up) */
} fl_inbox;

/* What the loop takes out in one go. */
typedef struct fl_inbox_batch {
    fl_result *subs;
    fl_xjob *dones;
    fl_peers_req *reqs;
    fl_result *revokes;
    struct fl_deploy_checked *checked;
    bool stop;
    uint32_t stop_grace_ms;
    bool quit;
} fl_inbox_batch;

fl_status fl__inbox_init(fl_inbox *ib);
void fl__inbox_destroy(fl_inbox *ib);
void fl__inbox_submit(fl_inbox *ib, fl_result *r);
void fl__inbox_done(fl_inbox *ib, fl_xjob *xj);
void fl__inbox_peers(fl_inbox *ib, fl_peers_req *req);
/* Ask the loop to revoke r; the inbox takes one reference to r. */
void fl__inbox_revoke(fl_inbox *ib, fl_result *r);
/* A deploy check finished (deploy_check.c); the inbox takes c. */
void fl__inbox_checked(fl_inbox *ib, struct fl_deploy_checked *c);
void fl__inbox_stop(fl_inbox *ib, uint32_t grace_ms);
void fl__inbox_quit(fl_inbox *ib);
void fl__inbox_take(fl_inbox *ib, fl_inbox_batch *b);

/* ------------------------------------------------------------------- node */

typedef enum fl_node_phase {
    FL_NODE_NEW,
    FL_NODE_STARTING,
    FL_NODE_RUNNING,
    FL_NODE_STOPPING,
    FL_NODE_STOPPED
} fl_node_phase;

/* ------------------------------------------------------------ journal */

/* A durable keeper's journal (journal.c). */
typedef struct fl_journal {
    char dir[FL_PATH_BUF];
    char path[FL_PATH_BUF + 96];
    int fd;              /* appends; holds the flock */
    int tmp_fd;          /* while compacting */
    char *line;          /* one record and its newline */
    size_t line_cap;
    bool compact_due;
    fl_logger *log;
} fl_journal;

/* Open (creating dir, mode 0700) and lock DIR/keeper-<node_id>.journal.
 * FL_OK, FL_EINVAL, FL_EIO, FL_EEXIST (another process holds it); logged. */
fl_status fl__journal_open(fl_journal *j, const char *dir, const char *node_id,
                           fl_logger *log);
/* Read every record into core, resume, rewrite the file compacted. */
fl_status fl__journal_load(fl_journal *j, fl_core *core, uint64_t now);
/* The core's `kept` callback: append and fdatasync. */
bool fl__journal_store(fl_journal *j, fl_core *core, const char *rec,
                       size_t len);
/* Outside core calls: compact the file when it has grown. */
void fl__journal_maintain(fl_journal *j, fl_core *core);
void fl__journal_close(fl_journal *j);

struct fl_node {
    char id[FL_MAX_ID_BUF];
    char *cluster;
    fl_url url;
    unsigned slots;
    int task_nice;                /* added to the executor threads' niceness */
    fl_pool pool;                 /* where tasks run */
    uint32_t lua_load_ms;         /* wall-clock limit of a module's top level */
    size_t max_message;
    const fl_zcodec *zc[FL_Z_MAX_CODECS]; /* attachment codecs (compress) */
    fl_zset zset;                 /* the list of them the core borrows */
    bool zsend;                   /* compress with them too */
    fl_logger log;
    fl_registry *own_registry;
    const fl_registry *registry;
    struct fl_lua_set *lua;       /* deployed modules (nodes with slots) */
    struct fl_ctl_key *trust;     /* trusted public keys */
    size_t ntrust;
    struct fl_ctl_node *ctl;      /* control messages (nodes with slots) */
    struct fl_deploy_checker *checker; /* runs deployed modules' top level */
    fl_core *core;
    fl_journal *journal;          /* --state-dir, or NULL */
    fl_transport tp;
    fl_executor ex;
    fl_inbox inbox;
    bool ex_ready, inbox_ready; /* initialised, for a partial fl_node_new */

    pthread_t loop_thread;
    bool loop_running;
    pthread_mutex_t mu; /* phase, connected, peers requests */
    pthread_cond_t cv;
    atomic_int phase;   /* fl_node_phase */
    atomic_bool stop_called; /* written under mu */
    bool connected;     /* under mu: the first CONNACK came */
    bool refused;       /* under mu: a lasting refusal ended the first attempt */
    bool id_taken;      /* under mu: another live node holds our id */
    char last_error[256]; /* under mu */
    uint64_t inc;       /* the core's incarnation */
    struct fl_ctl_wait *ctl_wait; /* under mu: fl_node_control's (ctl_client.c) */
    void (*on_shutdown)(void *ud); /* asked to stop when id_taken comes */
    void *shutdown_ud;

    /* Loop thread only. */
    uint64_t now;
    fl_idmap results;
    fl_result *backlog_head, *backlog_tail; /* submits not yet given to the core */
    fl_result *submitting; /* the one inside fl_core_submit */
    bool submitting_final; /* ...and its final came inside the call */
    fl_xjob *free_xjobs;   /* recycled job wrappers */
    fl_xjob *inline_head, *inline_tail; /* quick jobs to run on the loop */
    fl_fastpath fast;
    fl_job *starved[32];   /* jobs that got no wrapper (out of memory) */
    size_t nstarved;
    bool shutting;
    uint64_t grace_deadline;
    uint64_t hard_deadline;
};

/* ctl_client.c: the core's fl_core_answer_fn (ud is the node). */
void fl__ctl_client_on_answer(void *ud, const char *from, const void *payload,
                              size_t len);

/* The loop thread's body. */
void *fl__loop_main(void *node);
/* After the loop and the executor threads have stopped: answer every job,
 * submission and request still in flight, fail every unfinished result,
 * free the job wrappers. Idempotent. */
void fl__loop_finish_leftovers(fl_node *node);
/* The transport callbacks for a node. */
void fl__loop_transport_cb(fl_node *node, fl_transport_cb *cb);
/* fl_core_io for a node. */
void fl__loop_io(fl_node *node, fl_core_io *io);
/* Executor -> inbox. */
void fl__loop_job_finished(void *node, fl_xjob *xj);

#endif
