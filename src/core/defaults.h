/*
 * defaults.h - every limit and timing of the core, each overridable at build
 * time (-DFL_...=value). Documented in docs/protocol.md ("Limits") and, for
 * the small profile, docs/architecture.md ("Small profile").
 *
 * Two profiles: the default one is for hosted nodes (a Pi, a server); with
 * FL_PROFILE_SMALL defined, every limit that sizes memory gets a value for
 * a one-slot worker accepting 8 KiB messages on a board with 64 KiB of RAM
 * to spare. Each limit below says "default / small". A limit that is part
 * of the wire contract (ids, error sizes, entries per message, credit a
 * fetch may ask) is the same in both, so a board stays a conforming peer;
 * what a board needs less of is its own: the message size it accepts and
 * advertises, what it holds and what it remembers.
 * Depends on nothing.
 */
#ifndef FL_DEFAULTS_H
#define FL_DEFAULTS_H

/* FL__PICK(default, small): the value of the profile being built. */
#ifdef FL_PROFILE_SMALL
#define FL__PICK(big, small) (small)
#else
#define FL__PICK(big, small) (big)
#endif

/* 1: the core is entered from several threads at once (the POSIX port
 * runs tasks on an executor pool, and tasks parse JSON and share the word
 * count tables kept between them), so that state is thread-local or
 * atomic. 0: one thread, as on a board's single loop; the core then needs
 * neither _Thread_local nor C11 atomics (which pull in libatomic on some
 * targets). 1 / 0. */
#ifndef FL_THREADS
#ifdef FL_PROFILE_SMALL
#define FL_THREADS 0
#else
#define FL_THREADS 1
#endif
#endif

/* 1: JSON numbers that are not integers are written by fl__dtoa
 * (src/core/dtoa.c), the shortest text that reads back, with no printf
 * floating point (newlib-nano has none unless linked in). 0: by snprintf
 * ("%.15g", else "%.17g"), which measured faster on a host. 0 / 1. */
#ifndef FL_PORTABLE_DTOA
#define FL_PORTABLE_DTOA FL__PICK(0, 1)
#endif

/* Largest MQTT payload a node accepts or sends (bytes); a node's
 * max_message setting overrides it at run time. 8 MiB / 8 KiB. */
#ifndef FL_DEFAULT_MAX_MESSAGE
#define FL_DEFAULT_MAX_MESSAGE FL__PICK(8u * 1024u * 1024u, 8u * 1024u)
#endif

/* Deepest JSON nesting accepted anywhere in a message: it bounds the
 * recursion of the parser and writers, so the stack. A plain number (it
 * is spelled in error messages). 32 / 16. */
#ifndef FL_MAX_DEPTH
#ifdef FL_PROFILE_SMALL
#define FL_MAX_DEPTH 16
#else
#define FL_MAX_DEPTH 32
#endif
#endif

/* Deepest canvas JSON (docs/canvas.md): a workflow handed to a keeper
 * travels as the "canvas" member of a submit message, one level below the
 * message's own, so one level less than FL_MAX_DEPTH; every way in (the
 * expression parser, fl_node_apply, fl_node_submit) holds to the same. */
#define FL_MAX_CANVAS_DEPTH (FL_MAX_DEPTH - 1)

/* Deepest task arguments (the args array itself is a level), kwargs and
 * results: a lease carries args three levels down (the message, its tasks
 * array, the task), a done a value three levels down (the message, its
 * results, the entry), so three less than FL_MAX_DEPTH. Checked where they
 * are given (fl_node_call, submit, a canvas step, a task's return), since
 * a lease or done over the limit would be refused by its receiver. */
#define FL_MAX_ARG_DEPTH (FL_MAX_DEPTH - 3)

/* Longest node id, task name and cluster name (bytes). Wire limit: 64. */
#ifndef FL_MAX_ID
#define FL_MAX_ID 64
#endif
#define FL_MAX_ID_BUF (FL_MAX_ID + 1)

/* Longest error type / error message carried in a result (bytes). Wire
 * limits: 64 / 1024 in both profiles (a message is allocated at its own
 * length, so the limit costs nothing until used). */
#ifndef FL_MAX_ERROR_TYPE
#define FL_MAX_ERROR_TYPE 64
#endif
#ifndef FL_MAX_ERROR_MESSAGE
#define FL_MAX_ERROR_MESSAGE 1024
#endif

/* Outcomes wait (at most FL_DONE_LINGER_US, at most FL_DONE_BATCH of
 * them) while more of the worker's queued tasks are about to finish, so
 * that one `done` carries many: fewer messages through the broker. With
 * nothing queued they go at once, so a lone task pays no delay.
 * 1000 us in both; 256 / 8 outcomes. */
#ifndef FL_DONE_LINGER_US
#define FL_DONE_LINGER_US 1000u
#endif
#ifndef FL_DONE_BATCH
#define FL_DONE_BATCH FL__PICK(256u, 8u)
#endif

/* Room for outcomes the worker's outbox starts with (it doubles when
 * full; one entry is about 200 bytes). 64 / 4. */
#ifndef FL_OUTBOX_START
#define FL_OUTBOX_START FL__PICK(64u, 4u)
#endif

/* Most tasks in one lease message, results in one done message, ids in one
 * extend or release message. Wire limit: 512 in both profiles; what a
 * message holds is bounded by the message size first, and decoded arrays
 * grow with the entries really there. */
#ifndef FL_MAX_BATCH
#define FL_MAX_BATCH 512
#endif

/* Bytes kept free in front of a task's attachment, in the same block: a
 * lease that carries the attachment alone is written into them (its JSON
 * text and the NUL byte) and sent from there, instead of being copied
 * behind its JSON (word-count chunks are 4 MiB each). A larger header
 * falls back to the copy. Only attachments of FL_ATT_ROOM_FROM bytes or
 * more get the room: copying a small one costs less than 1 KiB more for
 * every task queued (a small board queues many). 1024 / 256 bytes of room,
 * from 64 KiB / 64 KiB (so never under the small profile's 8 KiB
 * messages). */
#ifndef FL_ATT_ROOM
#define FL_ATT_ROOM FL__PICK(1024u, 256u)
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

/* Most credit a fetch may carry (an owner refuses more). Wire limit: 1024
 * in both profiles. */
#ifndef FL_MAX_CREDIT
#define FL_MAX_CREDIT 1024u
#endif

/* Adaptive credit: a worker asks for enough tasks to cover a round trip,
 * never more than this many held at once (each held task keeps its
 * decoded arguments). At most FL_MAX_CREDIT. 1024 / 8. */
#ifndef FL_WORKER_MAX_CREDIT
#define FL_WORKER_MAX_CREDIT FL__PICK(FL_MAX_CREDIT, 8u)
#endif

/* How many finished (owner, incarnation, id, attempt) a worker remembers to
 * drop duplicated leases; the filter takes 16 bytes per entry (for a power
 * of two), allocated once at the first lease and never grown: 128 KiB / 4
 * KiB. 8192 / 256. */
#ifndef FL_DEDUPE_WINDOW
#define FL_DEDUPE_WINDOW FL__PICK(8192u, 256u)
#endif

/* How long, and how many, ended workflows a node keeps for the clients
 * that handed them over with `submit` (docs/protocol.md): a day, as
 * Celery's result_expires, in both; 10000 / 16 workflows. */
#ifndef FL_KEEP_RESULTS_S
#define FL_KEEP_RESULTS_S 86400u
#endif
/* Periodic workflows a keeper keeps (schedule.c), and the largest canvas
 * of one, so that a `list` answer stays within FL_DEFAULT_MAX_MESSAGE. */
#ifndef FL_MAX_SCHEDULES
#define FL_MAX_SCHEDULES 256u
#endif
#ifndef FL_SCHED_MAX_CANVAS
#define FL_SCHED_MAX_CANVAS 16384u
#endif

#ifndef FL_KEEP_RESULTS_MAX
#define FL_KEEP_RESULTS_MAX FL__PICK(10000u, 16u)
#endif

/* A worker reports a task `started` once it has run this long (us): the
 * outcome of a quicker one says it all (docs/protocol.md 3.14). */
#ifndef FL_STARTED_AFTER_US
#define FL_STARTED_AFTER_US 1000u
#endif

/* Word count tables (src/tasks) kept between map tasks, and the largest
 * kept: the next chunk finds most of its words in place. At least 1.
 * 8 / 1 tables, 8 MiB / 16 KiB. */
#ifndef FL_WC_KEPT
#define FL_WC_KEPT FL__PICK(8, 1)
#endif
#ifndef FL_WC_KEEP_BYTES
#define FL_WC_KEEP_BYTES FL__PICK((size_t)8 << 20, (size_t)16 << 10)
#endif

/* A new word count table's first index slots (4 bytes each) and entries
 * (32 bytes each); both double as words come. Powers of two.
 * 1024 / 128 slots, 256 / 32 entries. */
#ifndef FL_WC_MIN_SLOTS
#define FL_WC_MIN_SLOTS FL__PICK(1024u, 128u)
#endif
#ifndef FL_WC_MIN_ENTRIES
#define FL_WC_MIN_ENTRIES FL__PICK(256u, 32u)
#endif

/* The core writes every message it sends in one buffer, kept for the next
 * one; past this capacity it is freed once the message is out, so a board
 * holds no idle copy of its largest message (a word count's outcome) while
 * it counts the next chunk. 0 = always kept. 0 / 1 KiB. */
/* 1: the core uses the attachment codecs its port lends it (zcodec.h,
 * docs/protocol.md section 3, "Compressed attachments"). 0: it lists none,
 * compresses nothing and refuses every compressed attachment by name, as
 * a core lent no codec does, in less flash: a board has no codec to lend.
 * 1 / 0. */
#ifndef FL_ZCODECS
#define FL_ZCODECS FL__PICK(1, 0)
#endif

#ifndef FL_JW_KEEP_BYTES
#define FL_JW_KEEP_BYTES FL__PICK(0u, 1024u)
#endif

/* Room for a node's routing tags, "k=v,k2=v2" (fl_peer.tags in the public
 * header, which fixes it). */
#define FL_TAGS_BUF 256

/* Presence (load) is republished at most this often. */
#ifndef FL_PRESENCE_MS
#define FL_PRESENCE_MS 2000u
#endif

/* ... and at most once every this many ms per peer in the table: every
 * node receives every presence, so N busy nodes republishing their load
 * every 2 s deliver N * N / 2 messages a second (20,000 at 200 nodes).
 * With it the cluster's load updates stay near 25 a second whatever its
 * size: 2 s up to 50 peers, 8 s at 200, 40 s at 1000. */
#ifndef FL_PRESENCE_PER_PEER_MS
#define FL_PRESENCE_PER_PEER_MS 40u
#endif

/* Watching the cluster (docs/protocol.md 3.11): every node publishes its
 * counters this often; a `watch` asks for task events for at most
 * FL_WATCH_MAX_MS, and a monitor renews its own (FL_WATCH_TTL_MS) every
 * third of that. At most FL_EVENTS_BATCH events go in one message, the
 * counters of at most FL_STATS_TASKS task names and at most
 * FL_STATS_RUNNING running tasks in one stats message. */
#ifndef FL_STATS_MS
#define FL_STATS_MS 2000u
#endif
#ifndef FL_WATCH_MAX_MS
#define FL_WATCH_MAX_MS 600000u
#endif
#ifndef FL_WATCH_TTL_MS
#define FL_WATCH_TTL_MS 30000u
#endif
#ifndef FL_EVENTS_BATCH
#define FL_EVENTS_BATCH 256u
#endif
#ifndef FL_STATS_TASKS
#define FL_STATS_TASKS 32u
#endif
#ifndef FL_STATS_RUNNING
#define FL_STATS_RUNNING 16u
#endif

/* An owner keeps at most this many fetches from workers whose presence it
 * has not seen (they are leased nothing until it comes; a worker's
 * presence normally arrives before its first fetch), so a flood of fetches
 * under made-up ids costs it nothing. */
#ifndef FL_MAX_UNSEEN_WORKERS
#define FL_MAX_UNSEEN_WORKERS 64u
#endif

/* After connecting, an owner waits this long before it fails a task that
 * no online node runs: the retained presences of the cluster arrive right
 * after the subscription, and a task submitted at once must not fail
 * because they had not yet (docs/protocol.md, owner rules). */
#ifndef FL_PRESENCE_GRACE_MS
#define FL_PRESENCE_GRACE_MS 1500u
#endif

/* Nor does it fail one before this long after its first announcement on
 * this connection: a worker whose presence this owner missed (or that crossed a
 * bridge late) is found when it answers an announcement with a fetch
 * (NoPresence makes it publish its presence again), and waiting through a
 * second announcement (FL_ANNOUNCE_MS) gives a lost first one a retry. */
#ifndef FL_ASK_GRACE_MS
#define FL_ASK_GRACE_MS (FL_ANNOUNCE_MS + 500u)
#endif

/* The error type of a done entry by which a worker hands back a task it
 * does not run (a stale view of its tasks): retryable, so an older owner
 * retries it, and a newer one leases it elsewhere without counting the
 * attempt (docs/protocol.md, section 4). */
#define FL_NOT_RUN_HERE "NotRunHere"

/* The error type by which an owner tells a fetching worker that no online
 * presence of its incarnation reached it, so it is leased nothing; the
 * worker publishes its presence again (at most once a second). */
#define FL_NO_PRESENCE "NoPresence"

/* The round trip an owner assumes, when a worker's fetch does not say
 * its own (rtt_us), as it caps how many tasks of one name that worker may
 * hold: slots + ceil(slots * (rtt / run - 0.01)), the worker's own credit
 * rule for that name (docs/protocol.md, owner rules 10). It is the
 * largest round trip a worker's credit counts, so the cap is never
 * tighter than what such a worker would ask for that name. */
#ifndef FL_OWNER_RTT_US
#define FL_OWNER_RTT_US 50000u
#endif

/* Ready tasks of one name an owner looks through for the first that fits
 * a worker's message limit (the rest wait for a worker with a larger
 * one). */
#ifndef FL_FIT_SCAN
#define FL_FIT_SCAN 4096u
#endif

#endif
