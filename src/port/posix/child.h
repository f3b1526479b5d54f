/*
 * child.h - tasks in child processes (the process pool, like Celery's
 * prefork): one child per executor slot, forked from the slot's thread,
 * which hands it one job at a time over a socket pair and kills it when
 * the job is cancelled (hard time limit, shutdown, owner gone). Also the
 * frames both sides exchange and the fork of a clean child that the
 * deploy check (deploy_check.c) shares.
 * Internal to src/port/posix/. Depends on posix.h, buf.h, lua_runtime.h.
 */
#ifndef FL_CHILD_H
#define FL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "lua_runtime.h"
#include "posix.h"

/* ----------------------------------------------------------- frames */

/* A frame is [u32 length of what follows][u8 type][body]; numbers are
 * little-endian, byte strings are [u32 length][bytes] with length
 * UINT32_MAX for "none". Both ends are this build of floret. */
#define FL_FRAME_JOB 'J'     /* parent -> child: run this */
#define FL_FRAME_MODULE 'M'  /* parent -> child: this module version */
#define FL_FRAME_DROP 'D'    /* parent -> child: module undeployed */
#define FL_FRAME_OUTCOME 'O' /* child -> parent: what the job produced */
#define FL_FRAME_CHECKED 'C' /* deploy check -> parent: functions or error */

typedef struct fl_frame {
    uint8_t type;
    uint8_t *data; /* the body, owned */
    size_t len, pos;
    bool bad;      /* a read ran past the end */
} fl_frame;

void fl__wire_u32(fl_buf *b, uint32_t x);
void fl__wire_u64(fl_buf *b, uint64_t x);
void fl__wire_bytes(fl_buf *b, const void *p, size_t len); /* p NULL: none */
void fl__wire_str(fl_buf *b, const char *s);               /* NULL: none */

uint32_t fl__wire_get_u32(fl_frame *f);
uint64_t fl__wire_get_u64(fl_frame *f);
/* The next byte string (into the frame, not copied; NULL for none).
 * Strings written by fl__wire_str end in a NUL inside the frame. */
const uint8_t *fl__wire_get_bytes(fl_frame *f, size_t *len);
const char *fl__wire_get_str(fl_frame *f);

/* What was read from a socket past the last frame: a small frame and its
 * header come in one read, and a frame sent right behind another is not
 * lost. One per socket end. */
typedef struct fl_reader {
    uint8_t buf[4096];
    size_t len, pos;
} fl_reader;

/* Send type + body in one call (blocking, all of it). FL_OK or FL_EIO
 * (peer gone). */
fl_status fl__frame_send(int fd, uint8_t type, const fl_buf *body);
/* Read one frame of at most max body bytes (blocking), through rd (NULL:
 * read exactly the frame): 1, 0 at end of file, -1 on an error or an
 * oversized frame. */
int fl__frame_recv(int fd, fl_reader *rd, fl_frame *f, size_t max);
/* Bytes rd holds already (a poll would not see them). */
size_t fl__reader_pending(const fl_reader *rd);
void fl__frame_free(fl_frame *f);

/* ------------------------------------------------------------ forking */

/* Fork a child that keeps only fd (moved to 3), stdin, stdout and stderr,
 * ignores SIGINT (the node stops it), dies with the forking thread
 * (Linux), and must leave with _exit. In the child *fd becomes 3 and 0 is
 * returned; in the parent the pid; -1 on failure. */
pid_t fl__child_fork(int *fd);
/* Kill pid with SIGKILL and reap it; how it ended goes to why. */
void fl__child_kill(pid_t pid, char *why, size_t cap);

/* ---------------------------------------------------------- the pool */

#define FL_CHILD_MAX_MODULES 64

/* One slot's child, owned by the slot's executor thread. */
typedef struct fl_child {
    pid_t pid;   /* 0: none yet, or it was killed (forked again on use) */
    int fd;
    fl_reader rd;
    struct {
        char name[FL_LUA_MAX_MODULE_NAME + 1];
        struct fl_lua_module *m; /* the version the child has (a reference) */
    } mods[FL_CHILD_MAX_MODULES];
    size_t nmods;
} fl_child;

/* Does job run in a child under ex's pool? */
bool fl__child_wanted(const fl_executor *ex, const fl_job *job);
#define FL_CHILD_BATCH 32                /* jobs one slot takes at once */
#define FL_CHILD_BATCH_BYTES (64u * 1024u) /* sent ahead of the running one */

void fl__child_init(fl_child *c);
/* Run jobs[0..n) (n <= FL_CHILD_BATCH) in order in the slot's child
 * (forked first if there is none), filling each one's outcome and handing
 * it to ex->done as it ends. While one runs, cancelled(xj) is asked every
 * few milliseconds; when it says yes the child is killed, and the jobs
 * behind it go to a new child. */
void fl__child_run_batch(fl_child *c, fl_executor *ex, fl_xjob **jobs, size_t n,
                         bool (*cancelled)(void *xj));
/* Kill the child if there is one and drop what the slot holds. */
void fl__child_close(fl_child *c);

/* The largest frame either side accepts for ex's jobs and outcomes. */
size_t fl__child_max_frame(const fl_executor *ex);
/* The child's side: serve fd until the parent closes it, then _exit. */
void fl__child_serve(int fd, const fl_executor *ex)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

#endif
