/*
 * result.c - result handles (Celery's AsyncResult): filled by the loop
 * thread, read and waited on by application threads. The state and the
 * ready flag are atomics so reading them takes no lock; waiting uses the
 * handle's own mutex and condition variable. The application and the loop
 * each hold a reference; the last to let go frees the handle.
 * Depends on posix.h and alloc.h.
 */
#include "posix.h"

#include <string.h>

#include "alloc.h"

fl_result *fl__result_new(void)
{
    fl_result *r = fl__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        fl__free(r);
        return NULL;
    }
    if (fl__cond_init(&r->cv) != 0) {
        pthread_mutex_destroy(&r->mu);
        fl__free(r);
        return NULL;
    }
    atomic_init(&r->refs, 2);
    atomic_init(&r->state, FL_PENDING);
    atomic_init(&r->ready, false);
    atomic_init(&r->revoke_wanted, false);
    atomic_init(&r->revoke_terminate, false);
    return r;
}

void fl__result_drop_submission(fl_result *r)
{
    fl__free(r->name);
    fl__free(r->args);
    fl__free(r->kwargs);
    if (r->sub_att)
        fl__free(r->sub_att - r->sub_att_room);
    fl__free(r->route);
    fl__free(r->rate_limit);
    fl__free(r->canvas);
    fl__free(r->remote_owner);
    fl__free(r->sched_op);
    fl__free(r->sched_name);
    fl__free(r->sched_cron);
    r->sched_op = r->sched_name = r->sched_cron = NULL;
    r->name = r->args = r->kwargs = r->route = r->canvas = NULL;
    r->rate_limit = NULL;
    r->remote_owner = NULL;
    r->sub_att = NULL;
}

static void destroy(fl_result *r)
{
    fl__result_drop_submission(r);
    fl_value_free(r->value);
    fl__free(r->att);
    fl__free(r->err_type);
    fl__free(r->err_message);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    fl__free(r);
}

void fl__result_unref(fl_result *r)
{
    if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        destroy(r);
}

void fl__result_set_id(fl_result *r, uint64_t id)
{
    pthread_mutex_lock(&r->mu);
    r->id = id;
    r->id_known = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void fl__result_set_state(fl_result *r, fl_state st)
{
    if (!atomic_load_explicit(&r->ready, memory_order_acquire))
        atomic_store_explicit(&r->state, (int)st, memory_order_release);
}

/* Waiters on several results (fl_result_wait_any) sleep on one process-wide
 * condition: every result that becomes ready bumps any_seq and wakes them
 * to scan their own set again. */
static pthread_mutex_t any_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t any_cv;
static pthread_once_t any_once = PTHREAD_ONCE_INIT;
static bool any_cv_ok;
static uint64_t any_seq;

static void any_init(void)
{
    any_cv_ok = fl__cond_init(&any_cv) == 0;
}

static void any_ready(void)
{
    pthread_once(&any_once, any_init);
    pthread_mutex_lock(&any_mu);
    any_seq++;
    if (any_cv_ok)
        pthread_cond_broadcast(&any_cv);
    pthread_mutex_unlock(&any_mu);
}

/* Publish the final fields written by the caller and wake every waiter. */
static void mark_ready(fl_result *r, fl_state st)
{
    pthread_mutex_lock(&r->mu);
    atomic_store_explicit(&r->state, (int)st, memory_order_release);
    atomic_store_explicit(&r->ready, true, memory_order_release);
    r->id_known = true; /* a task that never got an id keeps id 0 */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    any_ready();
}

void fl__result_finish(fl_result *r, const fl_final *fin)
{
    if (atomic_load_explicit(&r->ready, memory_order_acquire)) {
        fl_value_free(fin->value);
        return;
    }
    r->value = fin->value;
    if (fin->state == FL_SUCCESS && fin->att && fin->att_len > 0) {
        r->att = fl__malloc(fin->att_len);
        if (r->att) {
            memcpy(r->att, fin->att, fin->att_len);
            r->att_len = fin->att_len;
        }
    }
    if (fin->state == FL_FAILURE || fin->state == FL_REVOKED) {
        r->err_type = fl__strdup(fin->err_type ? fin->err_type : "Error");
        r->err_message = fl__strdup(fin->err_message ? fin->err_message : "");
    }
    if (fin->worker)
        strncpy(r->worker, fin->worker, sizeof r->worker - 1);
    r->attempts = fin->attempts;
    r->submitted_ms = fin->submitted_ms;
    r->started_ms = fin->started_ms;
    r->ended_ms = fin->ended_ms;
    mark_ready(r, fin->state);
}

void fl__result_abort(fl_result *r, fl_state st, const char *type,
                      const char *message)
{
    if (atomic_load_explicit(&r->ready, memory_order_acquire))
        return;
    r->err_type = fl__strdup(type);
    r->err_message = fl__strdup(message);
    mark_ready(r, st);
}

/* ------------------------------------------------------------ public API */

fl_status fl_result_wait(fl_result *r, uint32_t timeout_ms)
{
    struct timespec dl;
    fl_status st = FL_OK;

    if (!r)
        return FL_EINVAL;
    if (atomic_load_explicit(&r->ready, memory_order_acquire))
        return FL_OK;
    dl = fl__deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!atomic_load_explicit(&r->ready, memory_order_acquire)) {
        int rc;
        if (timeout_ms == UINT32_MAX)
            rc = pthread_cond_wait(&r->cv, &r->mu);
        else
            rc = pthread_cond_timedwait(&r->cv, &r->mu, &dl);
        if (rc != 0 && !atomic_load_explicit(&r->ready, memory_order_acquire)) {
            st = FL_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

static bool first_ready(fl_result *const *rs, size_t n, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (atomic_load_explicit(&rs[i]->ready, memory_order_acquire)) {
            *index = i;
            return true;
        }
    return false;
}

fl_status fl_result_wait_any(fl_result *const *rs, size_t n,
                             uint32_t timeout_ms, size_t *index)
{
    if (!rs || n == 0 || !index)
        return FL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!rs[i])
            return FL_EINVAL;
    pthread_once(&any_once, any_init);
    if (!any_cv_ok)
        return FL_ENOMEM;
    struct timespec dl = fl__deadline_after_ms(timeout_ms);
    /* any_seq is read before each scan: a result readied after the scan
     * has moved it, so the wait below returns at once. */
    pthread_mutex_lock(&any_mu);
    uint64_t seen = any_seq;
    pthread_mutex_unlock(&any_mu);
    while (!first_ready(rs, n, index)) {
        int rc = 0;
        pthread_mutex_lock(&any_mu);
        while (any_seq == seen && rc == 0)
            rc = timeout_ms == UINT32_MAX ? pthread_cond_wait(&any_cv, &any_mu)
                                          : pthread_cond_timedwait(&any_cv, &any_mu, &dl);
        seen = any_seq;
        pthread_mutex_unlock(&any_mu);
        if (rc != 0)
            return first_ready(rs, n, index) ? FL_OK : FL_ETIMEDOUT;
    }
    return FL_OK;
}

bool fl_result_ready(const fl_result *r)
{
    return r && atomic_load_explicit(&r->ready, memory_order_acquire);
}

fl_state fl_result_state(const fl_result *r)
{
    if (!r)
        return FL_PENDING;
    return (fl_state)atomic_load_explicit(&r->state, memory_order_acquire);
}

const fl_value *fl_result_value(const fl_result *r)
{
    if (!fl_result_ready(r) || fl_result_state(r) != FL_SUCCESS)
        return NULL;
    return r->value;
}

const fl_value *fl_result_partial(const fl_result *r)
{
    if (!fl_result_ready(r) || fl_result_state(r) != FL_FAILURE)
        return NULL;
    return r->value;
}

const void *fl_result_attachment(const fl_result *r, size_t *len)
{
    if (!fl_result_ready(r) || fl_result_state(r) != FL_SUCCESS || !r->att) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->att_len;
    return r->att;
}

const char *fl_result_error_type(const fl_result *r)
{
    return fl_result_ready(r) ? r->err_type : NULL;
}

const char *fl_result_error_message(const fl_result *r)
{
    return fl_result_ready(r) ? r->err_message : NULL;
}

uint64_t fl_result_id(const fl_result *r)
{
    fl_result *m = (fl_result *)r; /* waiting needs the handle's lock */
    uint64_t id;
    struct timespec dl;

    if (!r)
        return 0;
    /* The loop assigns the id moments after fl_node_call returns; wait for
     * it, but never for long: a stopped loop fails the handle instead. */
    dl = fl__deadline_after_ms(10000);
    pthread_mutex_lock(&m->mu);
    while (!m->id_known) {
        if (pthread_cond_timedwait(&m->cv, &m->mu, &dl) != 0)
            break;
    }
    id = m->id;
    pthread_mutex_unlock(&m->mu);
    return id;
}

const char *fl_result_worker(const fl_result *r)
{
    return fl_result_ready(r) ? r->worker : "";
}

void fl_result_get_info(const fl_result *r, fl_result_info *info)
{
    memset(info, 0, sizeof *info);
    info->node = "";
    if (!r)
        return;
    info->state = fl_result_state(r);
    if (!fl_result_ready(r))
        return;
    info->node = r->worker;
    info->attempts = r->attempts;
    info->submitted_ms = r->submitted_ms;
    info->started_ms = r->started_ms;
    info->ended_ms = r->ended_ms;
}

static fl_status revoke(fl_result *r, bool terminate)
{
    fl_node *node;
    if (!r)
        return FL_EINVAL;
    if (atomic_load_explicit(&r->ready, memory_order_acquire))
        return FL_ENOTFOUND;
    node = r->node;
    if (terminate)
        atomic_store(&r->revoke_terminate, true);
    atomic_store(&r->revoke_wanted, true);
    if (!node)
        return FL_ESTATE;
    pthread_mutex_lock(&node->mu);
    if (atomic_load(&node->phase) == FL_NODE_RUNNING)
        fl__inbox_revoke(&node->inbox, r);
    pthread_mutex_unlock(&node->mu);
    return FL_OK;
}

fl_status fl_result_revoke(fl_result *r)
{
    return revoke(r, false);
}

fl_status fl_result_terminate(fl_result *r)
{
    return revoke(r, true);
}

void fl_result_free(fl_result *r)
{
    fl__result_unref(r);
}
