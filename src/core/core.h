/*
 * core.h - the sans-I/O floret engine: one object per node that is at once
 * an owner (queues, leases, parked fetches, results) and a worker (credits,
 * held tasks, outcomes). It is fed messages and ticks with the time, and
 * answers through the callbacks in fl_core_io. It reads no clock, opens no
 * socket, starts no thread; the POSIX port and the simulator drive it.
 *
 * All calls on one fl_core must come from one thread at a time. Times are
 * microseconds on any monotonic clock the driver chooses.
 * Depends on the public header and codec.h.
 */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "defaults.h"
#include "floret/floret.h"

typedef struct fl_core fl_core;

/* A leased task the worker side asks its driver to run. Owned by the core;
 * the driver must answer exactly once with fl_core_job_done, and never
 * after fl_core_free (which frees jobs still out). When tasks are short the
 * core hands the driver more jobs than slots, so a pool of threads can run
 * them back to back; the driver runs at most `slots` at once. */
typedef struct fl_job {
    char owner[FL_MAX_ID_BUF];
    uint64_t id;
    uint32_t attempt;
    uint32_t time_limit_ms;
    char *name;
    fl_value *args;     /* array */
    fl_value *kwargs;   /* object */
    uint8_t *att;
    size_t att_len;
    /* Set before cancel when its owner revoked it with terminate: a
     * driver running it in a process of its own kills it if it does not
     * stop when cancelled. */
    bool terminate;
    /* The driver tells a task running past this (fl_run_hooks.
     * soft_expired), counted from when it starts the task; 0 = none. */
    uint32_t soft_time_limit_ms;
    void *driver;       /* free for the driver's use */
} fl_job;

/* What a run produced. Filled by fl_core_run_job, read by fl_core_job_done. */
typedef struct fl_outcome {
    bool ok;
    char *value_json;   /* ok: JSON text (NULL means null) */
    size_t value_len;
    uint8_t *att;       /* ok: optional attachment */
    size_t att_len;
    char err_type[FL_MAX_ERROR_TYPE + 1];
    char *err_message;  /* !ok */
    bool retryable;
    uint64_t run_us;    /* how long the task ran, set by the driver
                         * (0 = unknown); tunes credit and batching */
} fl_outcome;

/* Release what an outcome holds (not the struct itself). */
void fl_outcome_clear(fl_outcome *o);

/* An owned task ended: delivered exactly once per submitted task. */
typedef struct fl_final {
    uint64_t id;
    fl_state state;          /* FL_SUCCESS, FL_FAILURE or FL_REVOKED */
    fl_value *value;         /* owned by the receiver, any state; SUCCESS:
                              * the result (NULL = null); a failed group:
                              * member results, null where one failed */
    const uint8_t *att;      /* SUCCESS: valid during the callback */
    size_t att_len;
    const char *err_type;    /* FAILURE/REVOKED: valid during the callback */
    const char *err_message;
    uint32_t attempts;       /* runs started */
    const char *worker;      /* node that produced the outcome ("" if none) */
    /* A workflow kept by another node (fl_core_remote_query): when it was
     * handed over, first started and ended, wall clock ms (0: unknown). */
    uint64_t submitted_ms, started_ms, ended_ms;
} fl_final;

/* What the per-task log line says, field by field (fl_core_io.log_task). */
typedef struct fl_core_task_log {
    const char *name;
    const char *owner;       /* the task is OWNER:ID */
    uint64_t id;
    uint32_t attempt;
    bool ok;
    uint64_t run_us;
    const char *err_type;    /* NULL when ok */
    const char *err_message; /* NULL when ok or none */
} fl_core_task_log;

typedef struct fl_core_io {
    void *ud;
    /* Send payload on topic. The payload is only valid during the call. */
    void (*publish)(void *ud, const char *topic, const void *payload,
                    size_t len, int qos, bool retain);
    /* Subscribe to a topic filter (called from fl_core_connected). */
    void (*subscribe)(void *ud, const char *filter, int qos);
    /* Run job; answer later with fl_core_job_done. */
    void (*execute)(void *ud, fl_job *job);
    /* The job's time limit passed or it is no longer wanted (its owner
     * revoked it, or went away): ask it to stop (its answer is still
     * expected, and will be ignored). May come again for the same job,
     * with job->terminate newly set. */
    void (*cancel)(void *ud, fl_job *job);
    /* An owned task ended. */
    void (*final)(void *ud, const fl_final *fin);
    /* A state change of an owned task (STARTED, RETRY); may be NULL. */
    void (*state)(void *ud, uint64_t id, fl_state st);
    /* One log line without newline. */
    void (*log)(void *ud, int level, const char *line);
    /* Milliseconds since 1970-01-01 UTC, for the `ts` of stats; NULL or 0
     * when the driver has no wall clock. */
    uint64_t (*wall_ms)(void *ud);
    /* The line of one task's outcome (FL_LOG_DEBUG) with its fields, for a
     * driver that logs structured lines; NULL: it goes to log. */
    void (*log_task)(void *ud, int level, const char *line,
                     const struct fl_core_task_log *t);
    /* A keeper's journal (docs/protocol.md 3.8, "Durable keepers"): store
     * this record (one line of JSON, no newline) durably before returning;
     * the core tells a client about the change only after it. false when
     * it could not (the core then refuses the workflow, or logs). NULL: the
     * node keeps workflows in memory only. */
    bool (*kept)(void *ud, const char *record, size_t len);
} fl_core_io;

/* A message on the control topics `ctl` or `ctl/<module>` (signed deploy,
 * undeploy, shutdown), handed over undecoded: checking its signature and
 * acting on it is the driver's job. rest is the topic after the prefix. */
typedef void (*fl_core_ctl_fn)(void *ud, const char *rest, const void *payload,
                               size_t len);

/* An `answer` to a control message this node sent (docs/protocol.md 3.9),
 * from node `from`, handed over undecoded beyond its envelope. */
typedef void (*fl_core_answer_fn)(void *ud, const char *from, const void *payload,
                                  size_t len);

typedef struct fl_core_config {
    const char *cluster;       /* NULL = "default" */
    const char *node_id;       /* required, fl__valid_id */
    uint64_t incarnation;      /* distinct per process start, < 2^53 */
    uint32_t slots;            /* concurrent runs; 0 = submit-only client */
    size_t max_message;        /* 0 = FL_DEFAULT_MAX_MESSAGE */
    uint32_t lease_ttl_ms;     /* 0 = FL_DEFAULT_LEASE_TTL_MS */
    uint64_t seed;             /* jitter */
    const fl_registry *registry; /* tasks this node runs (borrowed) */
    const char *runtime;       /* presence fields; NULL = "native" */
    const char *arch;          /* NULL = "unknown" */
    const char *tags;          /* "k=v,k2=v2" for routing; NULL = none */
    /* Run and advertise only these: "add,mul,m.*" (a name, or every task
     * whose name starts with "m."); NULL = every task it has. */
    const char *only_tasks;
    int log_level;
    bool events;               /* publish task events all the time */
    /* The first id this node gives a workflow it keeps for another node
     * (`submit`); ids count up from it. It must be above every id an
     * earlier incarnation of this node gave: the driver restores a journal
     * (which raises it past the journal's ids) or picks one from its clock.
     * 0 = 1. */
    uint64_t first_kept_id;
    uint32_t keep_results_s;   /* ended kept workflows are kept this long;
                                * 0 = FL_KEEP_RESULTS_S */
    /* The attachment codecs the driver lends (zcodec.h), in its order of
     * preference, at most FL_Z_MAX_CODECS (more are ignored): listed in
     * presence as `z` and used to decode what arrives compressed.
     * Borrowed; they must outlive the core. NULL or n 0: none. */
    const struct fl_zset *zcodecs;
    /* Also compress for a peer that lists one of zcodecs (off: this node
     * decodes but sends every attachment as it is). */
    bool zsend;
} fl_core_config;

/* Create a core. FL_OK, FL_EINVAL (bad id/cluster/tags), FL_ENOMEM. */
fl_status fl_core_new(const fl_core_config *cfg, const fl_core_io *io,
                      fl_core **out);
void fl_core_free(fl_core *c);

/* The node id and the topic prefix "floret/v1/<cluster>/". */
const char *fl_core_id(const fl_core *c);
const char *fl_core_prefix(const fl_core *c);

/* The last will to register before connecting: topic and retained payload
 * (valid while the core lives). */
void fl_core_will(fl_core *c, const char **topic, const void **payload,
                  size_t *len);

/* Whether the will (and presence) is retained: true for nodes with slots,
 * false for clients, whose presence matters only to live subscribers. */
bool fl_core_will_retain(const fl_core *c);

/* The broker connection is (re)established: subscribe, publish presence,
 * re-announce work and re-send fetches. */
void fl_core_connected(fl_core *c, uint64_t now);

/* The connection dropped (the core stops sending until connected again). */
void fl_core_disconnected(fl_core *c, uint64_t now);

/* One received message. Never fails: bad input is logged and, when the
 * sender is known, answered with an error message. */
void fl_core_input(fl_core *c, const char *topic, const void *payload,
                   size_t len, uint64_t now);

/* Let timers run (lease expiry, retries, countdowns, announcements,
 * extensions). Returns the time of the next needed tick. */
uint64_t fl_core_tick(fl_core *c, uint64_t now);

/* Send what has been batched (leases, outcomes, fetches). Drivers call it
 * after each burst of input/job_done calls. */
void fl_core_flush(fl_core *c, uint64_t now);

/* The room to keep in front of a copy of an attachment of len bytes:
 * FL_ATT_ROOM for a large one, 0 for a small one (defaults.h). */
size_t fl__att_room_for(size_t len);

/* A task to submit. Strings are copied, unless handed over (*_take). */
typedef struct fl_submit {
    const char *name;
    const char *args_json;    /* NULL = [] */
    size_t args_len;
    const char *kwargs_json;  /* NULL = {} */
    size_t kwargs_len;
    const void *att;
    size_t att_len;
    /* When not NULL, *att_take == att, from the core's allocator: the core
     * keeps it instead of copying it and sets *att_take to NULL once it
     * has (from then on the core frees it, also on a later error). */
    uint8_t **att_take;
    /* With att_take: writable bytes in front of att, in the same block
     * (which starts at att - att_room); 0 when there are none. */
    size_t att_room;
    /* The same for the strings: when not NULL, *name_take == name,
     * *args_take == args_json, *kwargs_take == kwargs_json (each
     * NUL-terminated, from the core's allocator, or NULL) and the core keeps
     * the ones it can, setting those pointers to NULL. */
    char **name_take, **args_take, **kwargs_take;
    /* args_json and kwargs_json were already checked by the caller with
     * fl__check_json's rules (the POSIX port checks every fl_node_call
     * where it is made): the core does not parse them a second time. */
    bool json_checked;
    fl_call_options opt;
} fl_submit;

/* Queue a task owned by this core. *id gets its id. FL_OK, FL_EINVAL
 * (reason logged), FL_ETOOBIG, FL_ENOMEM, FL_ESTATE (shutting down). */
fl_status fl_core_submit(fl_core *c, const fl_submit *s, uint64_t now,
                         uint64_t *id);

/*
 * Run a workflow given as canvas JSON (docs/canvas.md) owned by this core.
 * *id gets the workflow's id; its `final` comes once, when the whole tree
 * has ended. FL_OK, FL_EINVAL (err says which part is wrong and why),
 * FL_ENOMEM, FL_ESTATE (shutting down).
 */
fl_status fl_core_apply(fl_core *c, const char *canvas, size_t len,
                        uint64_t now, uint64_t *id, char *err, size_t errlen);

/*
 * Hand a workflow (canvas JSON) to node owner, which keeps it
 * (docs/protocol.md, `submit`). *id is a local handle: its final is SUCCESS
 * with the string "OWNER:N" once the owner accepted it, or FAILURE (the
 * owner refused it, or went offline). FL_OK, FL_EINVAL (err says why),
 * FL_ENOMEM, FL_ESTATE.
 */
fl_status fl_core_remote_submit(fl_core *c, const char *owner,
                                const char *canvas, size_t len, uint64_t now,
                                uint64_t *id, char *err, size_t errlen);

/* Wait on workflow wid kept by node owner: *id's final is the workflow's
 * (or FAILURE NotFound / OwnerLost). FL_OK, FL_EINVAL, FL_ENOMEM,
 * FL_ESTATE. */
fl_status fl_core_remote_query(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id);

/* Ask node owner to revoke wid, a task or workflow it owns (one it keeps
 * for others, or another client's task, docs/protocol.md 3.13). *id's
 * final is the owner's answer: REVOKED (revoked now), the state wid had
 * ended in, FAILURE NotFound, UnknownKind (an older owner) or OwnerLost.
 * FL_OK, FL_EINVAL (bad owner id), FL_ENOMEM, FL_ESTATE. */
fl_status fl_core_remote_revoke(fl_core *c, const char *owner, uint64_t wid,
                                bool terminate, uint64_t now, uint64_t *id);

/*
 * Ask keeper owner to add, list or remove a periodic workflow
 * (docs/protocol.md 3.16): op "add" with name, cron and canvas JSON, "list"
 * with nothing else, "remove" with name. *id's final is the keeper's
 * answer: SUCCESS with the schedule (add, remove) or the list, or FAILURE
 * (CronError, CanvasError, NotDurable, Exists, NotFound, NotAKeeper,
 * UnknownKind from an older keeper, OwnerLost, UnknownKeeper). FL_OK,
 * FL_EINVAL (err says why), FL_ENOMEM, FL_ESTATE.
 */
fl_status fl_core_remote_schedule(fl_core *c, const char *owner,
                                  const char *op, const char *name,
                                  const char *cron, const char *canvas,
                                  uint64_t now, uint64_t *id, char *err,
                                  size_t errlen);

/* Wait on nothing: ask keeper owner for the current state of workflow wid
 * (`query` with `now`); *id's final comes with that state, which may be
 * PENDING, STARTED or RETRY, and what the keeper knows of the run. */
fl_status fl_core_remote_state(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id);

/*
 * Durable keepers. Feed the records the `kept` callback stored, in the
 * order they were stored, before the first fl_core_connected: FL_OK, or
 * FL_EPROTO for a record that does not read (err says why; the caller
 * logs it and goes on), FL_ENOMEM. Then fl_core_kept_resume starts again
 * every workflow that had not ended (from its start: its tasks run
 * at-least-once) and forgets ended ones past their keeping time.
 */
fl_status fl_core_kept_load(fl_core *c, const char *record, size_t len,
                            uint64_t now, char *err, size_t errlen);
void fl_core_kept_resume(fl_core *c, uint64_t now);

/* Every record needed to restore what the keeper holds now, for a driver
 * that compacts its journal: fn gets each (one line of JSON) and returns
 * false to stop. false when one failed (or out of memory). */
bool fl_core_kept_dump(fl_core *c, bool (*fn)(void *ud, const char *record,
                                              size_t len),
                       void *ud);

/* Records the `kept` callback stored since the last dump, and how many of
 * them a dump would write now: a driver compacts when the first is far
 * above the second. */
void fl_core_kept_counts(const fl_core *c, uint64_t *stored, uint64_t *live);

/* Revoke a pending or running owned task or workflow (final REVOKED):
 * the workers holding its leased tasks are told to drop or cancel them
 * (docs/protocol.md 3.13). For a handle on a workflow another node keeps
 * (fl_core_remote_query), the keeper is asked to revoke it and the
 * handle ends with its answer. FL_OK, FL_ENOTFOUND (ended, or unknown). */
fl_status fl_core_revoke(fl_core *c, uint64_t id, uint64_t now);

/* The same; terminate asks the workers to kill a task that does not stop
 * when cancelled, where it runs in a process of its own (Celery's
 * terminate=True). */
fl_status fl_core_revoke_with(fl_core *c, uint64_t id, bool terminate,
                              uint64_t now);

/* The driver finished job: the core takes the outcome's contents (clears
 * it) and frees the job. */
void fl_core_job_done(fl_core *c, fl_job *job, fl_outcome *outcome,
                      uint64_t now);

/*
 * Run job's task from the registry synchronously, filling outcome (which
 * the caller initialised to zero). Touches only the job, the registry and
 * the outcome, so a driver may call it on an executor thread.
 * cancelled/sleep/soft_expired are the driver's hooks behind
 * fl_task_cancelled, fl_task_sleep (sleep returns false when cancelled or
 * at the soft limit) and fl_task_soft_expired.
 */
typedef struct fl_run_hooks {
    void *ud;
    bool (*cancelled)(void *ud);
    bool (*sleep)(void *ud, double seconds);
    const char *node_id;
    size_t max_result;
    /* Behind fl_task_soft_expired: the job's soft time limit passed
     * (NULL: never). */
    bool (*soft_expired)(void *ud);
} fl_run_hooks;
void fl_core_run_job(const fl_registry *reg, const fl_job *job,
                     const fl_run_hooks *hooks, fl_outcome *outcome);

/* The same, with fallback (when not NULL) running any task the registry
 * does not have (hot-deployed tasks) with fallback_ud; it must fail with
 * UnknownTask for names it does not know either. */
void fl_core_run_job_or(const fl_registry *reg, fl_task_fn fallback,
                        void *fallback_ud, const fl_job *job,
                        const fl_run_hooks *hooks, fl_outcome *outcome);

/* Begin a graceful stop: stop fetching, release queued tasks to their
 * owners, publish presence offline once nothing runs. */
void fl_core_shutdown(fl_core *c, uint64_t now);

/* True after fl_core_shutdown once no job is running and offline presence
 * has been sent. */
bool fl_core_stopped(const fl_core *c);

/* Counters for tests, status and benchmarks. An owner counts each task it
 * queues (a workflow's members included) and each workflow once in
 * submitted, and again in finished when it ends; owned_pending is what has
 * not ended yet, so submitted = finished + owned_pending at all times. */
typedef struct fl_core_stats {
    uint64_t submitted, finished, leased, requeued, expired;
    uint64_t executed, duplicates_dropped, bad_messages;
    uint64_t not_holder_dropped;  /* done/extend/release entries from a
                                   * worker that does not hold the lease */
    uint64_t handed_back;    /* leases of tasks this node does not run */
    uint32_t queued_local, running, owned_pending;
    /* Worker side: outcomes by kind (failed counts the retryable ones too,
     * retryable those alone), and the time tasks ran. Owner side: retries
     * scheduled and tasks revoked (docs/protocol.md 3.11). */
    uint64_t succeeded, failed, retryable, busy_us;
    uint64_t retries, revoked;
    /* Owner side, for a progress line: workflows applied and ended (also
     * counted in submitted and finished, like their tasks), owned tasks
     * that ended in FAILURE or REVOKED, and the owned tasks ready, delayed
     * and leased now. */
    uint64_t workflows, workflows_finished, owned_failed;
    uint32_t owned_ready, owned_delayed, owned_leased;
} fl_core_stats;
void fl_core_stats_get(const fl_core *c, fl_core_stats *st);

/* Hand control messages to fn (called from fl_core_input, before
 * fl_core_connected, which then subscribes to `ctl` and `ctl/+` when the
 * node has slots). */
void fl_core_set_ctl(fl_core *c, fl_core_ctl_fn fn, void *ud);

/* Hand the `answer` messages that reach this node's inbox to fn (NULL:
 * they are dropped, with a debug line). */
void fl_core_set_answer(fl_core *c, fl_core_answer_fn fn, void *ud);

/*
 * Tasks this node runs besides its registry's (hot-deployed modules), for
 * presence: tasks "m.fn,m.g" and modules "m@version", comma-separated (NULL
 * or "" for none). Copied; presence is published again at once when
 * connected. FL_OK, FL_EINVAL (a name is not valid), FL_ENOMEM.
 */
fl_status fl_core_set_extra_tasks(fl_core *c, const char *tasks,
                                  const char *modules, uint64_t now);

/* Another node's `stats` or `events` message (docs/protocol.md 3.11), a
 * JSON object valid during the call, whose members the observer must check
 * like any received input. */
typedef void (*fl_core_observe_fn)(void *ud, const char *node,
                                   const char *kind, const fl_value *msg);

/* Hand every node's stats and events to fn (set before fl_core_connected,
 * which then subscribes to node/+/stats and node/+/events). */
void fl_core_set_observer(fl_core *c, fl_core_observe_fn fn, void *ud);

/* While on, ask every online node for its task events (a `watch` renewed
 * every FL_WATCH_TTL_MS / 3, and at once to a node that comes online);
 * off sends a watch of 0 ms to every online node. */
void fl_core_watch_events(fl_core *c, bool on, uint64_t now);

/* Peers seen through presence (the POSIX node exposes it as fl_node_peers). */
size_t fl_core_peers(const fl_core *c, fl_peer *out, size_t cap);

#endif
