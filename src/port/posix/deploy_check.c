/*
 * deploy_check.c - the node's deploy checker (see deploy_check.h). Its
 * thread forks a child per deploy; the child builds the module with
 * fl__lua_module_new (which runs the top level under the step and memory
 * budget) and answers with the function names or the error; the thread
 * waits up to the wall-clock limit, then kills it. The module the loop
 * gets is made from those names (fl__lua_module_make): the node itself
 * never runs the module's code.
 * Depends on deploy_check.h, child.h (frames, fork, kill), alloc.h,
 * lua_runtime.h, pthreads and POSIX poll.
 */
#include "deploy_check.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "child.h"
#include "posix.h"

#define QUIT_POLL_MS 100 /* how often a waiting check looks for a stop */
#define MAX_ANSWER (64u * 1024u)

typedef struct request {
    fl_deploy_checked *res;
    char *src;
    size_t len;
    struct request *next;
} request;

struct fl_deploy_checker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    request *head, *tail;
    bool quit, started;
    pthread_t thread;
    fl_lua_limits lim;
    uint32_t limit_ms;
    fl_deploy_checked_fn done;
    void *ud;
};

void fl__deploy_checked_free(fl_deploy_checked *c)
{
    if (!c)
        return;
    fl__lua_module_unref(c->mod);
    fl__free(c);
}

static void request_free(request *r)
{
    fl__deploy_checked_free(r->res);
    fl__free(r->src);
    fl__free(r);
}

/* ------------------------------------------------------------ the child */

typedef struct check_in {
    const char *name, *version, *src;
    size_t len;
    const fl_lua_limits *lim;
} check_in;

static void child_check(int fd, const check_in *in)
{
    fl_lua_module *m = NULL;
    char err[600] = "";
    fl_status st = fl__lua_module_new(in->name, in->version, in->src, in->len, in->lim,
                                      &m, err, sizeof err);
    fl_buf b;
    fl__buf_init(&b);
    fl__wire_u32(&b, st == FL_OK);
    if (st == FL_ENOMEM && !err[0])
        snprintf(err, sizeof err, "module %s: out of memory (cap %zu bytes)", in->name,
                 in->lim ? in->lim->mem_bytes : (size_t)FL_LUA_DEFAULT_MEM);
    fl__wire_str(&b, err);
    size_t n = st == FL_OK ? fl__lua_module_nfn(m) : 0;
    fl__wire_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        fl__wire_str(&b, fl__lua_module_fn(m, i));
    (void)fl__frame_send(fd, FL_FRAME_CHECKED, &b);
    _exit(0);
}

/* ----------------------------------------------------------- the parent */

/* Read the child's answer: the module, or why not. */
static fl_status take_answer(fl_frame *f, const check_in *in, fl_lua_module **out,
                             char *err, size_t errlen)
{
    uint32_t ok = fl__wire_get_u32(f);
    const char *why = fl__wire_get_str(f);
    uint32_t n = fl__wire_get_u32(f);
    if (f->bad || n > 4096) {
        snprintf(err, errlen, "module %s: the check's answer did not read", in->name);
        return FL_EIO;
    }
    if (!ok) {
        snprintf(err, errlen, "%s", why ? why : "refused");
        return FL_EINVAL;
    }
    const char **fns = fl__calloc(n ? n : 1, sizeof *fns);
    if (!fns)
        return FL_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        fns[i] = fl__wire_get_str(f);
    fl_status st = f->bad ? FL_EIO : fl__lua_module_make(in->name, in->version, in->src,
                                                          in->len, fns, n, out);
    if (st != FL_OK)
        snprintf(err, errlen, "module %s: the check's answer did not make a module",
                 in->name);
    fl__free(fns);
    return st;
}

fl_status fl__deploy_check_run(const char *name, const char *version, const char *src,
                               size_t len, const fl_lua_limits *lim, uint32_t limit_ms,
                               bool (*stop)(void *), void *ud, fl_lua_module **out,
                               char *err, size_t errlen)
{
    check_in in = {.name = name, .version = version, .src = src, .len = len, .lim = lim};
    char why[120];
    int sv[2];
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "module %s: cannot check it: socketpair: %s", name,
                 strerror(errno));
        return FL_EIO;
    }
    int cfd = sv[1];
    pid_t pid = fl__child_fork(&cfd);
    if (pid == 0)
        child_check(cfd, &in);
    close(sv[1]);
    if (pid < 0) {
        snprintf(err, errlen, "module %s: cannot check it: fork: %s", name, strerror(errno));
        close(sv[0]);
        return FL_EIO;
    }
    uint64_t end = fl__now_us() + (uint64_t)limit_ms * 1000u;
    fl_status st = FL_ETIMEDOUT;
    for (;;) {
        uint64_t now = fl__now_us();
        if (now >= end)
            break;
        uint64_t left_ms = (end - now + 999) / 1000;
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        int n = poll(&p, 1, left_ms < QUIT_POLL_MS ? (int)left_ms : QUIT_POLL_MS);
        if (n > 0) {
            fl_frame f;
            st = FL_EIO;
            if (fl__frame_recv(sv[0], NULL, &f, MAX_ANSWER) == 1 &&
                f.type == FL_FRAME_CHECKED)
                st = take_answer(&f, &in, out, err, errlen);
            fl__frame_free(&f);
            break;
        }
        if (n < 0 && errno != EINTR) {
            st = FL_EIO;
            break;
        }
        if (stop && stop(ud)) {
            st = FL_ESTATE;
            break;
        }
    }
    close(sv[0]);
    fl__child_kill(pid, why, sizeof why);
    if (st == FL_ETIMEDOUT)
        snprintf(err, errlen, "module %s: its top-level code was still running after the "
                 "load limit of %u ms, so its check was killed", name, (unsigned)limit_ms);
    else if (st == FL_EIO && !err[0])
        snprintf(err, errlen, "module %s: the process checking it %s", name, why);
    else if (st == FL_ESTATE)
        snprintf(err, errlen, "module %s: the node stopped during its check", name);
    return st;
}

static bool quitting(void *ud)
{
    fl_deploy_checker *k = ud;
    pthread_mutex_lock(&k->mu);
    bool q = k->quit;
    pthread_mutex_unlock(&k->mu);
    return q;
}

/* Run one check; false when the checker is stopping (r dropped). */
static bool check_one(fl_deploy_checker *k, request *r)
{
    fl_deploy_checked *c = r->res;
    c->err[0] = '\0';
    fl_status st = fl__deploy_check_run(c->module, c->version, r->src, r->len, &k->lim,
                                        k->limit_ms, quitting, k, &c->mod, c->err,
                                        sizeof c->err);
    return st != FL_ESTATE;
}

static void *checker_main(void *arg)
{
    fl_deploy_checker *k = arg;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (!k->head && !k->quit)
            pthread_cond_wait(&k->cv, &k->mu);
        request *r = k->quit ? NULL : k->head;
        if (r) {
            k->head = r->next;
            if (!k->head)
                k->tail = NULL;
        }
        pthread_mutex_unlock(&k->mu);
        if (!r)
            return NULL;
        if (check_one(k, r)) {
            k->done(k->ud, r->res);
            r->res = NULL;
        }
        request_free(r);
    }
}

fl_deploy_checker *fl__deploy_checker_new(const fl_lua_limits *lim, uint32_t limit_ms,
                                          fl_deploy_checked_fn done, void *ud)
{
    fl_deploy_checker *k = fl__calloc(1, sizeof *k);
    if (!k)
        return NULL;
    if (pthread_mutex_init(&k->mu, NULL) != 0) {
        fl__free(k);
        return NULL;
    }
    if (pthread_cond_init(&k->cv, NULL) != 0) {
        pthread_mutex_destroy(&k->mu);
        fl__free(k);
        return NULL;
    }
    k->lim = *lim;
    k->limit_ms = limit_ms;
    k->done = done;
    k->ud = ud;
    return k;
}

fl_status fl__deploy_check(fl_deploy_checker *k, const char *module, const char *version,
                           const void *src, size_t len, uint64_t ts, bool signed_,
                           const char *reply_to)
{
    request *r = fl__calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->res = fl__calloc(1, sizeof *r->res);
    r->src = fl__malloc(len ? len : 1);
    if (!r->res || !r->src) {
        request_free(r);
        return FL_ENOMEM;
    }
    memcpy(r->src, src, len);
    r->len = len;
    snprintf(r->res->module, sizeof r->res->module, "%s", module);
    snprintf(r->res->version, sizeof r->res->version, "%s", version);
    r->res->ts = ts;
    r->res->signed_ = signed_;
    snprintf(r->res->reply_to, sizeof r->res->reply_to, "%s", reply_to ? reply_to : "");
    pthread_mutex_lock(&k->mu);
    /* Started with the first deploy: most nodes never get one. */
    if (!k->started && !k->quit) {
        if (pthread_create(&k->thread, NULL, checker_main, k) != 0) {
            pthread_mutex_unlock(&k->mu);
            request_free(r);
            return FL_EIO;
        }
        k->started = true;
    }
    if (k->tail)
        k->tail->next = r;
    else
        k->head = r;
    k->tail = r;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return FL_OK;
}

void fl__deploy_checker_free(fl_deploy_checker *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->quit = true;
    pthread_cond_broadcast(&k->cv);
    bool started = k->started;
    pthread_mutex_unlock(&k->mu);
    if (started)
        pthread_join(k->thread, NULL);
    while (k->head) {
        request *next = k->head->next;
        request_free(k->head);
        k->head = next;
    }
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    fl__free(k);
}

/* ------------------------------------------------ the public check */

bool fl_module_name_valid(const char *name)
{
    return name && fl__lua_valid_module_name(name);
}

/* "name.fn,name.fn2" for m; NULL when out of memory. */
static char *task_list(const char *name, const fl_lua_module *m)
{
    size_t nl = strlen(name), cap = 1, nfn = fl__lua_module_nfn(m);
    for (size_t i = 0; i < nfn; i++)
        cap += nl + 2 + strlen(fl__lua_module_fn(m, i));
    char *out = fl__malloc(cap), *p = out;
    if (!out)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < nfn; i++)
        p += snprintf(p, cap - (size_t)(p - out), "%s%s.%s", i ? "," : "", name,
                      fl__lua_module_fn(m, i));
    return out;
}

fl_status fl_module_check(const char *name, const char *src, size_t len,
                          char **tasks, char *err, size_t errlen)
{
    fl_lua_module *m = NULL;
    if (tasks)
        *tasks = NULL;
    if (!fl_module_name_valid(name)) {
        snprintf(err, errlen, "module name '%s' is not valid: use 1 to %d of A-Z a-z "
                 "0-9 _ - (no dot)", name ? name : "", FL_LUA_MAX_MODULE_NAME);
        return FL_EINVAL;
    }
    if (!src || len > FL_LUA_MAX_SOURCE) {
        snprintf(err, errlen, "module %s: %s", name, src ? "source larger than 1 MiB"
                                                         : "no source");
        return FL_EINVAL;
    }
    fl_status st = fl__deploy_check_run(name, "", src, len, NULL, FL_LUA_DEFAULT_LOAD_MS,
                                        NULL, NULL, &m, err, errlen);
    if (st != FL_OK)
        return st;
    if (tasks && !(*tasks = task_list(name, m)))
        st = FL_ENOMEM;
    fl__lua_module_unref(m);
    return st;
}
