/*
 * floret.h - the one header a floret user includes.
 *
 * floret is a distributed task queue over MQTT. This header declares the
 * status codes, the allocator hook, read-only JSON values, the native task
 * interface, the task registry and the hosted node (which connects to a
 * broker, runs tasks on executor threads and submits tasks of its own).
 *
 * It includes only <stddef.h>, <stdint.h> and <stdbool.h>; no third-party
 * type appears here. Every function documents the statuses it returns.
 */
#ifndef FLORET_H
#define FLORET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_VERSION "0.1.0"
#define FL_PROTOCOL_VERSION 1

/* ------------------------------------------------------------------ status */

/* Every fallible call returns one of these; FL_OK is zero, errors negative. */
typedef enum fl_status {
    FL_OK = 0,
    FL_ENOMEM = -1,    /* an allocation failed */
    FL_EINVAL = -2,    /* an argument was invalid (the call names which) */
    FL_ETOOBIG = -3,   /* a message, value or attachment exceeds a limit */
    FL_EPROTO = -4,    /* a message broke docs/protocol.md */
    FL_ENOTFOUND = -5, /* no such task, node or entry */
    FL_ETIMEDOUT = -6, /* the wait ended before the result was ready */
    FL_ECONN = -7,     /* the broker could not be reached or went away */
    FL_ESTATE = -8,    /* the call is not valid in the object's state */
    FL_EIO = -9,       /* an operating-system call failed */
    FL_EEXIST = -10,   /* the name is already registered */
    FL_ETASK = -11     /* the task ended in FAILURE (see fl_result_error) */
} fl_status;

/* A static, human-readable text for a status; never NULL. */
const char *fl_strerror(fl_status status);

/* --------------------------------------------------------------- allocator */

/*
 * The allocator every part of floret uses (core, codec, JSON values).
 * Lua-style: fn(ud, ptr, size) with size 0 frees ptr and returns NULL,
 * otherwise it behaves like realloc. Set it once, before any other call;
 * the default uses malloc/realloc/free. fn must be thread-safe when the
 * hosted node is used (executor threads allocate).
 */
typedef void *(*fl_alloc_fn)(void *ud, void *ptr, size_t size);
void fl_set_allocator(fl_alloc_fn fn, void *ud);

/* Free memory that a floret call documented as "caller frees with fl_free". */
void fl_free(void *ptr);

/* size bytes from floret's allocator, for a buffer handed over to a call
 * that takes it (fl_node_call_take); NULL when out of memory. Free an
 * unused one with fl_free. */
void *fl_malloc(size_t size);

/* -------------------------------------------------------------- JSON values */

/* A read-only JSON value (task arguments, results). Opaque. */
typedef struct fl_value fl_value;

typedef enum fl_type {
    FL_TYPE_NULL,
    FL_TYPE_BOOL,
    FL_TYPE_NUMBER,
    FL_TYPE_STRING,
    FL_TYPE_ARRAY,
    FL_TYPE_OBJECT
} fl_type;

/* The name of a type as used in error messages ("number", "array", ...). */
const char *fl_type_name(fl_type type);

/* The value's type. A NULL value reads as FL_TYPE_NULL. */
fl_type fl_value_type(const fl_value *v);

/* The number held by v, or 0 when v is not a number. An integer beyond
 * 2^53 reads as the nearest double: use fl_value_int64 for it. */
double fl_value_number(const fl_value *v);

/* Integers. JSON has one kind of number; floret reads as an integer a
 * number written without fraction or exponent (any number of digits, kept
 * exactly as written, so an integer passes through tasks and workflows
 * unchanged), or any whole number up to 2^53 in magnitude (1.0, 1e3).
 * fl_value_is_integer: v is such an integer, whatever its size.
 * fl_value_int64: true, and *out (if not NULL) gets it exactly, when v is
 * an integer from -2^63 to 2^63-1; false for anything else (not a number,
 * a fraction, 2^64, or 1e300, which is a double). */
bool fl_value_is_integer(const fl_value *v);
bool fl_value_int64(const fl_value *v, int64_t *out);

/* The boolean held by v, or false when v is not a boolean. */
bool fl_value_bool(const fl_value *v);

/* The string held by v (NUL-terminated; *len gets its length when len is not
 * NULL), or NULL when v is not a string. Valid while v lives. */
const char *fl_value_string(const fl_value *v, size_t *len);

/* The number of members of an array or object; 0 for anything else. */
size_t fl_value_count(const fl_value *v);

/* Member i of an array or object, or NULL when out of range. */
const fl_value *fl_value_at(const fl_value *v, size_t i);

/* Walk the members of an array or object in order, in O(1) per step
 * (fl_value_at counts from the start each time):
 *   for (const fl_value *m = fl_value_first(v); m; m = fl_value_next(m))
 * fl_value_key(m) is the member's key inside an object, else NULL. */
const fl_value *fl_value_first(const fl_value *v);
const fl_value *fl_value_next(const fl_value *member);
const char *fl_value_key(const fl_value *member);

/* The key of member i of an object, or NULL. */
const char *fl_value_key_at(const fl_value *v, size_t i);

/* The member of object v named key, or NULL. */
const fl_value *fl_value_get(const fl_value *v, const char *key);

/*
 * Parse len bytes of JSON text into a new value; caller frees it with
 * fl_value_free. Returns FL_OK, FL_EINVAL (not JSON, or nested deeper than
 * the depth limit), FL_ETOOBIG or FL_ENOMEM.
 */
fl_status fl_value_parse(const char *json, size_t len, fl_value **out);

/* Print v as compact JSON; caller frees the text with fl_free. NULL on
 * allocation failure. *len (if not NULL) gets the length. */
char *fl_value_to_json(const fl_value *v, size_t *len);

/* Free a value made by fl_value_parse or handed to the caller as owned. */
void fl_value_free(fl_value *v);

/* Check that json (len bytes) is JSON text and, when want >= 0, of type
 * want (an fl_type), as fl_node_call checks its args and kwargs. FL_OK or
 * FL_EINVAL with a one-line reason in err (where it went wrong, or the
 * type found). */
fl_status fl_json_check(const char *json, size_t len, int want, char *err,
                        size_t errlen);

/* ------------------------------------------------------------ native tasks */

/*
 * What a running task sees: its arguments and a place for its outcome.
 * Valid only during the task function's call.
 */
typedef struct fl_task_ctx fl_task_ctx;

/* The positional arguments (always an array) and keyword arguments (always
 * an object). */
const fl_value *fl_task_args(const fl_task_ctx *ctx);
const fl_value *fl_task_kwargs(const fl_task_ctx *ctx);

/* The task's binary attachment (NULL, 0 when it has none). */
const void *fl_task_attachment(const fl_task_ctx *ctx, size_t *len);

/* The task's name, its attempt number (1 for the first run) and the node id
 * running it. */
const char *fl_task_name(const fl_task_ctx *ctx);
uint32_t fl_task_attempt(const fl_task_ctx *ctx);
const char *fl_task_node(const fl_task_ctx *ctx);

/* True once the task's time limit passed, its owner revoked it, or the
 * node is shutting down; a long task should poll it and return (its
 * result is no longer wanted). */
bool fl_task_cancelled(const fl_task_ctx *ctx);

/* True once the task's soft time limit (fl_call_options.
 * soft_time_limit_ms) passed: the hard limit is near, so the task should
 * clean up and return now (Celery's SoftTimeLimitExceeded). Stays true
 * for the rest of the run; always false without a soft limit. Works the
 * same on a thread and in a child process of the process pool. */
bool fl_task_soft_expired(const fl_task_ctx *ctx);

/* Sleep up to seconds, returning early (false) when cancelled or when the
 * task's soft time limit passes (fl_task_soft_expired tells which). */
bool fl_task_sleep(fl_task_ctx *ctx, double seconds);

/*
 * Set the outcome. The last call wins. A task that sets nothing returns
 * null. The return_* calls fail with FL_EINVAL for a value JSON cannot hold
 * (NaN, infinity, invalid JSON text), FL_ETOOBIG over the result limit, or
 * FL_ENOMEM; the task then ends in FAILURE saying so.
 */
fl_status fl_task_return_number(fl_task_ctx *ctx, double x);
/* An integer, exactly (a double holds integers exactly only up to 2^53). */
fl_status fl_task_return_int64(fl_task_ctx *ctx, int64_t x);
fl_status fl_task_return_json(fl_task_ctx *ctx, const char *json, size_t len);
fl_status fl_task_return_value(fl_task_ctx *ctx, const fl_value *v);
/* Attach binary bytes to the result (copied). */
fl_status fl_task_return_attachment(fl_task_ctx *ctx, const void *data, size_t len);

/*
 * End the task in error: type is a short CamelCase class ("TypeError"),
 * the message says which argument and what was wrong. A retryable error is
 * retried if the task's options allow it. Always returns FL_OK unless out of
 * memory.
 */
fl_status fl_task_fail(fl_task_ctx *ctx, const char *type, bool retryable,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A native task. ud is the pointer given at registration. */
typedef void (*fl_task_fn)(fl_task_ctx *ctx, void *ud);

/* ---------------------------------------------------------------- registry */

/* The set of task names a node can run. */
typedef struct fl_registry fl_registry;

/* A new empty registry; free with fl_registry_free. NULL when out of memory. */
fl_registry *fl_registry_new(void);
void fl_registry_free(fl_registry *reg);

/*
 * Register fn under name (1..64 bytes of [A-Za-z0-9_.-]). Returns FL_OK,
 * FL_EINVAL (bad name), FL_EEXIST (already registered) or FL_ENOMEM.
 */
fl_status fl_registry_add(fl_registry *reg, const char *name, fl_task_fn fn,
                          void *ud);

/*
 * Run task name of reg here and now, on the calling thread, as a worker
 * would run it (Celery's Task.apply()): args is JSON array text (NULL =
 * []), kwargs JSON object text (NULL = {}), att an optional attachment.
 * On FL_OK *value (if not NULL) gets its result (free with
 * fl_value_free) and *att_out / *att_out_len (if not NULL) its result
 * attachment (free with fl_free; NULL, 0 when none). FL_ETASK: the task
 * failed, err holds "Type: message"; FL_ENOTFOUND: no such task;
 * FL_EINVAL: args or kwargs are not what they must be (err says which);
 * FL_ENOMEM. fl_task_cancelled is always false here, and results have no
 * size limit.
 */
fl_status fl_registry_apply(const fl_registry *reg, const char *name, const char *args,
                            const char *kwargs, const void *att, size_t att_len,
                            fl_value **value, void **att_out, size_t *att_out_len,
                            char *err, size_t errlen);

/* Register the built-in tasks: add, mul, xsum, echo, sleep, fail. */
fl_status fl_register_builtins(fl_registry *reg);

/*
 * Register the word-count map task "wc.map": its attachment is a chunk of
 * text, kwargs {"min_length": L} (optional, default 1) keeps only words of
 * at least L bytes; the result is {"words": n, "distinct": d} with the
 * partial count, in the binary format of docs/wordcount.md, as the result
 * attachment. Returns FL_OK, FL_EEXIST or FL_ENOMEM.
 */
fl_status fl_register_wordcount(fl_registry *reg);

/* The directories the locality task "wc.file" may read files below
 * (`floret node --data-dir`). Opaque. */
typedef struct fl_wordcount_roots fl_wordcount_roots;

/*
 * Resolve dirs[0..n) (realpath: each must exist and be a directory) into
 * a set of allowed directories; NULL with a one-line reason in err when
 * one is not (or out of memory). n may be 0 (nothing is readable). Free
 * with fl_wordcount_roots_free, after the registry it is given to.
 */
fl_wordcount_roots *fl_wordcount_roots_new(const char *const *dirs, size_t n,
                                           char *err, size_t errlen);
void fl_wordcount_roots_free(fl_wordcount_roots *roots);

/*
 * Register "wc.file", the word count's locality task (docs/wordcount.md,
 * "Data locality"): a client that counts a file this node can read too
 * sends {"path", "offset", "length", "size", "mtime_s", "mtime_ns",
 * "sample", "min_length"} instead of the bytes; the outcome is wc.map's
 * for that range of the file, or the error NotLocal when the path is not
 * a regular file below one of roots, reached without a symbolic link
 * below it, or differs from the client's in any checked way (the client
 * then sends the bytes). roots must outlive the registry. FL_OK,
 * FL_EEXIST or FL_ENOMEM.
 */
fl_status fl_register_wordcount_file(fl_registry *reg, const fl_wordcount_roots *roots);

/*
 * Register "mandel.tile", the task of `floret mandelbrot`: kwargs
 * {"width","height","x","y","w","h","iter","cx","cy","span"} describe an
 * image of width x height pixels of the complex plane centred on (cx, cy),
 * span wide, and one tile of it (w x h pixels from x, y; at most 262,144
 * pixels); the result is {"x","y","w","h"} with the tile's w * h gray
 * pixels, row by row, as the attachment (0 inside the set, else 1..255
 * growing with the escape time). A bad member fails with ValueError
 * naming it. Returns FL_OK, FL_EEXIST or FL_ENOMEM.
 */
fl_status fl_register_mandelbrot(fl_registry *reg);

/* Limits of one "mandel.tile" task: its pixels are one attachment. */
#define FL_MANDEL_MAX_SIDE 16384u  /* image width and height */
#define FL_MANDEL_MAX_TILE 262144u /* pixels of one tile */
#define FL_MANDEL_MAX_ITER 100000u /* iterations per pixel */

/* --------------------------------------------------------------- the node */

/* Celery's task states, with Celery's meanings (docs/states.md): PENDING
 * until a worker runs the task in one of its slots (a lease is not a
 * start), then STARTED; RETRY while a retry waits for its backoff. */
typedef enum fl_state {
    FL_PENDING,
    FL_STARTED,
    FL_RETRY,
    FL_SUCCESS,
    FL_FAILURE,
    FL_REVOKED
} fl_state;

/* "PENDING", "SUCCESS", ... */
const char *fl_state_name(fl_state state);

/* Log levels for the log callback. */
enum { FL_LOG_ERROR = 0, FL_LOG_WARN = 1, FL_LOG_INFO = 2, FL_LOG_DEBUG = 3 };

typedef void (*fl_log_fn)(void *ud, int level, const char *line);

/* How the default logger (no log callback) writes to stderr:
 * FL_LOG_TEXT "<UTC time> floret[<node>] <level>: <line>", or FL_LOG_JSON
 * one JSON object per line with time, level, node and message, plus task,
 * task_id (OWNER:ID), attempt, outcome, duration_ms and, for a failure,
 * error_type and error on the line of each task's outcome (docs/watching.md,
 * "Logs"). */
enum { FL_LOG_TEXT = 0, FL_LOG_JSON = 1 };

/*
 * Another node's report (docs/protocol.md 3.11): kind "stats" (its counters,
 * every 2 s) or "events" (a batch of task events). msg is the message's
 * JSON object, valid during the call; it comes from the network, so read
 * it with the fl_value calls, which never fail on a wrong type. Called on
 * the node's own thread: copy what you need and return.
 */
typedef void (*fl_observe_fn)(void *ud, const char *node, const char *kind,
                              const fl_value *msg);

/* Where a node runs its tasks (docs/tasks.md, "Isolation"). In a child
 * process a task that passes its hard time limit (or is cancelled by a
 * shutdown) is killed with SIGKILL and the slot gets a new child, so a
 * task stuck in one C call cannot keep its slot; a native task there runs
 * in a copy of the node's memory (what it writes stays in the child). On
 * a thread a task stops only when it notices cancellation. */
typedef enum fl_pool {
    FL_POOL_AUTO = 0, /* Lua tasks in child processes, native on threads */
    FL_POOL_PROCESS,  /* every task in a child process, one per slot */
    FL_POOL_THREAD    /* every task on the node's threads (fastest) */
} fl_pool;

typedef struct fl_node_options {
    /* mqtt://[user:pass@]host[:port] or mqtts://...; NULL means the
     * FLORET_BROKER environment variable, then mqtt://127.0.0.1:1883. */
    const char *broker_url;
    /* TLS for mqtts:// URLs (docs/security.md). The broker's certificate
     * and host name are always verified. Each NULL falls back on the
     * environment variable named. */
    const char *tls_ca_file;   /* PEM file of the CAs to trust
                                * ($FLORET_TLS_CA_FILE); none: the system's
                                * CAs in /etc/ssl/certs */
    const char *tls_cert_file; /* PEM client certificate for mutual TLS
                                * ($FLORET_TLS_CERT_FILE); needs tls_key_file */
    const char *tls_key_file;  /* its unencrypted PEM private key
                                * ($FLORET_TLS_KEY_FILE) */
    /* The broker password, so that it need not sit in the URL (and a
     * command line, which every local user can read in /proc): password,
     * else the first line of password_file, else the URL's, else the first
     * line of $FLORET_PASSWORD_FILE, else $FLORET_PASSWORD. It needs a
     * user name in the URL (mqtt://USER@host). */
    const char *password;
    const char *password_file;
    const char *cluster;   /* NULL means "default" */
    const char *name;      /* node id; NULL means the URL's user name (with
                            * slots) or <user>.<hostname>-<pid> (a client),
                            * which a broker ACL can tie to the user
                            * (docs/security.md); with no user,
                            * <hostname>-<pid>. A node id <user>.<rest>
                            * connects with MQTT client id <rest>. */
    const char *tags;      /* routing tags "k=v,k2=v2" in presence; NULL: none */
    int slots;             /* executor threads; -1 = one per core, 0 = client */
    int task_nice;         /* niceness the executor threads add to the
                            * node's, 0 to 19 (default 10): CPU-bound tasks
                            * yield to the event loop and to a broker or
                            * client on the same machine (Linux; elsewhere
                            * ignored) */
    size_t max_message;    /* largest MQTT payload accepted or sent; 0 = default */
    uint32_t lease_ttl_ms; /* lease deadline when not extended; 0 = default */
    fl_registry *registry; /* tasks this node runs (borrowed); NULL = builtins */
    /* Run and advertise only these tasks, comma-separated: a name ("add")
     * or every function of a hot-deployed module ("wc.*"); NULL: all. */
    const char *tasks;
    fl_log_fn log;         /* NULL means one line per message on stderr */
    void *log_ud;
    int log_level;         /* lines above this level are dropped */
    int log_format;        /* FL_LOG_TEXT (default) or FL_LOG_JSON: how
                            * stderr lines look when log is NULL */

    /* Hot-deployed Lua tasks (docs/tasks.md). A node with slots accepts
     * deploy, undeploy and shutdown on the cluster's control topics only
     * when signed by one of these public keys (files written by `floret
     * keygen`), or unsigned when allow_unsigned is set (tests only). */
    const char *const *trust_files;
    size_t ntrust_files;
    bool allow_unsigned;
    size_t lua_mem;        /* bytes one Lua state may hold; 0 = 64 MiB */
    uint64_t lua_steps;    /* Lua instructions per call; 0 = 100,000,000 */
    /* Wall-clock limit of a deployed module's top-level code, which runs
     * in a child process off the node's loop: a module that takes longer
     * is killed and its deploy refused. 0 = 5000 ms. */
    uint32_t lua_load_ms;
    fl_pool pool;          /* where tasks run; FL_POOL_AUTO by default */
    /* Called (on the node's own thread) when a trusted shutdown arrives;
     * the application then stops the node. NULL: shutdowns are logged and
     * ignored. */
    void (*on_shutdown)(void *ud);
    void *shutdown_ud;

    /* Watching the cluster (docs/protocol.md 3.11). Every node publishes
     * its counters every 2 s; with events set it also publishes an event
     * for every step of every task it runs (like `celery worker -E`),
     * otherwise only while a monitor asks for them. observe (NULL: none)
     * receives every other node's counters and events; with watch_events
     * the node also asks every node for its events, for as long as it
     * runs. */
    bool events;
    fl_observe_fn observe;
    void *observe_ud;
    bool watch_events;

    /* Durable keeping (docs/protocol.md 3.8, "Durable keepers"): a node
     * with slots journals the workflows handed to it (fl_node_submit) in
     * state_dir/keeper-<id>.journal, created if need be; after a crash and
     * a restart with the same state_dir and name it resumes those that had
     * not ended and answers for the ended ones. NULL: kept in memory only.
     * result_expires_s: how long ended workflows are kept; 0 = a day
     * (Celery's result_expires). */
    const char *state_dir;
    uint32_t result_expires_s;

    /* Compressed attachments (docs/protocol.md section 3, docs/scaling.md):
     * the codecs this node decodes, lists in its presence and compresses
     * with, comma-separated in its order of preference ("zstd,lz4"); it
     * compresses a large attachment for a receiver that lists one of them.
     * "none": it neither lists, decodes nor compresses. NULL means
     * $FLORET_COMPRESS, and without it every codec this build has (zstd,
     * lz4) to decode only: such a node is sent compressed attachments by
     * nodes that compress, and sends its own as they are. An unknown codec
     * makes fl_node_new fail. */
    const char *compress;
} fl_node_options;

/* Fill o with the defaults described above. */
void fl_node_options_init(fl_node_options *o);

/*
 * Check the broker and credentials of o as fl_node_new will (the URL;
 * TLS files readable, a certificate with its key, TLS files only with
 * mqtts://; a password only with a user name; each NULL falling back on
 * its environment variable), without a node: url (cap bytes, may be
 * NULL) gets the URL as logs show it, scheme://[user@]host:port without
 * the password. o NULL: the defaults. FL_OK, or FL_EINVAL with a
 * one-line reason in err naming the option or file; FL_ENOMEM.
 */
fl_status fl_broker_check(const fl_node_options *o, char *url, size_t cap, char *err,
                          size_t errlen);

/* The connection settings a node would use, resolved (fl_broker_resolve)
 * for a program that opens an MQTT connection of its own beside floret's
 * (the picture feed of `floret mandelbrot` does). Paths are "" when not
 * set; a TLS connection without ca_file verifies with the system's CAs. */
typedef struct fl_broker_settings {
    bool tls;            /* mqtts:// */
    char host[256];
    int port;
    bool has_user;
    char user[256];
    char password[256];  /* "" = none; clear it after use */
    char url[600];       /* as logs show it, without the password */
    char ca_file[1024];
    char cert_file[1024];
    char key_file[1024];
} fl_broker_settings;

/*
 * Resolve the broker settings of o (NULL: the defaults) as fl_node_new
 * does, environment variables and password file included, into *out.
 * FL_OK, or FL_EINVAL with a one-line reason in err naming the option or
 * file; FL_ENOMEM.
 */
fl_status fl_broker_resolve(const fl_node_options *o, fl_broker_settings *out,
                            char *err, size_t errlen);

typedef struct fl_node fl_node;

/*
 * Create a node (not yet connected). Returns FL_OK, FL_EINVAL (bad option,
 * e.g. a TLS file that cannot be read or given with an mqtt:// URL; the
 * log says which) or FL_ENOMEM.
 */
fl_status fl_node_new(const fl_node_options *o, fl_node **out);

/*
 * Connect to the broker and start the event loop and executor threads. The
 * first connection is waited for up to timeout_ms; UINT32_MAX waits until
 * the broker answers, however long it takes (a service that may start
 * before its broker; the log says once a minute that it is still waiting),
 * and fl_node_stop from another thread ends the wait (FL_ESTATE). After the
 * first connection the node reconnects by itself with backoff. A refusal
 * that retrying cannot cure (credentials, the broker's certificate) ends
 * any wait at once with FL_ECONN. FL_OK, FL_ECONN (broker unreachable or
 * refusing; the log says why), FL_EEXIST (another live node has this id),
 * FL_EIO, FL_ESTATE (already started, or stopped while waiting).
 */
fl_status fl_node_start(fl_node *node, uint32_t timeout_ms);

/*
 * Stop gracefully: stop fetching, hand queued tasks back to their owners,
 * let running tasks finish for up to grace_ms, publish offline, disconnect.
 * Safe to call from any thread; a second call returns at once.
 */
void fl_node_stop(fl_node *node, uint32_t grace_ms);

/* Stop (if needed) and free everything. */
void fl_node_free(fl_node *node);

/* The node's id. */
const char *fl_node_id(const fl_node *node);

/* Why the node's last broker connection attempt failed, in one line
 * ("not authorised", a TLS reason naming the certificate, ...): what to
 * print when fl_node_start returns FL_ECONN. Never empty ("no answer from
 * the broker in time" when no attempt reported why); valid while node
 * lives. */
const char *fl_node_last_error(const fl_node *node);

/* True when the node stopped, or refused to start (fl_node_start returned
 * FL_EEXIST), because another live node holds its id. */
bool fl_node_id_taken(fl_node *node);

/* True after fl_node_stop gave up on task threads that ignored their
 * cancellation past the grace period: fl_node_free then frees nothing,
 * the caller must not free the registry either, and the process should
 * exit. */
bool fl_node_abandoned(const fl_node *node);

/* Log one line (printf format) as the node logs its own: through the log
 * callback, else on stderr in the node's log_format, if level is not above
 * its log_level. Any thread, any time between fl_node_new and
 * fl_node_free. */
void fl_node_log(fl_node *node, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Options for one submitted task. Zero means the default. */
typedef struct fl_call_options {
    uint32_t retries;       /* retries after a retryable error (default 0) */
    uint32_t max_attempts;  /* runs allowed counting worker loss (default 5) */
    uint32_t time_limit_ms; /* per run (default none) */
    uint32_t countdown_ms;  /* do not start before this delay */
    uint32_t expires_ms;    /* revoke if not started within this delay */
    const char *route;      /* run only on this node id, or on nodes with
                             * this tag "k=v" ("arch=esp32", or one given
                             * with --tag); NULL: any */
    uint64_t eta_ms;        /* do not start before this absolute time, in
                             * ms since 1970-01-01 UTC (fl_eta_parse reads
                             * "2026-12-02T18:00:00Z"); the node owning the
                             * task turns it into a delay by its own clock
                             * when it queues the task; a time past runs
                             * now; 0: none. With countdown_ms too, the
                             * later of the two. */
    uint32_t soft_time_limit_ms; /* per run, before time_limit_ms (must be
                             * less when both are set): the task is told
                             * (fl_task_soft_expired; a Lua task gets a
                             * SoftTimeLimitExceeded error it can catch);
                             * 0: none */
    uint8_t priority;       /* 0..FL_PRIORITY_MAX, higher leases first
                             * within its owner's queue, FIFO within one
                             * priority; 0 (the default) is the lowest */
    const char *rate_limit; /* "10/s", "100/m", "5/h" or "10" (per
                             * second): each worker starts tasks of this
                             * name at most this often (one at a time,
                             * evenly spaced); NULL: no limit */
} fl_call_options;

/* The highest priority (fl_call_options.priority), as RabbitMQ's 0..9. */
#define FL_PRIORITY_MAX 9

/*
 * Read an absolute time for fl_call_options.eta_ms: ISO 8601 in UTC,
 * "2026-12-02T18:00:00Z" (a fraction of seconds and "+00:00" for "Z"
 * allowed, a space for "T" too), or Unix seconds ("1796234400",
 * "1796234400.5"). *unix_ms gets milliseconds since 1970-01-01 UTC.
 * FL_OK, FL_EINVAL (not such a time, or before 1970 or after 9999).
 */
fl_status fl_eta_parse(const char *text, uint64_t *unix_ms);

/* Is spec a rate limit as fl_call_options.rate_limit takes it ("10/s",
 * "100/m", "5/h", or "10" per second)? */
bool fl_rate_limit_valid(const char *spec);

/* A handle to a submitted task, like Celery's AsyncResult. */
typedef struct fl_result fl_result;

/*
 * Submit task name with args (JSON array text, NULL = []) and kwargs (JSON
 * object text, NULL = {}) and an optional attachment, owned by this node.
 * Caller frees *out with fl_result_free. FL_OK, FL_EINVAL (names the bad
 * field in the log), FL_ETOOBIG, FL_ENOMEM, FL_ESTATE (node not started).
 */
fl_status fl_node_call(fl_node *node, const char *name, const char *args,
                       const char *kwargs, const void *att, size_t att_len,
                       const fl_call_options *opt, fl_result **out);

/*
 * fl_node_call for a large attachment, without copying it: att (att_len
 * bytes) must come from fl_malloc, and the node takes it in every case,
 * also when the call fails; the caller must not touch it afterwards.
 * Same statuses as fl_node_call.
 */
fl_status fl_node_call_take(fl_node *node, const char *name, const char *args,
                            const char *kwargs, void *att, size_t att_len,
                            const fl_call_options *opt, fl_result **out);

/*
 * Wait until r is ready or timeout_ms passes (UINT32_MAX waits forever).
 * FL_OK when ready (SUCCESS, FAILURE or REVOKED), FL_ETIMEDOUT otherwise.
 */
fl_status fl_result_wait(fl_result *r, uint32_t timeout_ms);

/*
 * Wait until one of rs[0..n) is ready or timeout_ms passes (UINT32_MAX
 * waits forever), like waiting on a set of AsyncResults for the first to
 * finish; *index gets the first ready one in array order. FL_OK,
 * FL_ETIMEDOUT, FL_EINVAL (no results, a NULL one, or no index), FL_ENOMEM
 * (the shared condition variable could not be made). Each wake-up
 * scans rs: meant for tens of results, not thousands.
 */
fl_status fl_result_wait_any(fl_result *const *rs, size_t n,
                             uint32_t timeout_ms, size_t *index);

/* True when the task has ended. */
bool fl_result_ready(const fl_result *r);

/* The current state. */
fl_state fl_result_state(const fl_result *r);

/* The value of a SUCCESS (NULL before); valid while r lives. */
const fl_value *fl_result_value(const fl_result *r);

/* The partial results of a workflow whose top is a group (or a map,
 * starmap or chunks) that ended in FAILURE: the array of its members'
 * results in member order, null where a member failed (like Celery's
 * GroupResult.results), next to the error of the first member that failed.
 * NULL for anything else (a SUCCESS, a plain task, a failed chain or
 * chord) and before the end; valid while r lives. */
const fl_value *fl_result_partial(const fl_result *r);

/* The result attachment of a SUCCESS (NULL, 0 when none). */
const void *fl_result_attachment(const fl_result *r, size_t *len);

/* The error type and message of a FAILURE or REVOKED (NULL otherwise). */
const char *fl_result_error_type(const fl_result *r);
const char *fl_result_error_message(const fl_result *r);

/* The task id (unique within the owning node's incarnation). */
uint64_t fl_result_id(const fl_result *r);

/* The id of the node that ran the successful attempt ("" before). */
const char *fl_result_worker(const fl_result *r);

/* What is known of a workflow kept by another node (fl_node_result,
 * fl_node_result_state): its state, the worker last heard of, how many
 * leases its tasks had, and when it was handed over, first started and
 * ended (ms since 1970-01-01 UTC by the keeper's clock; 0: not (yet), or
 * unknown). */
typedef struct fl_result_info {
    fl_state state;
    const char *node;      /* valid while r lives; "" when none */
    uint32_t attempts;
    uint64_t submitted_ms, started_ms, ended_ms;
} fl_result_info;

/* Fill *info from r. For a handle on this node's own task or workflow,
 * node and attempts once it ended, and no times. */
void fl_result_get_info(const fl_result *r, fl_result_info *info);

void fl_result_free(fl_result *r);

/* ------------------------------------------------------------------ canvas */

/*
 * A workflow in Celery's Canvas vocabulary, built in C, parsed from the
 * `floret run` language, or given as canvas JSON (docs/canvas.md). Builders
 * take ownership of the canvases passed to them and accept NULL (then they
 * free the rest and return NULL), so calls nest without checks in between;
 * check the outer result once. A builder given invalid JSON returns a
 * canvas that fl_node_apply refuses with the reason (fl_canvas_error).
 */
typedef struct fl_canvas fl_canvas;

/* task(args..., kwargs): a partial signature; in a chain it receives the
 * previous result as its first argument. args: JSON array text or NULL,
 * kwargs: JSON object text or NULL. */
fl_canvas *fl_sig(const char *task, const char *args, const char *kwargs);

/* The same, immutable (Celery's .si): it ignores the previous result. */
fl_canvas *fl_sig_immutable(const char *task, const char *args,
                            const char *kwargs);

/* chain(a, b, ...): each step gets the previous result. NULL-terminated. */
fl_canvas *fl_chain(fl_canvas *first, ...);

/* group(a, b, ...): run in parallel; the result is the list, in order.
 * NULL-terminated. */
fl_canvas *fl_group(fl_canvas *first, ...);

/* The same from arrays of n canvases (each taken, the array is not). */
fl_canvas *fl_chain_of(fl_canvas **items, size_t n);
fl_canvas *fl_group_of(fl_canvas **items, size_t n);

/* chord(header, body): header is a group (or a list made with fl_group);
 * body receives the list of results. */
fl_canvas *fl_chord(fl_canvas *header, fl_canvas *body);

/* task.map(items): one task(item) per element, in parallel. items: JSON
 * array text. starmap: task(*item). chunks: tasks of n items each, each
 * applying task to its slice on one node; the result is a list of lists. */
fl_canvas *fl_map(const char *task, const char *items);
fl_canvas *fl_starmap(const char *task, const char *items);
fl_canvas *fl_chunks(const char *task, const char *items, size_t n);

/* Set options (retries, time limits, countdown, eta, expiry, route,
 * priority, rate limit) on every task of c that does not set its own.
 * Returns c. */
fl_canvas *fl_canvas_set(fl_canvas *c, const fl_call_options *opt);

/* Parse a `floret run` expression, e.g. "add(4,4) | mul(8)". NULL on a
 * syntax error: err gets the reason and *col (if not NULL) the byte offset. */
fl_canvas *fl_canvas_parse(const char *expr, char *err, size_t errlen,
                           size_t *col);

/* Wrap canvas JSON text (validated when applied). */
fl_canvas *fl_canvas_from_json(const char *json);

/* The canvas as JSON text (valid while c lives). */
const char *fl_canvas_json(const fl_canvas *c);

/* Why the canvas is invalid, or NULL. */
const char *fl_canvas_error(const fl_canvas *c);

/* Check c as fl_node_apply and a keeper will before running it (its
 * structure, options and depth), without a node: FL_OK, or FL_EINVAL with
 * the reason in err (the CanvasError text, e.g. "canvas.group[1]: expected
 * one of task, chain, ..."), FL_ENOMEM. */
fl_status fl_canvas_check(const fl_canvas *c, char *err, size_t errlen);

void fl_canvas_free(fl_canvas *c);

/* How many tasks c runs when none is retried: one per signature, one per
 * item of a map or starmap, one per slice of chunks; a chain that fails
 * early runs fewer. 0 for an invalid canvas. `floret run`'s progress line
 * counts to it. */
size_t fl_canvas_tasks(const fl_canvas *c);

/*
 * Run a workflow owned by this node. *out is its result handle: SUCCESS
 * with the workflow's value, or FAILURE naming the failed member. FL_OK,
 * FL_EINVAL (the log says which part is wrong), FL_ENOMEM, FL_ESTATE.
 */
fl_status fl_node_apply(fl_node *node, const fl_canvas *canvas,
                        fl_result **out);

/*
 * Revoke the task or workflow behind r, as Celery's AsyncResult.revoke():
 * tasks still queued at the owner are dropped; a task already leased is
 * dropped by its worker unrun; a running one is cancelled
 * (fl_task_cancelled turns true, fl_task_sleep returns early, a Lua task
 * stops at its next instruction hook), and its slot is free once it
 * returns; a node that runs tasks in processes of their own kills the
 * process instead. r ends REVOKED at once. For a handle from fl_node_result the
 * node that keeps the workflow is asked to revoke it, and r ends with its
 * answer (REVOKED, or the state it had already ended in). Call it while
 * r's node is running. FL_OK (wait on r to see it end), FL_ENOTFOUND when
 * r already ended, FL_EINVAL (r NULL), FL_ESTATE (no node).
 */
fl_status fl_result_revoke(fl_result *r);

/*
 * fl_result_revoke with Celery's terminate=True: a running task that does
 * not return when cancelled (stuck in one C call) is killed, where the
 * node runs it in a process of its own; on a node that runs tasks on
 * threads it stays cancelled, and its slot stays busy until it returns
 * (docs/protocol.md 3.13). Same statuses.
 */
fl_status fl_result_terminate(fl_result *r);

/* Room for a workflow id "OWNER:N" with its NUL. */
#define FL_REMOTE_ID_MAX 96

/*
 * Hand a workflow to the long-running node owner (NULL: the least loaded
 * online node with slots), which owns and runs it and keeps its result
 * after this node is gone (docs/protocol.md, `submit`). Waits up to
 * timeout_ms for the owner to accept it; then id (cap >= FL_REMOTE_ID_MAX)
 * holds "OWNER:N" for fl_node_result. FL_OK, FL_EINVAL (invalid canvas, or
 * the owner refused it; the log says why), FL_ENOTFOUND (no such node
 * online), FL_ETIMEDOUT, FL_ESTATE, FL_ENOMEM.
 */
fl_status fl_node_submit(fl_node *node, const char *owner,
                         const fl_canvas *canvas, uint32_t timeout_ms,
                         char *id, size_t cap);

/*
 * A handle on the workflow "OWNER:N" handed over earlier with
 * fl_node_submit (by any node). It ends with the workflow, at once if it
 * already ended and its owner still keeps the result, in FAILURE NotFound
 * if the owner does not know it, or OwnerLost if the owner goes offline.
 * Caller frees *out with fl_result_free. FL_OK, FL_EINVAL (not an id),
 * FL_ESTATE, FL_ENOMEM.
 */
fl_status fl_node_result(fl_node *node, const char *id, fl_result **out);

/*
 * Revoke "OWNER:N", a task or workflow that node OWNER owns: one handed
 * to it with fl_node_submit (`floret run --async`), or a task or workflow
 * another client owns and still runs (`floret status` and `floret events`
 * show its OWNER and id). terminate as in fl_result_terminate. The owner
 * answers, and *out (free it with fl_result_free) ends with the answer:
 * REVOKED when it was revoked now; the state N had already ended in
 * (an owner keeps ended workflows it was handed for a day, nothing
 * else); FAILURE NotFound (no such id there), UnknownKind (an owner
 * too old to know revoke) or OwnerLost (OWNER is offline). A node that
 * does not exist never answers: bound the wait. FL_OK, FL_EINVAL (not an
 * id OWNER:N), FL_ESTATE (node not running), FL_ENOMEM.
 */
fl_status fl_node_revoke(fl_node *node, const char *id, bool terminate,
                         fl_result **out);

/*
 * A handle that ends as soon as the keeper of "OWNER:N" answers with the
 * workflow's current state, whatever it is: PENDING (no task started yet),
 * STARTED, RETRY, or its end (then with its value or error, as
 * fl_node_result's); fl_result_get_info tells the rest. It ends in FAILURE
 * NotFound, UnknownKeeper (no such node, within a second) or OwnerLost as
 * fl_node_result's does. Same returns as fl_node_result.
 */
fl_status fl_node_result_state(fl_node *node, const char *id, fl_result **out);

/*
 * Clear what the broker keeps of node id, gone for good: its retained
 * presence and counters, with the empty retained messages MQTT clears
 * them with, so that every node forgets it (docs/protocol.md 3.1, what
 * `floret forget` does). It does not look whether id is online (see
 * fl_node_peers): clearing a live node's presence makes owners re-queue
 * what it runs. The node's MQTT user must be allowed to publish there (in
 * floret's ACL, the operator); a broker that refuses drops it silently.
 * FL_OK (handed to the broker; fl_node_stop sends what is queued), FL_EINVAL
 * (not a node id), FL_ESTATE (node not running).
 */
fl_status fl_node_forget(fl_node *node, const char *id);

/* ---------------------------------------------------------------- schedules */

/*
 * Periodic workflows (docs/schedules.md), Celery beat's job done by a
 * durable keeper: it starts `canvas` at every time `cron` names, each run
 * an ordinary kept workflow "KEEPER:N" (fl_node_result reads it), and
 * keeps the schedule in its journal across restarts. cron is five-field
 * cron in UTC ("30 9-17 * * mon-fri"), @hourly, @daily, @weekly,
 * @monthly, @yearly, or "@every 10s" (units s, m, h, d).
 *
 * Check cron without a cluster: FL_OK and, when next_ms is not NULL, the
 * first fire strictly after after_ms (ms since 1970 UTC; 0 in *next_ms:
 * never, as "0 0 30 2 *"); FL_EINVAL with the reason in err (errlen
 * bytes, may be NULL), naming the field: "cron field 2 (hour): 25 is out
 * of range 0-23".
 */
fl_status fl_schedule_check(const char *cron, uint64_t after_ms,
                            uint64_t *next_ms, char *err, size_t errlen);

/*
 * Ask keeper (NULL: the least loaded online durable keeper) to add the
 * schedule `name` (1 to 64 bytes of [A-Za-z0-9_.-]). *out ends with the
 * keeper's answer: SUCCESS with the schedule as a JSON object (name, cron,
 * canvas, keeper, client, added_ms, next_ms, runs),
 * or FAILURE: CronError, CanvasError, NotDurable (the keeper has no state
 * directory), Exists (remove it first), TooManySchedules, NotAKeeper,
 * UnknownKind (a keeper too old to know schedules), UnknownKeeper,
 * OwnerLost. FL_OK (wait on *out), FL_EINVAL (a bad name, cron or canvas;
 * the log says why), FL_ENOTFOUND (keeper NULL and no durable keeper
 * online), FL_ESTATE, FL_ENOMEM.
 */
fl_status fl_node_schedule_add(fl_node *node, const char *keeper,
                               const char *name, const char *cron,
                               const fl_canvas *canvas, fl_result **out);

/*
 * Ask keeper for its schedules: *out ends SUCCESS with a JSON object
 * {"keeper":ID,"now_ms":...,"schedules":[...]}, each schedule as
 * fl_node_schedule_add gives it plus, once it ran, last_id (the N of
 * its last run KEEPER:N), last_ms and last_state (while the keeper still
 * keeps that run); or FAILURE as for add. FL_OK, FL_EINVAL (keeper NULL
 * or invalid), FL_ESTATE, FL_ENOMEM.
 */
fl_status fl_node_schedule_list(fl_node *node, const char *keeper,
                                fl_result **out);

/*
 * Ask keeper to remove schedule `name`: no run starts after it; runs
 * already started go on. *out ends SUCCESS with the removed schedule, or
 * FAILURE NotFound (and the others of add). FL_OK, FL_EINVAL, FL_ESTATE,
 * FL_ENOMEM.
 */
fl_status fl_node_schedule_remove(fl_node *node, const char *keeper,
                                  const char *name, fl_result **out);

/* One node as last seen in the cluster's presence topics. */
typedef struct fl_peer {
    char id[72];
    bool online;
    int slots;
    int load;            /* tasks held (queued + running) */
    char runtime[16];
    char arch[32];
    char version[16];
    char tasks[1024];    /* comma-separated task names (truncated if long) */
    char tags[256];      /* comma-separated routing tags, "k=v,k2=v2" */
    char modules[256];   /* hot-deployed Lua modules, "name@version,..." */
    size_t max_msg;      /* largest message it accepts, bytes */
    bool keeper;         /* takes workflows handed over (floret run --async);
                            false: a worker-only node (a board) */
    bool durable;        /* a keeper with a journal (--state-dir): what it
                            keeps, schedules too, survives its restarts */
} fl_peer;

/*
 * Copy up to cap peers seen so far into peers; *n gets how many were copied.
 * Presence is retained, so a node started a moment ago already knows every
 * live node. FL_OK or FL_ESTATE (node not started).
 */
fl_status fl_node_peers(fl_node *node, fl_peer *peers, size_t cap, size_t *n);

/*
 * This node's own counters, as in the stats message it publishes
 * (docs/protocol.md 3.11), but read at any moment and without the broker:
 * what a program shows as progress. Totals count from fl_node_start.
 */
typedef struct fl_node_counters {
    /* As owner: tasks it submitted, alone or as members of a workflow
     * (a workflow itself is not counted here); how many of them ended
     * (succeeded, failed or revoked) and how many of those did not succeed. */
    uint64_t tasks_submitted;
    uint64_t tasks_finished;
    uint64_t tasks_failed;
    uint64_t workflows, workflows_finished; /* applied, and ended */
    uint32_t ready;     /* owned tasks waiting for a worker */
    uint32_t delayed;   /* waiting for a countdown or a retry delay */
    uint32_t leased;    /* held by a worker: running or queued there */
    uint64_t retried;   /* retries scheduled after a retryable error */
    uint64_t requeued;  /* leases that ended without an outcome (a worker
                         * lost, or its lease expired) and went back */
    uint64_t revoked;
    /* As worker (nodes with slots): outcomes of the tasks it ran, the time
     * they ran, and what it holds now. */
    uint64_t executed, succeeded, failed, busy_us;
    uint32_t queued, running;
} fl_node_counters;

/* Fill *out with the node's counters now. FL_OK, FL_EINVAL (NULL
 * argument) or FL_ESTATE (node not running). */
fl_status fl_node_counters_get(fl_node *node, fl_node_counters *out);

/* -------------------------------------------------------------- word count */

/*
 * The word count of `floret wordcount` (docs/wordcount.md), from C: the
 * inputs are cut at word boundaries into chunks, each chunk is a map task
 * on the cluster ("wc.map" with its bytes as the attachment, or, where a
 * node can read the same file, "wc.file" with a reference), and the
 * partial counts are merged here as they arrive. A word is a maximal run
 * of ASCII letters, ASCII digits and bytes >= 0x80, ASCII letters
 * lowercased: what `tr -cs 'A-Za-z0-9\200-\377' '\n' | tr A-Z a-z | sort
 * | uniq -c` counts.
 */
typedef struct fl_wordcount fl_wordcount;

/* How far a count is, for a progress bar. */
typedef struct fl_wordcount_progress {
    uint64_t bytes;       /* counted so far */
    uint64_t total_bytes; /* of every input, when size_known */
    bool size_known;      /* false when an input is a pipe */
    uint64_t chunks;      /* chunks merged so far */
    double elapsed_s;     /* since the first chunk went out */
} fl_wordcount_progress;

/* Called on the counting thread about every 0.1 s; return quickly. */
typedef void (*fl_wordcount_progress_fn)(void *ud, const fl_wordcount_progress *p);

typedef struct fl_wordcount_options {
    size_t min_length;  /* count only words of at least this many bytes;
                         * 0 or 1: every word */
    size_t chunk;       /* bytes per map task, at most 64 MiB; 0: from
                         * 16 MiB down to 1 MiB as the input runs out
                         * (4 MiB for a pipe) */
    bool locality;      /* offer nodes the file by reference (default
                         * true); a mapper given with map always gets the
                         * bytes */
    const char *map;    /* a deployed Lua task "MODULE.FN" that gets the
                         * chunk as its attachment and returns {word:
                         * count}; NULL: the native "wc.map" */
    bool verbose;       /* log fallbacks and split chunks (FL_LOG_INFO) */
    fl_wordcount_progress_fn progress; /* NULL: none */
    void *progress_ud;
} fl_wordcount_options;

/* Fill o with the defaults above. */
void fl_wordcount_options_init(fl_wordcount_options *o);

/*
 * Count the words of files[0..nfiles) ("-" is standard input; nfiles 0
 * counts standard input) on the cluster behind node, a started node
 * (a client with 0 slots is enough; the nodes that run wc.map do the
 * work). Blocks until the count is complete; caller frees *out with
 * fl_wordcount_free. FL_OK; FL_EINVAL (a bad option, named in err);
 * FL_EIO (an input could not be opened); FL_ETASK (a chunk failed for
 * good, or an input could not be read: err names the input, the chunk
 * and the error; there is never a wrong count); FL_ENOMEM. A cluster
 * where no node runs the map task makes it wait, logging a warning after
 * 15 s.
 */
fl_status fl_wordcount_files(fl_node *node, const char *const *files, size_t nfiles,
                             const fl_wordcount_options *o, fl_wordcount **out,
                             char *err, size_t errlen);

/* One word and its count. word is not NUL-terminated: len bytes. */
typedef struct fl_word {
    const char *word;
    size_t len;
    uint64_t count;
} fl_word;

/* Words counted (with repeats), and distinct words. */
uint64_t fl_wordcount_total(const fl_wordcount *wc);
size_t fl_wordcount_distinct(const fl_wordcount *wc);

/*
 * The n most frequent words (n 0: all), most frequent first, equal counts
 * in byte order of the word; *nout gets how many (fewer when there are
 * fewer words). Caller frees *out with fl_free; the words point into wc.
 * FL_OK or FL_ENOMEM.
 */
fl_status fl_wordcount_top(const fl_wordcount *wc, size_t n, fl_word **out,
                           size_t *nout);

/* Every word in byte order, as `sort | uniq -c` lists them. Same rules
 * as fl_wordcount_top. */
fl_status fl_wordcount_sorted(const fl_wordcount *wc, fl_word **out, size_t *nout);

/* What a count did. */
typedef struct fl_wordcount_stats {
    uint64_t bytes;          /* bytes counted */
    uint64_t chunks;         /* map tasks merged = read_by_nodes + sent */
    uint64_t read_by_nodes;  /* ... counted by a node from its own copy */
    uint64_t sent;           /* ... whose bytes crossed the broker */
    uint64_t fallbacks;      /* references a node could not use, then sent */
    double elapsed_s;        /* from the first chunk to the last merge */
    size_t nodes;            /* nodes that ran its tasks (fl_wordcount_node) */
} fl_wordcount_stats;

void fl_wordcount_get_stats(const fl_wordcount *wc, fl_wordcount_stats *st);

/* Node i (0 .. stats.nodes-1) in the order it first answered, and in
 * *tasks (if not NULL) how many map tasks it ran; NULL when i is out of
 * range. Valid while wc lives. */
const char *fl_wordcount_node(const fl_wordcount *wc, size_t i, uint64_t *tasks);

/* Free a count (NULL is fine). */
void fl_wordcount_free(fl_wordcount *wc);

/* ---------------------------------------------------------------- control */

/*
 * Hot-deployed Lua modules and remote shutdown (docs/protocol.md 3.9):
 * control messages signed with an Ed25519 key that the nodes trust
 * (`floret node --trust PREFIX.pub`). This is what `floret keygen`,
 * `floret deploy`, `floret undeploy` and `floret shutdown` do.
 */

/* A signing key (PREFIX.key: both halves) or a public key (PREFIX.pub).
 * Opaque; the secret half is wiped when freed. */
typedef struct fl_key fl_key;

/*
 * Make a new key pair and write PREFIX.key (the secret key, mode 0600)
 * and PREFIX.pub, overwriting neither. FL_OK, FL_EEXIST (a file is
 * there), FL_EIO (err says why: a directory missing, libsodium not
 * starting), FL_EINVAL (prefix NULL or empty).
 */
fl_status fl_key_generate(const char *prefix, char *err, size_t errlen);

/*
 * Read a .key or .pub file written by fl_key_generate. Caller frees *out
 * with fl_key_free. FL_OK, FL_EIO (cannot read it) or FL_EINVAL (not a
 * key file), each with the reason in err; FL_ENOMEM.
 */
fl_status fl_key_load(const char *path, fl_key **out, char *err, size_t errlen);

/* True when key holds the secret half, so it can sign. */
bool fl_key_can_sign(const fl_key *key);

/* The key's id as messages carry it: 16 lowercase hex digits. */
const char *fl_key_id(const fl_key *key);

/* Wipe and free a key (NULL is fine). */
void fl_key_free(fl_key *key);

/* The longest module name, and the largest module source a node takes. */
#define FL_MODULE_NAME_MAX 32
#define FL_MODULE_SOURCE_MAX (1024u * 1024u)

/* True when name can name a module: 1..FL_MODULE_NAME_MAX bytes of
 * A-Z a-z 0-9 _ - (no dot: a module's tasks are MODULE.fn). */
bool fl_module_name_valid(const char *name);

/*
 * Check a Lua module as a node will before it loads it: in the same
 * sandbox, with a node's default limits, its top-level code in a child
 * process that is killed after 5 s. On FL_OK, *tasks (if not NULL) gets
 * its task names "name.fn,name.fn2" (caller frees with fl_free).
 * FL_EINVAL (the module's own error, or a bad name), FL_ETIMEDOUT, FL_EIO,
 * FL_ENOMEM, each with the reason in err.
 */
fl_status fl_module_check(const char *name, const char *src, size_t len,
                          char **tasks, char *err, size_t errlen);

typedef enum fl_control_kind {
    FL_CONTROL_DEPLOY,   /* load source as module target on every node */
    FL_CONTROL_UNDEPLOY, /* drop module target from every node */
    FL_CONTROL_SHUTDOWN  /* stop node target, or every node for "*" */
} fl_control_kind;

/* One control message to send (fl_node_control). */
typedef struct fl_control {
    fl_control_kind kind;
    const char *target;      /* the module, or the node id or "*" */
    const char *source;      /* deploy: the Lua source (not NUL-terminated) */
    size_t source_len;
    const fl_key *key;       /* signs it; NULL sends it unsigned (only nodes
                              * that allow unsigned control accept it) */
    uint32_t timeout_ms;     /* how long to wait for answers; 0 = 5000 */
    char version[16];        /* out, deploy: the version the nodes list */
} fl_control;

/* How a node answered. */
typedef enum fl_answer {
    FL_ANSWER_NONE,     /* none within the timeout (a node too old to
                         * answer, a board without control, or gone) */
    FL_ANSWER_ACCEPTED,
    FL_ANSWER_REFUSED   /* reason says why */
} fl_answer;

typedef struct fl_control_answer {
    char node[72];
    fl_answer answer;
    char reason[512];   /* refused: the node's reason; none: why none */
} fl_control_answer;

/*
 * Send c on the cluster's control topics and wait up to c->timeout_ms for
 * the answer of each node it is for: every online node with slots, or
 * the node a shutdown names (answered "not online" when it is not). It
 * returns as soon as all have answered. Deploys and undeploys are
 * retained, so nodes that join later get them too (and answer then, to
 * nobody). Up to cap answers go to answers, sorted by node id; *n gets
 * how many. The node's MQTT user must be allowed to publish control
 * (docs/security.md); a broker that drops the message leaves every node
 * FL_ANSWER_NONE. One call at a time per node. FL_OK (whatever the
 * nodes answered), FL_EINVAL (a bad target, a source too big, a key
 * without its secret half; the log says which), FL_ESTATE (node not
 * running, or another call under way), FL_ENOMEM, FL_EIO (libsodium).
 */
fl_status fl_node_control(fl_node *node, fl_control *c,
                          fl_control_answer *answers, size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* FLORET_H */
