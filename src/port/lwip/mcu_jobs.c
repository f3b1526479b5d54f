/*
 * mcu_jobs.c - the core's fl_core_io on the firmware: publish and
 * subscribe go to the MQTT link, and jobs the core hands over wait in a
 * queue and run on the loop, one at a time per slot, through
 * fl_core_run_job. A sleeping task keeps the loop turning (network,
 * timers, and on a board with more slots the next job), so a slot that
 * sleeps is not a board that stops answering.
 * Depends on mcu.h, the core's core.h and alloc.h, and board.h.
 */
#include "mcu.h"

#include <string.h>

#include "alloc.h"

struct fl_mjob {
    fl_mcu *m;
    fl_job *job;
    bool cancelled;
    bool pooled;
    fl_mjob *next;
};

/* The core holds at most its credit of jobs (FL_WORKER_MAX_CREDIT) plus
 * what runs: their records come from this pool, so a job never waits on
 * the arena (the arena is then short only for the core itself, which
 * says so). */
#define POOL (FL_WORKER_MAX_CREDIT + 8u)
static fl_mjob pool[POOL];
static fl_mjob *pool_free;
static bool pool_ready;

static fl_mjob *mjob_get(void)
{
    if (!pool_ready) {
        for (size_t i = 0; i < POOL; i++) {
            pool[i].next = pool_free;
            pool_free = &pool[i];
        }
        pool_ready = true;
    }
    fl_mjob *j = pool_free;
    if (j) {
        pool_free = j->next;
        j->pooled = true;
        return j;
    }
    j = fl__malloc(sizeof *j);
    if (j)
        j->pooled = false;
    return j;
}

static void mjob_put(fl_mjob *j)
{
    if (j->pooled) {
        j->next = pool_free;
        pool_free = j;
    } else {
        fl__free(j);
    }
}

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    fl_mcu *m = ud;
    fl__link_publish(&m->link, topic, payload, len, qos, retain);
}

static void io_subscribe(void *ud, const char *filter, int qos)
{
    fl_mcu *m = ud;
    fl__link_subscribe(&m->link, filter, qos);
}

static void io_execute(void *ud, fl_job *job)
{
    fl_mcu *m = ud;
    fl_mjob *j = mjob_get();
    if (!j) {
        /* Answered on the next turn: the core is not re-entered from its
         * own callback. */
        job->driver = NULL;
        if (m->nstarved < sizeof m->starved / sizeof m->starved[0])
            m->starved[m->nstarved++] = job;
        else
            fl__mcu_log(m, FL_LOG_ERROR, "out of memory: a task is lost");
        return;
    }
    j->m = m;
    j->job = job;
    j->cancelled = false;
    j->next = NULL;
    job->driver = j;
    if (m->qtail)
        m->qtail->next = j;
    else
        m->qhead = j;
    m->qtail = j;
}

static void io_cancel(void *ud, fl_job *job)
{
    (void)ud;
    if (job->driver)
        ((fl_mjob *)job->driver)->cancelled = true;
}

static void io_final(void *ud, const fl_final *fin)
{
    (void)ud;
    fl_value_free(fin->value); /* a board owns no tasks it waits on */
}

static void io_log(void *ud, int level, const char *line)
{
    fl__mcu_log(ud, level, line);
}

void fl__mcu_io(fl_mcu *m, fl_core_io *io)
{
    memset(io, 0, sizeof *io);
    io->ud = m;
    io->publish = io_publish;
    io->subscribe = io_subscribe;
    io->execute = io_execute;
    io->cancel = io_cancel;
    io->final = io_final;
    io->log = io_log;
}

/* ------------------------------------------------------------ running */

static bool hook_cancelled(void *ud)
{
    return ((fl_mjob *)ud)->cancelled;
}

static bool hook_sleep(void *ud, double seconds)
{
    fl_mjob *j = ud;
    fl_mcu *m = j->m;
    uint64_t until = fl_board_now_us() + (uint64_t)(seconds * 1e6);
    while (!j->cancelled && fl_board_now_us() < until) {
        fl__mcu_turn(m, true);
        uint64_t now = fl_board_now_us();
        if (now < until)
            fl_board_idle((uint32_t)((until - now) / 1000u));
    }
    return !j->cancelled;
}

static void answer_failed(fl_mcu *m, fl_job *job, const char *type,
                          const char *msg)
{
    fl_outcome out;
    memset(&out, 0, sizeof out);
    out.ok = false;
    strncpy(out.err_type, type, sizeof out.err_type - 1);
    out.err_message = fl__strdup(msg);
    fl_core_job_done(m->core, job, &out, fl_board_now_us());
    fl_outcome_clear(&out);
    m->dirty = true;
}

bool fl__mcu_run_one(fl_mcu *m)
{
    fl_mjob *j = m->qhead;
    if (!j || m->running >= m->set.slots)
        return false;
    m->qhead = j->next;
    if (!m->qhead)
        m->qtail = NULL;
    fl_job *job = j->job;
    if (j->cancelled) {
        /* Its answer is ignored: do not spend the board's time on it. */
        job->driver = NULL;
        mjob_put(j);
        answer_failed(m, job, "Cancelled", "cancelled before it started");
        return true;
    }
    fl_run_hooks h = {
        .ud = j, .cancelled = hook_cancelled, .sleep = hook_sleep,
        .node_id = fl_core_id(m->core),
        .max_result = m->max_message - FL_MCU_RESULT_ROOM,
    };
    fl_outcome out;
    memset(&out, 0, sizeof out);
    m->running++;
    uint64_t t0 = fl_board_now_us();
    fl_core_run_job(m->reg, job, &h, &out);
    uint64_t t1 = fl_board_now_us();
    m->running--;
    out.run_us = t1 > t0 ? t1 - t0 : 1;
    job->driver = NULL;
    mjob_put(j);
    fl_core_job_done(m->core, job, &out, t1);
    fl_outcome_clear(&out);
    m->executed++;
    m->dirty = true;
    return true;
}

void fl__mcu_answer_starved(fl_mcu *m)
{
    while (m->nstarved) {
        fl_job *job = m->starved[--m->nstarved];
        answer_failed(m, job, "MemoryError", "the board ran out of memory "
                      "before the task could start");
    }
}
