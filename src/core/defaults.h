/*
 * defaults.h - every limit and timing of the core, each overridable at build
 * time (-DFL_...=value). Documented in docs/protocol.md ("Limits").
 * Depends on nothing.
 */
#ifndef FL_DEFAULTS_H
#define FL_DEFAULTS_H

/* 1: the core is entered from several threads at once (the POSIX port
 * runs tasks on an executor pool, and tasks parse JSON and share the word
 * count tables kept between them), so that state is thread-local or
 * atomic. 0: one thread, as on a board's single loop; the core then needs
 * neither _Thread_local nor C11 atomics (which pull in libatomic on some
 * targets). */
#ifndef FL_THREADS
#ifdef FL_PROFILE_SMALL
#define FL_THREADS 0
#else
#define FL_THREADS 1
#endif
#endif

/* Largest MQTT payload a node accepts or sends (bytes). */
#ifndef FL_DEFAULT_MAX_MESSAGE
#define FL_DEFAULT_MAX_MESSAGE (8u * 1024u * 1024u)
#endif

/* Deepest JSON nesting accepted anywhere in a message. */
#ifndef FL_MAX_DEPTH
#define FL_MAX_DEPTH 32
#endif

/* Longest node id, task name and cluster name (bytes). */
#ifndef FL_MAX_ID
#define FL_MAX_ID 64
#endif
#define FL_MAX_ID_BUF (FL_MAX_ID + 1)

/* Longest error type / error message carried in a result (bytes). */
#ifndef FL_MAX_ERROR_TYPE
#define FL_MAX_ERROR_TYPE 64
#endif
#ifndef FL_MAX_ERROR_MESSAGE
#define FL_MAX_ERROR_MESSAGE 1024
#endif

/* Most tasks in one lease message, results in one done message, ids in one
 * extend or release message. */
/* Outcomes wait (at most FL_DONE_LINGER_US, at most FL_DONE_BATCH of
 * them) while more of the worker's queued tasks are about to finish, so
 * that one `done` carries many: fewer messages through the broker. With
 * nothing queued they go at once, so a lone task pays no delay. */
#ifndef FL_DONE_LINGER_US
#define FL_DONE_LINGER_US 1000u
#endif
#ifndef FL_DONE_BATCH
#define FL_DONE_BATCH 256u
#endif

#ifndef FL_MAX_BATCH
#define FL_MAX_BATCH 512
#endif

/* Bytes kept free in front of a task's attachment, in the same block: a
 * lease that carries the attachment alone is written into them (its JSON
 * text and the NUL byte) and sent from there, instead of being copied
 * behind its JSON (word-count chunks are 4 MiB each). A larger header
 * falls back to the copy. Only attachments of FL_ATT_ROOM_FROM bytes or
 * more get the room: copying a small one costs less than 1 KiB more for
 * every task queued (a small board queues many). */
#ifndef FL_ATT_ROOM
#define FL_ATT_ROOM 1024u
#endif
#ifndef FL_ATT_ROOM_FROM
#define FL_ATT_ROOM_FROM (64u * 1024u)
#endif

/* A lease not extended within this many ms expires (owner side). */
#ifndef FL_DEFAULT_LEASE_TTL_MS
#define FL_DEFAULT_LEASE_TTL_MS 30000u
#endif

/* Workers extend their leases this often (a third of the ttl by default). */
#define FL_EXTEND_DIVISOR 3

/* An owner with pending work and nobody parked re-announces this often. */
#ifndef FL_ANNOUNCE_MS
#define FL_ANNOUNCE_MS 1000u
#endif

/* A worker re-sends a fetch it has not seen answered within this long, so a
 * lost fetch or a restarted broker only delays work. */
#ifndef FL_FETCH_REFRESH_MS
#define FL_FETCH_REFRESH_MS 5000u
#endif

/* Default number of runs allowed per task, counting worker loss. */
#ifndef FL_DEFAULT_MAX_ATTEMPTS
#define FL_DEFAULT_MAX_ATTEMPTS 5u
#endif

/* Retry backoff: base * 2^(retry-1), capped, with full jitter in [d/2, d]. */
#ifndef FL_RETRY_BASE_MS
#define FL_RETRY_BASE_MS 200u
#endif
#ifndef FL_RETRY_CAP_MS
#define FL_RETRY_CAP_MS 60000u
#endif

/* Adaptive credit: a worker asks for enough tasks to cover a round trip,
 * never more than this many held at once. */
#ifndef FL_MAX_CREDIT
#define FL_MAX_CREDIT 1024u
#endif

/* How many finished (owner, incarnation, id, attempt) a worker remembers to
 * drop duplicated leases. */
#ifndef FL_DEDUPE_WINDOW
#define FL_DEDUPE_WINDOW 8192u
#endif

/* Presence (load) is republished at most this often. */
/* How long, and how many, ended workflows a node keeps for the clients
 * that handed them over with `submit` (docs/protocol.md). */
#ifndef FL_KEEP_RESULTS_S
#define FL_KEEP_RESULTS_S 3600u
#endif
#ifndef FL_KEEP_RESULTS_MAX
#define FL_KEEP_RESULTS_MAX 1000u
#endif

/* Word count tables (src/tasks) kept between map tasks, and the largest
 * kept: the next chunk finds most of its words in place. At least 1. */
#ifndef FL_WC_KEPT
#define FL_WC_KEPT 8
#endif
#ifndef FL_WC_KEEP_BYTES
#define FL_WC_KEEP_BYTES ((size_t)8 << 20)
#endif

/* Room for a node's routing tags, "k=v,k2=v2" (fl_peer.tags). */
#define FL_TAGS_BUF 256

#ifndef FL_PRESENCE_MS
#define FL_PRESENCE_MS 2000u
#endif

#endif
