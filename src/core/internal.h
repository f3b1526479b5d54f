/*
 * internal.h - the state of one fl_core, shared by core.c (dispatch,
 * timers), owner.c (queues, leases, parked fetches, results), worker.c
 * (credits, held jobs, outcomes) and peers.c (presence). Nothing outside
 * src/core/ includes it. Depends on the core's own headers.
 */
#ifndef FL_INTERNAL_H
#define FL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "core.h"
#include "dedupe.h"
#include "defaults.h"
#include "map.h"
#include "observe.h"
#include "rate.h"
#include "rng.h"

/* A function whose buffers must not land in its callers' frames when the
 * optimiser inlines it (the core keeps every frame under 1 KiB). */
#if defined(__GNUC__)
#define FL__NOINLINE __attribute__((noinline))
#else
#define FL__NOINLINE
#endif

/* ------------------------------------------------------------- owner side */

typedef enum fl_tstate {
    FL_T_READY,   /* in the ready list */
    FL_T_DELAYED, /* in the delay heap (countdown, retry backoff) */
    FL_T_LEASED   /* in the lease list, held by a worker */
} fl_tstate;

struct fl_oworker;
struct fl_nameq;
struct fl_wf;
typedef struct fl_wfroot fl_wfroot;

/* A task this node owns. */
typedef struct fl_otask {
    uint64_t id;
    char *name;
    char *args;          /* JSON text */
    size_t args_len;
    char *kwargs;        /* JSON text */
    size_t kwargs_len;
    uint8_t *att;
    size_t att_len;
    size_t att_room;     /* writable bytes in front of att (FL_ATT_ROOM) */
    char *route;         /* NULL = any worker */
    uint32_t time_limit_ms;
    uint32_t rate_n;     /* rate limit: rate_n per rate_unit; 0: none */
    uint32_t retries_left;
    uint32_t max_attempts;
    uint32_t attempts;         /* leases granted */
    uint32_t failed_attempt;   /* outcomes for attempts <= this are stale */
    uint32_t started_attempt;  /* the last attempt reported started */
    uint64_t expires_at;       /* 0 = never */
    fl_tstate st;
    uint32_t soft_time_limit_ms; /* (in what would be padding) */
    uint64_t when;             /* DELAYED: ready time; LEASED: deadline */
    size_t heap_idx;
    struct fl_oworker *holder; /* LEASED */
    uint64_t check_cid;        /* the check that last asked its holder */
    struct fl_nameq *nq;       /* the queue of the name a worker must run */
    int64_t seq;               /* READY: order across the name queues */
    size_t need;               /* bytes it adds to a lease (a bound) */
    char last_worker[FL_MAX_ID_BUF];
    /* Beside last_worker, where they take no room of their own: a task of
     * 288 bytes and one of 296 are the same allocation, so options cost
     * an owner of 100,000 tasks nothing. */
    uint8_t prio;        /* 0..FL_PRIORITY_MAX, higher leases first */
    char rate_unit;      /* 's', 'm' or 'h' */
    /* The last lease that ended without an outcome (expired, or its worker
     * went away): its late outcome is still taken (section 5 rule 6). */
    uint32_t lost_attempt;     /* 0 = none */
    uint64_t lost_inc;
    uint64_t lost_who;         /* fl__id_hash of the worker's id */
    struct fl_wf *wf;          /* the workflow leaf it runs, or NULL */
    struct fl_otask *prev, *next;
} fl_otask;

typedef struct fl_tlist {
    fl_otask *head, *tail;
    size_t n;
} fl_tlist;

/* A ready list kept in priority order (highest first, FIFO within one):
 * the last task of each priority in it, so that a task goes in at its
 * place in O(1) (owner.c). */
typedef struct fl_bands {
    fl_otask *last[FL_PRIORITY_MAX + 1];
} fl_bands;

/* The ready tasks of one task name: the name a worker must run (for a
 * chunks task, fl.starmap, the task it maps). Kept for as long as the
 * owner lives; an owner sees few names. */
typedef struct fl_nameq {
    char *name;
    fl_tlist ready;          /* unrouted ready tasks, by priority, FIFO */
    fl_bands bands;          /* of ready */
    size_t max_need;         /* no ready task needs more (a bound) */
    uint32_t epoch;          /* owner epoch `fit` was found at */
    size_t fit;              /* largest limit of an online runner; 0: none */
    double run_us;           /* moving average of its runs, as reported */
    uint32_t runs;           /* outcomes that went into it (capped) */
    struct fl_nameq *next;
} fl_nameq;

/* How many tasks of one name a worker holds (the owner's cap). */
typedef struct fl_qheld {
    fl_nameq *q;
    uint32_t held;
} fl_qheld;

/* A worker known to this owner through its fetches. */
typedef struct fl_oworker {
    char id[FL_MAX_ID_BUF];
    uint64_t inc;
    uint64_t fid;
    uint32_t credit;     /* parked: how many more it may be leased */
    uint32_t held;       /* leases it holds */
    size_t share;        /* left of its share in the serve() under way */
    bool check_due;      /* ask it which of its leases it holds */
    size_t max_msg;      /* from its fetch; 0: it did not say */
    char *refused;       /* "a,b": names it handed back (stale view) */
    fl_qheld *qheld;     /* held, per task name */
    uint32_t rtt_us;     /* its round trip, from its fetch; 0: not said */
    size_t nqheld;
    /* Its presence record, looked up once per peers_gen: serve() asks for
     * it for every worker on every flush (a walk of every peer each
     * time, before, made an owner's cost grow with the cluster). */
    const struct fl_peer_rec *peer;
    uint64_t peer_gen;
    struct fl_oworker *next;
} fl_oworker;

/* A revoke owed to a worker that holds the lease of a revoked task
 * (sent at the next flush, batched per worker: protocol.md 3.13). */
typedef struct fl_revoke_out {
    char worker[FL_MAX_ID_BUF];   /* "" once written */
    uint64_t id;
    bool terminate;
} fl_revoke_out;

typedef struct fl_owner {
    fl_u64map tasks;            /* id -> fl_otask */
    fl_nameq *queues;        /* unrouted ready tasks, by name */
    size_t nready;           /* tasks in them */
    int64_t seq_back, seq_front; /* READY order: back grows, front shrinks */
    fl_tlist routed;         /* ready tasks with a route, by priority */
    fl_bands routed_bands;   /* of routed */
    bool routed_dirty;       /* routed tasks not checked since they came */
    uint32_t routed_epoch;   /* epoch the routed list was checked at */
    uint32_t epoch;          /* bumped when who may be leased what changes */
    uint64_t connected_at;   /* last connection (the presence grace) */
    fl_tlist leased;         /* ordered by deadline (same ttl for all) */
    fl_otask **heap;         /* delayed, min-heap on when */
    size_t heap_n, heap_cap;
    fl_oworker *workers;
    fl_oworker *rr;          /* round-robin cursor for parked workers */
    uint64_t next_id;
    uint64_t next_announce;  /* 0 = not needed */
    uint64_t asked_at;       /* first announcement on this connection,
                                0 = none yet (FL_ASK_GRACE_MS) */
    bool announce_now;
    size_t with_expiry;      /* tasks with an expiry (tick scans them) */
    uint64_t next_expiry_scan;
    fl_u64map tasks_roots;      /* workflow id -> fl_wfroot */
    fl_wfroot *roots;        /* every live workflow */
    uint64_t not_holder_logged_at;  /* rate limit of the warning below */
    uint64_t not_holder_unlogged;   /* dropped since the last warning */
    uint64_t next_cid;       /* numbers the check messages */
    fl_revoke_out *revokes;  /* owed to workers, sent at the next flush */
    size_t nrevokes, revokes_cap;
    bool revoke_terminate;   /* inside fl_core_revoke_with(terminate) */
} fl_owner;

/* ------------------------------------------------------------ worker side */

typedef enum fl_jstate {
    FL_J_QUEUED,
    FL_J_RUNNING,
    FL_J_ABANDONED  /* answered already (time limit, owner gone); the driver
                     * still owes its fl_core_job_done */
} fl_jstate;

/* A job held by this worker; fl_job first so the driver's pointer casts. */
typedef struct fl_wjob {
    fl_job job;
    uint64_t owner_inc;
    fl_jstate st;
    uint32_t rate_us;             /* its name's rate limit (rate.h); 0 none
                                   * (1/h, the slowest, is 3.6e9 us) */
    uint64_t started;
    uint64_t dedupe_key;
    bool track_started;           /* its owner wants `started` */
    bool started_sent;
    struct fl_wjob *prev, *next;  /* in queue or running list */
} fl_wjob;

typedef struct fl_jlist {
    fl_wjob *head, *tail;
    size_t n;
} fl_jlist;

/* An owner this worker fetches from. */
typedef struct fl_wowner {
    char id[FL_MAX_ID_BUF];
    uint64_t inc;
    uint64_t fid;            /* last fetch sent */
    uint32_t outstanding;    /* credit the owner still holds for us */
    uint64_t fetch_sent_at;  /* 0 = none waiting for an answer */
    uint64_t last_heard;
    uint64_t next_extend;
    uint32_t ttl_ms;
    uint32_t held;           /* our jobs from this owner */
    bool drained;            /* last answer gave less than asked */
    bool announced;          /* a work message came since our last fetch */
    bool refused;            /* the owner said NoPresence to our fetch */
    uint64_t work_inc;       /* inc of the last work message answered */
    uint64_t fetched_at;     /* our last fetch went (kept when answered) */
    bool fetch_timed;        /* the fetch waiting went where work was ready */
    struct fl_wowner *next;
} fl_wowner;

typedef struct fl_outbox_entry {
    char owner[FL_MAX_ID_BUF];
    uint64_t id;
    uint32_t attempt;
    fl_outcome out;
} fl_outbox_entry;

/* Fetch -> lease times a worker keeps to estimate its round trip. */
#define FL_RTT_SAMPLES 8

typedef struct fl_worker {
    fl_jlist queue;
    fl_jlist running;
    fl_jlist abandoned;      /* answered, still occupying a slot */
    fl_wowner *owners;
    fl_dedupe seen;          /* leases already taken (dedupe keys) */
    fl_outbox_entry *outbox;
    size_t outbox_n, outbox_cap;
    uint64_t outbox_since;   /* first flush that saw it non-empty; 0: none */
    double exec_us;          /* EWMA of run time */
    uint32_t rtt_us[FL_RTT_SAMPLES]; /* recent fetch -> lease times */
    size_t rtt_n;            /* samples taken (the ring's next slot) */
    uint64_t next_fid;
    fl_rates rates;          /* rate limits per task name (rate.c) */
    size_t rated_queued;     /* queued jobs with a rate limit */
    uint64_t rate_wake;      /* when one of them may start; 0: none known */
} fl_worker;

/* ------------------------------------------------------------ peers */

typedef struct fl_peer_rec {
    fl_peer info;
    uint64_t inc;
    /* Every task name of its presence (info.tasks may be cut short), or
     * tasks_known false when its presence had no `tasks` member: an older
     * or hand-written peer, which may be leased anything. */
    char **tasks;
    size_t ntasks;
    bool tasks_known;
    bool durable;          /* a keeper with a journal: it comes back */
    unsigned zmask;        /* bit i: it decodes our codec z.codecs[i] */
    struct fl_peer_rec *next;
} fl_peer_rec;

/* ------------------------------------------------------------ remote */

struct fl_hosted;
struct fl_rhandle;
struct fl_sched;

/* Workflows kept for other nodes, and handles on workflows kept by them
 * (remote.c). */
typedef struct fl_remote {
    struct fl_hosted *hosted; /* newest first */
    size_t nhosted;
    fl_u64map by_wid;         /* running: the core's workflow id -> hosted */
    fl_u64map by_kid;         /* the id clients know -> hosted */
    struct fl_hosted *applying; /* inside fl_core_apply for a submit */
    struct fl_rhandle *handles;
    uint64_t next_kid;        /* the next kept workflow's id */
    uint64_t keep_us;         /* ended ones are kept this long */
    fl_jw rec;                /* journal records are written here */
    uint64_t stored;          /* records the driver stored since a dump */
    uint64_t connected_at;    /* 0: not connected yet */
    struct fl_sched *scheds;  /* periodic workflows (schedule.c), by name */
    size_t nscheds;
} fl_remote;

/* ------------------------------------------------------------ the core */

struct fl_core {
    char id[FL_MAX_ID_BUF];
    char cluster[FL_MAX_ID_BUF];
    char prefix[FL_MAX_ID_BUF + 16];
    char runtime[16];
    char arch[32];
    char tags[FL_TAGS_BUF]; /* "k=v,k2=v2" */
    char *extra_tasks;      /* hot-deployed "m.fn,..." or NULL */
    char *only_tasks;       /* "add,m.*": the tasks it may run, or NULL */
    char *extra_modules;    /* "m@version,..." or NULL */
    fl_core_ctl_fn ctl;     /* control messages go there, or NULL */
    void *ctl_ud;
    fl_core_answer_fn answer; /* answers to our control messages, or NULL */
    void *answer_ud;
    uint64_t inc;
    uint32_t slots;
    size_t max_message;
    fl_zset z;              /* attachment codecs (none: .n == 0) */
    bool zsend;             /* compress with them too */
    uint32_t ttl_ms;
    int log_level;
    const fl_registry *registry;
    fl_core_io io;
    fl_rng rng;
    bool connected;
    bool shutting_down;
    bool offline_sent;
    fl_jw jw;
    char will_topic[FL_MAX_ID_BUF * 2 + 32];
    fl_buf will;
    uint64_t next_presence;
    uint64_t presence_asked_at; /* last NoPresence answered (0: never) */
    uint32_t last_load;
    fl_owner owner;
    fl_worker worker;
    fl_remote remote;
    fl_peer_rec *peers;
    /* peers by id (peers.c): open addressing, at most half full; NULL
     * (peer_cap 0) when it could not be allocated, and then the list is
     * walked. A node of a thousand-node cluster looks a peer up for
     * every presence it hears. */
    fl_peer_rec **peer_index;
    size_t peer_cap, npeers;
    uint64_t peers_gen;     /* bumped when a record is added or freed */
    fl_core_stats stats;
    fl_obs obs;             /* stats, events, watching others (observe.c) */
};

/* core.c */
void fl__log(fl_core *c, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Publish the writer's message to node/<to>/in (or to topic suffix when
 * to is NULL). Resets the writer. */
void fl__send_to(fl_core *c, const char *to, const char *suffix, int qos,
                 bool retain);
void fl__send_error(fl_core *c, const char *to, const fl_msg *re,
                    const char *type, const char *message);

/* owner.c */
/* True when this core has its owner and keeper sides (owner.c); false in a
 * worker-only core (worker_only/owner_none.c), whose presence says so. */
bool fl__owner_side(void);
void fl__owner_init(fl_core *c);
void fl__owner_free(fl_core *c);
void fl__owner_on_fetch(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_on_done(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_on_extend(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_on_started(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_on_release(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_worker_gone(fl_core *c, const char *id, uint64_t inc,
                           uint64_t now);
/* A peer's presence changed what it may be leased (online, tasks, limits,
 * tags); tasks_changed: its task list is another one now. */
void fl__owner_peer_changed(fl_core *c, const char *id, bool tasks_changed);
uint64_t fl__owner_tick(fl_core *c, uint64_t now);
void fl__owner_flush(fl_core *c, uint64_t now);
/* fl_core_submit for a workflow leaf: the task's end goes to wf. */
fl_status fl__owner_submit(fl_core *c, const fl_submit *s, uint64_t now,
                           struct fl_wf *wf, uint64_t *id);

/* owner.c, for reconcile.c */
fl_oworker *fl__owner_find_worker(fl_core *c, const char *id);
/* Task id if worker (from, inc) holds its lease, else NULL (not counted
 * as a message from a non-holder). */
fl_otask *fl__owner_held_by(fl_core *c, uint64_t id, const char *from,
                            uint64_t inc);
/* Its holder still holds t: a new deadline of now + ttl. */
void fl__owner_extend_task(fl_core *c, fl_otask *t, uint64_t now);
/* Its holder says it does not hold t: back at the head of the queue, the
 * attempt counted (the lease or its outcome was lost). */
void fl__owner_lease_lost(fl_core *c, fl_otask *t);
/* Revoke the task or workflow id this node owns (why: the message a
 * task's waiter sees; NULL: "revoked by its owner"). false: no such id. */
bool fl__owner_revoke(fl_core *c, uint64_t id, bool terminate,
                      const char *why, uint64_t now);
/* Tell worker at the next flush to stop task id, which ended here
 * (revoked, or ended while that worker still holds it). */
void fl__owner_owe_revoke(fl_core *c, const char *worker, uint64_t id,
                          bool terminate);

/* reconcile_owner.c (owner) and reconcile.c (worker): after a
 * reconnection, owner and worker agree on what is leased
 * (docs/protocol.md, check and holding). */
void fl__owner_on_holding(fl_core *c, fl_msg *m, uint64_t now);
void fl__owner_send_checks(fl_core *c);
void fl__owner_check_all(fl_core *c);
void fl__worker_on_check(fl_core *c, fl_msg *m, uint64_t now);
void fl__worker_send_holdings(fl_core *c);

/* canvas.c */
/* A task of workflow leaf w was leased / started (on worker) or waits for
 * a retry: the workflow's state follows its members'. */
void fl__canvas_task_leased(fl_core *c, struct fl_wf *w);
void fl__canvas_task_ran_on(fl_core *c, struct fl_wf *w, const char *worker);
void fl__canvas_task_state(fl_core *c, struct fl_wf *w, fl_state st,
                           const char *worker);
void fl__canvas_task_ended(fl_core *c, struct fl_wf *w, fl_state st,
                           fl_value *value, const char *err_type,
                           const char *err_message, uint64_t now);
bool fl__canvas_revoke(fl_core *c, uint64_t id, uint64_t now);
void fl__canvas_free_all(fl_core *c);
uint32_t fl__owner_pending(const fl_core *c);
void fl__owner_connected(fl_core *c, uint64_t now);

/* worker.c */
fl_wowner *fl__worker_find_owner(fl_core *c, const char *id);
/* Send every outcome waiting in the outbox now. */
void fl__worker_send_outcomes(fl_core *c);
void fl__worker_init(fl_core *c);
void fl__worker_free(fl_core *c);
void fl__worker_on_work(fl_core *c, fl_msg *m, uint64_t now);
/* Owner `id` answered a fetch of ours with NoPresence: it parked or
 * dropped it, so its next work announcement is answered again. */
void fl__worker_fetch_refused(fl_core *c, const char *id);
void fl__worker_on_lease(fl_core *c, fl_msg *m, uint64_t now);
/* A revoke with ids from an owner: drop those queued, cancel those
 * running (protocol.md 3.13). */
void fl__worker_on_revoke(fl_core *c, fl_msg *m, uint64_t now);
void fl__worker_owner_gone(fl_core *c, const char *id, uint64_t inc,
                           uint64_t now);
uint64_t fl__worker_tick(fl_core *c, uint64_t now);
/* When lingering outcomes must go out at the latest (0: none waiting). */
uint64_t fl__worker_outbox_deadline(const fl_core *c);
void fl__worker_flush(fl_core *c, uint64_t now);
void fl__worker_connected(fl_core *c, uint64_t now);
void fl__worker_shutdown(fl_core *c, uint64_t now);
uint32_t fl__worker_load(const fl_core *c);
bool fl__worker_idle(const fl_core *c);

/* remote.c */
void fl__remote_on_submit(fl_core *c, fl_msg *m, uint64_t now);
void fl__remote_on_query(fl_core *c, fl_msg *m, uint64_t now);
/* schedule.c: add, list or remove a periodic workflow; answered with
 * `result` (docs/protocol.md 3.16). */
void fl__remote_on_schedule(fl_core *c, fl_msg *m, uint64_t now);
void fl__remote_on_submitted(fl_core *c, fl_msg *m, uint64_t now);
void fl__remote_on_result(fl_core *c, fl_msg *m, uint64_t now);
/* A revoke with an id: revoke what we own under it and answer `result`. */
void fl__remote_on_revoke(fl_core *c, fl_msg *m, uint64_t now);
/* fl_core_revoke of a handle on a workflow another node keeps: ask that
 * node to revoke it. false when id is no such handle. */
bool fl__remote_revoke(fl_core *c, uint64_t id, bool terminate, uint64_t now);
/* An error reply that may answer one of our revoke requests (an older
 * keeper that does not know revoke): true when it did, and ended it. */
bool fl__remote_on_error(fl_core *c, const fl_msg *m);
void fl__remote_peer_gone(fl_core *c, const char *id);
void fl__remote_connected(fl_core *c, uint64_t now);
void fl__remote_init(fl_core *c, const fl_core_config *cfg);
/* A task of our workflow wid started (STARTED, on `worker`) or waits for
 * a retry (RETRY); or was leased (attempt counted). */
void fl__remote_member_state(fl_core *c, uint64_t wid, fl_state st,
                             const char *worker);
void fl__remote_member_leased(fl_core *c, uint64_t wid);
void fl__remote_member_node(fl_core *c, uint64_t wid, const char *worker);
/* A durable keeper (presence `durable`) is online again: ask it again. */
void fl__remote_peer_back(fl_core *c, const char *id);
/* keeper.c */
bool fl__remote_hosted_final(fl_core *c, const fl_final *fin);
uint64_t fl__keeper_tick(fl_core *c, uint64_t now);
/* schedule.c: start the schedules due; the next tick needed (0: none). */
uint64_t fl__sched_tick(fl_core *c, uint64_t now);
void fl__keeper_prune(fl_core *c, uint64_t now);
void fl__keeper_free(fl_core *c);
uint64_t fl__remote_tick(fl_core *c, uint64_t now);
void fl__remote_free(fl_core *c);
/* Deliver an owned task's or workflow's end: to the node that submitted it
 * when it was handed over with `submit`, else to io.final. Takes
 * fin->value. */
void fl__final(fl_core *c, const fl_final *fin);

/* peers.c */
void fl__peers_on_presence(fl_core *c, const char *topic_id, fl_msg *m,
                           uint64_t now);
void fl__peers_forget(fl_core *c, const char *id, uint64_t now);
void fl__peers_free(fl_core *c);
void fl__presence_write(fl_core *c, fl_jw *w, bool online);
/* The codec to compress for peer id: the first of ours that its online
 * presence lists, or NULL (not sending compressed, unknown peer, none in
 * common). */
const fl_zcodec *fl__peer_zcodec(const fl_core *c, const char *id);
void fl__presence_publish(fl_core *c, bool online);
/* May worker_id take a task routed to route (a node id, or a tag k=v
 * matched against its presence: arch, runtime or its tags)? */
bool fl__route_matches(const fl_core *c, const char *route,
                       const char *worker_id);
/* The peer `id` as last seen, or NULL. */
const fl_peer_rec *fl__peer_find(const fl_core *c, const char *id);
/* Does peer p run task `name` by its presence (true when it did not say)? */
bool fl__peer_runs(const fl_peer_rec *p, const char *name);
/* Does this node run task `name` (its registry or hot-deployed tasks)? */
bool fl__core_runs(const fl_core *c, const char *name);


#endif
