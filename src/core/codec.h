/*
 * codec.h - floret's wire messages (docs/protocol.md) in and out.
 *
 * Decoding turns an untrusted MQTT payload into an fl_msg whose every field
 * has been type-checked; a bad payload gets FL_EPROTO/FL_ETOOBIG and a
 * one-line reason naming the field. Encoding is a small JSON writer that
 * appends the optional binary attachment after a NUL byte.
 *
 * The only files that touch cJSON are codec.c and value.c (codec_fast.c
 * reads the text itself).
 * A compressed attachment (members bin_z and bin_raw) is decoded with the
 * codecs the caller passes (zcodec.h) and written with the one the sender
 * picked for its receiver (fl__jw_compress); codec_z.c holds that part.
 * Depends on buf.h, alloc.h, defaults.h, zcodec.h and the public header.
 */
#ifndef FL_CODEC_H
#define FL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "defaults.h"
#include "floret/floret.h"
#include "zcodec.h"

typedef enum fl_kind {
    FL_KIND_PRESENCE,
    FL_KIND_WORK,
    FL_KIND_FETCH,
    FL_KIND_LEASE,
    FL_KIND_DONE,
    FL_KIND_EXTEND,
    FL_KIND_RELEASE,
    FL_KIND_ERROR,
    FL_KIND_SUBMIT,
    FL_KIND_SUBMITTED,
    FL_KIND_QUERY,
    FL_KIND_RESULT,
    FL_KIND_CHECK,
    FL_KIND_HOLDING,
    FL_KIND_WATCH,  /* a monitor asks for task events (observe.c) */
    FL_KIND_STATS,  /* written only: a node's counters */
    FL_KIND_EVENTS, /* written only: a batch of task events */
    FL_KIND_PING,
    FL_KIND_PONG,
    FL_KIND_REVOKE, /* stop tasks (owner -> worker) or a kept workflow */
    FL_KIND_STARTED, /* worker -> owner: these tasks began to run */
    FL_KIND_SCHEDULE, /* client -> keeper: add, list or remove schedules */
    FL_KIND_ANSWER   /* node -> sender of a control message: accepted or not */
} fl_kind;

/* The protocol's name of a kind ("fetch", ...). */
const char *fl__kind_name(fl_kind k);

/* One task inside a lease. Strings and values are owned by the fl_msg; a
 * consumer may take args/kwargs by setting the pointer to NULL. att points
 * into the payload the message was decoded from. */
typedef struct fl_msg_task {
    uint64_t id;
    uint32_t attempt;
    uint32_t time_limit_ms;   /* 0 = none */
    uint32_t soft_time_limit_ms; /* 0 = none */
    uint32_t rate_us;         /* from `rate_limit`: time between two starts
                               * of this name on a worker (at most 3.6e9);
                               * 0 = no limit */
    char *name;
    fl_value *args;           /* always an array */
    fl_value *kwargs;         /* always an object */
    const uint8_t *att;
    size_t att_len;
} fl_msg_task;

/* One outcome inside a done. */
typedef struct fl_msg_result {
    uint64_t id;
    uint32_t attempt;
    bool ok;
    fl_value *value;          /* ok: any JSON value (owned, may be taken) */
    const uint8_t *att;       /* ok: optional attachment (into the payload) */
    size_t att_len;
    char *err_type;           /* !ok */
    char *err_message;        /* !ok */
    bool retryable;           /* !ok */
    uint64_t run_us;          /* optional `us`: how long it ran (0: absent) */
} fl_msg_result;

typedef struct fl_msg {
    fl_kind kind;
    char *from;               /* sender node id */
    uint64_t inc;             /* sender incarnation (0 if absent) */
    bool has_mid;
    uint64_t mid;             /* optional message id, echoed in errors */

    /* fetch, lease */
    uint64_t fid;
    /* fetch */
    uint32_t credit;
    /* fetch, presence: the largest payload the sender accepts (0: absent,
     * which means FL_DEFAULT_MAX_MESSAGE) */
    uint64_t max_msg;
    /* fetch: the worker's measured round trip, us (0: absent) */
    uint64_t rtt_us;
    /* lease; watch: how long to send events */
    uint32_t ttl_ms;
    /* lease: the owner wants `started` for its tasks (track_started) */
    bool track_started;
    fl_msg_task *tasks;
    size_t ntasks;
    /* done */
    fl_msg_result *results;
    size_t nresults;
    /* extend, release, check, holding */
    uint64_t *ids;
    size_t nids;
    /* check, holding (the check answered; has_cid false on a reconnect) */
    bool has_cid;
    uint64_t cid;
    /* holding: checked ids the worker does not hold */
    uint64_t *missing;
    size_t nmissing;
    /* work */
    uint64_t pending;
    /* presence */
    bool online;
    uint32_t slots;
    uint32_t load;
    char *runtime, *arch, *version;
    char **task_names;
    size_t ntask_names;
    bool has_tasks;           /* a `tasks` member was present (even empty) */
    bool keeper;              /* takes workflows handed over (absent: true) */
    char **tags;              /* "key=value" */
    size_t ntags;
    char **modules;           /* "module@version" */
    size_t nmodules;
    char **znames;            /* `z`: the codecs it decodes ("zstd") */
    size_t nznames;
    /* revoke: ids (nids > 0) are tasks the sender leased to us; else
     * wid (and rid) is a task or workflow we own that the sender wants
     * revoked. terminate: kill it if it cannot stop (protocol.md 3.13). */
    bool terminate;
    bool durable;             /* a keeper that journals what it keeps */
    /* submit, submitted, query, result, revoke: the client's request id */
    uint64_t rid;
    /* submitted, query, result, revoke: the workflow's id at its owner */
    uint64_t wid;
    /* submit */
    fl_value *canvas;         /* always an object */
    /* query: answer at once with the current state */
    bool now;
    /* result */
    char *state;              /* a state name: "SUCCESS", ... "PENDING" */
    fl_value *value;          /* SUCCESS: any JSON value (may be NULL);
                               * schedule: the whole message (schedule.c
                               * reads its members) */
    char *node;               /* optional: the worker last heard of */
    uint32_t attempts;        /* optional: leases of its tasks so far */
    uint64_t submitted_ms, started_ms, ended_ms; /* optional wall times */
    /* error (and result when not SUCCESS) */
    bool has_re;
    uint64_t re;
    char *err_type;
    char *err_message;
    /* A compressed attachment decoded: att pointers point into it. */
    uint8_t *zbuf;
} fl_msg;

/* What can be read of a payload that does not decode: where an error reply
 * goes and what it carries. */
typedef struct fl_msg_head {
    char from[FL_MAX_ID_BUF]; /* the sender's id; "" when unreadable */
    bool has_mid;
    uint64_t mid;             /* echoed as "re" */
    bool is_error;            /* kind "error": never answered */
    bool unknown_kind;        /* a kind that names no kind: UnknownKind */
} fl_msg_head;

/*
 * Decode payload (len bytes, at most max_message) into a new message the
 * caller frees with fl__msg_free. On failure returns FL_EPROTO (malformed),
 * FL_ETOOBIG (over a limit) or FL_ENOMEM, writes a one-line reason into err
 * (naming the field: "tasks[2].args: expected an array") and, when the
 * sender could be read, copies its id into from_out (errlen/fromlen bytes).
 */
fl_status fl__decode(const void *payload, size_t len, size_t max_message,
                     fl_msg **out, char *err, size_t errlen,
                     char *from_out, size_t fromlen);

void fl__msg_free(fl_msg *m);

/* fl__decode that also fills *head (never NULL), on failure too: the
 * sender, the mid and the kind's class when the payload parsed as JSON;
 * and decodes a compressed attachment with a codec of z (NULL: none, so a
 * compressed one is refused naming its codec). The decoded attachment is
 * at most max_message bytes, whatever it claims (docs/security.md). */
fl_status fl__decode_msg(const void *payload, size_t len, size_t max_message,
                         const fl_zset *z, fl_msg **out, char *err,
                         size_t errlen, fl_msg_head *head);

/*
 * The head of a payload too big to decode (codec_head.c): the top-level
 * "from", "mid" and "kind" of its JSON text, found by skipping over the
 * other members without building anything, within its first
 * FL_HEAD_SCAN_BYTES. Fills what it finds (a from that is not a valid id
 * stays ""), and sets is_error unless a "kind" other than "error" was read,
 * so that a reply goes only where it cannot start a loop of errors.
 */
void fl__scan_head(const void *payload, size_t len, fl_msg_head *head);

/* fl__decode without its fast path: always the cJSON tree. For the tests
 * that hold the two decoders to the same result. */
fl_status fl__decode_tree(const void *payload, size_t len, size_t max_message,
                          fl_msg **out, char *err, size_t errlen,
                          char *from_out, size_t fromlen);

/*
 * The fast path of fl__decode for a `lease` or `done` as floret writes it
 * (codec_fast.c): json is the text before the NUL byte (len bytes), att
 * the attachment after it. FL_OK with a new message in *out (the caller
 * frees it with fl__msg_free) when the message is in the plain subset it
 * reads; FL_ENOMEM; FL_EPROTO when the general decoder must read it, which
 * alone says what is wrong.
 */
fl_status fl__decode_fast(const char *json, size_t len, const uint8_t *att,
                          size_t att_len, bool has_nul, fl_msg **out);

/* True when s is a valid node id / task name / cluster name:
 * 1..FL_MAX_ID bytes of [A-Za-z0-9_.-]. */
bool fl__valid_id(const char *s);

/* A routing tag: "k=v" (n bytes) with k and v of [A-Za-z0-9_.-], e.g.
 * "arch=esp32". */
bool fl__valid_tag(const char *s, size_t n);
/* A comma-separated list of valid tags that fits FL_TAGS_BUF. */
bool fl__valid_tags(const char *list);
/* A task filter (fl_node_options.tasks): entries "name" or "module.*",
 * comma-separated (peers.c). */
bool fl__valid_task_filter(const char *list);

/* Validate JSON text: parses, within FL_MAX_DEPTH, and (when want >= 0) of
 * type want (an fl_type). Used for args/kwargs given by a local caller.
 * FL_OK, FL_EINVAL with a reason in err ("expected an array, got object"),
 * FL_ETOOBIG (over FL_DEFAULT_MAX_MESSAGE) or FL_ENOMEM. */
fl_status fl__check_json(const char *json, size_t len, int want,
                         char *err, size_t errlen);

/* Point cJSON's allocation hooks at the fl_set_allocator hook; called by
 * fl_set_allocator (value.c). */
void fl__json_hooks_update(void);

/*
 * Parse len bytes of JSON text, at most max bytes (0: FL_DEFAULT_MAX_MESSAGE),
 * nested at most FL_MAX_DEPTH, strictly UTF-8, with no number beyond the
 * range of a double. The one parser behind fl_value_parse, fl__check_json
 * and fl__decode (value.c). FL_OK, FL_ETOOBIG, FL_EINVAL (*why gets a
 * static reason) or FL_ENOMEM.
 */
fl_status fl__json_parse(const char *json, size_t len, size_t max,
                         fl_value **out, const char **why);

/* True when json (len bytes) is one JSON value in a plain subset: ASCII
 * strings without escapes, integers of up to 15 digits, literals, arrays
 * and objects of those nested at most FL_MAX_DEPTH. Such text is valid for
 * fl__json_parse too; false says nothing either way. *type gets the
 * value's fl_type. Allocates nothing (codec_fast.c). */
bool fl__json_plain(const char *json, size_t len, int *type);

/* fl__json_parse's guard pass alone (nesting, control characters and
 * UTF-8 in strings): NULL when the text passes, else the reason. */
const char *fl__json_guard(const char *json, size_t len);

/* NULL when json is nested at most limit levels (arrays and objects),
 * else "nested N levels deep, over the limit of L" (valid until the next
 * call on this thread). Text that is not JSON is for the parser to refuse. */
const char *fl__json_depth_check(const char *json, size_t len, unsigned limit);

/* ----------------------------------------------------------- the writer */

/*
 * A JSON writer with automatic commas for building outgoing messages.
 * Keys are trusted literals; string values are escaped. Attachments are
 * referenced as [offset, length] and copied only once, behind the JSON,
 * when the message is finished: their bytes must stay put until then.
 * Errors are sticky (see buf.h); fl__jw_finish reports them.
 */
typedef struct fl_jw {
    fl_buf json;
    fl_buf bin;       /* the attachments: (pointer, length) pairs */
    size_t bin_len;   /* their total length */
    unsigned depth;
    uint64_t need_comma;  /* bit d: depth d already has a member */
    const fl_zcodec *z;   /* compress the attachment with it (fl__jw_compress) */
    fl_buf zout;          /* the compressed attachment */
} fl_jw;

void fl__jw_init(fl_jw *w);
void fl__jw_free(fl_jw *w);
void fl__jw_reset(fl_jw *w);

/* Start a message: {"v":1,"kind":K,"from":F,"inc":I */
void fl__jw_begin_msg(fl_jw *w, fl_kind kind, const char *from, uint64_t inc);

/* key is NULL inside arrays. */
void fl__jw_obj(fl_jw *w, const char *key);
void fl__jw_arr(fl_jw *w, const char *key);
void fl__jw_end_obj(fl_jw *w);
void fl__jw_end_arr(fl_jw *w);
void fl__jw_u64(fl_jw *w, const char *key, uint64_t v);
void fl__jw_bool(fl_jw *w, const char *key, bool v);
void fl__jw_null(fl_jw *w, const char *key);
void fl__jw_str(fl_jw *w, const char *key, const char *s);
void fl__jw_strn(fl_jw *w, const char *key, const char *s, size_t n);
/* json must be valid JSON text (checked by the caller). */
void fl__jw_raw(fl_jw *w, const char *key, const char *json, size_t n);
void fl__jw_value(fl_jw *w, const char *key, const fl_value *v);
/* Writes "key":[offset,len] for data, which is appended to the message's
 * binary part by fl__jw_finish: data must not change or be freed before
 * then. */
void fl__jw_att(fl_jw *w, const char *key, const void *data, size_t len);
/* fl__jw_att for data with room writable bytes in front of it (in the
 * same block): when it is the message's only attachment and the JSON
 * text fits there, fl__jw_finish lays the payload out in place, writing
 * over those bytes, instead of copying data. */
void fl__jw_att_room(fl_jw *w, const char *key, uint8_t *data, size_t len,
                     size_t room);

/* Finish this message with its attachment compressed by z (NULL: not),
 * when it is at least FL_Z_MIN_BYTES and z shrinks it by at least 1/16;
 * otherwise it goes as it is. Reset by fl__jw_reset. */
void fl__jw_compress(fl_jw *w, const fl_zcodec *z);

/* Bytes the payload would have if finished now (for batch limits). */
size_t fl__jw_size(const fl_jw *w);

/*
 * Close the top-level object (adding "bin":N when there is an attachment)
 * and lay out the payload: JSON text, then, if any attachment, one NUL byte
 * and the attachment. *payload and *len point into w (valid until the next
 * reset), or, for a lone attachment with room (fl__jw_att_room), into the
 * attachment's block. FL_OK, FL_ENOMEM or FL_EINVAL (a NaN or unbalanced
 * writer).
 */
fl_status fl__jw_finish(fl_jw *w, const void **payload, size_t *len);

#endif
