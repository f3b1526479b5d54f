/*
 * lua_module.c - module versions and the set of current modules (see
 * lua_runtime.h). A version is immutable once made, and reference-counted:
 * the set holds one reference, every running task another, so replacing a
 * module in the set is one pointer swap under the lock and the old source
 * is freed when its last task ends.
 * Depends on lua_runtime.h, lua_sandbox.h, the core's alloc.h and buf.h,
 * liblua5.4, pthreads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "alloc.h"
#include "buf.h"
#include "lua_runtime.h"
#include "lua_sandbox.h"

#define MAX_FUNCTIONS 256

struct fl_lua_module {
    atomic_int refs;
    char name[FL_LUA_MAX_MODULE_NAME + 1];
    char version[65];
    char *src;
    size_t len;
    char **fns; /* sorted */
    size_t nfn;
};

bool fl__lua_valid_module_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > FL_LUA_MAX_MODULE_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool valid_fn_name(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return true;
}

static void module_free(fl_lua_module *m)
{
    for (size_t i = 0; i < m->nfn; i++)
        fl__free(m->fns[i]);
    fl__free(m->fns);
    fl__free(m->src);
    fl__free(m);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Record the function names of the table on top of sb's stack. */
static fl_status collect_fns(fl_lua_module *m, lua_State *L, char *err,
                             size_t errlen)
{
    size_t prefix = strlen(m->name) + 1;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "module %s must return a table of functions, not %s",
                 m->name, luaL_typename(L, -1));
        return FL_EINVAL;
    }
    m->fns = fl__calloc(MAX_FUNCTIONS, sizeof *m->fns);
    if (!m->fns)
        return FL_ENOMEM;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t len = 0;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        bool fn = lua_isfunction(L, -1);
        lua_pop(L, 1);
        if (!fn)
            continue; /* constants and helpers may sit beside the tasks */
        if (!k || !valid_fn_name(k, len) || prefix + len > 64) {
            lua_pop(L, 1);
            snprintf(err, errlen, "module %s: function key %.40s%s is not a task name "
                     "(use [A-Za-z_][A-Za-z0-9_]*, %zu bytes at most)", m->name,
                     k ? k : "(not a string)", k && len > 40 ? "..." : "", 64 - prefix);
            return FL_EINVAL;
        }
        if (m->nfn == MAX_FUNCTIONS) {
            lua_pop(L, 1);
            snprintf(err, errlen, "module %s has more than %d functions", m->name,
                     MAX_FUNCTIONS);
            return FL_EINVAL;
        }
        if (!(m->fns[m->nfn] = fl__strndup(k, len))) {
            lua_pop(L, 1);
            return FL_ENOMEM;
        }
        m->nfn++;
    }
    if (m->nfn == 0) {
        snprintf(err, errlen, "module %s returned a table with no functions", m->name);
        return FL_EINVAL;
    }
    qsort(m->fns, m->nfn, sizeof *m->fns, by_name);
    return FL_OK;
}

/* A module with a copy of src and no functions yet. */
static fl_status module_alloc(const char *name, const char *version,
                              const char *src, size_t len, fl_lua_module **out,
                              char *err, size_t errlen)
{
    *out = NULL;
    if (!fl__lua_valid_module_name(name)) {
        snprintf(err, errlen, "module name '%.40s' is not valid: use 1 to %d of "
                 "A-Z a-z 0-9 _ -", name ? name : "", FL_LUA_MAX_MODULE_NAME);
        return FL_EINVAL;
    }
    if (len > FL_LUA_MAX_SOURCE) {
        snprintf(err, errlen, "module %s: source of %zu bytes exceeds %u", name, len,
                 FL_LUA_MAX_SOURCE);
        return FL_ETOOBIG;
    }
    fl_lua_module *m = fl__calloc(1, sizeof *m);
    if (!m || !(m->src = fl__malloc(len + 1))) {
        fl__free(m);
        return FL_ENOMEM;
    }
    atomic_init(&m->refs, 1);
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->version, sizeof m->version, "%s", version ? version : "");
    memcpy(m->src, src, len);
    m->src[len] = '\0';
    m->len = len;
    *out = m;
    return FL_OK;
}

fl_status fl__lua_module_make(const char *name, const char *version,
                              const char *src, size_t len,
                              const char *const *fns, size_t nfn,
                              fl_lua_module **out)
{
    char err[160];
    fl_lua_module *m;
    fl_status st = module_alloc(name, version, src, len, &m, err, sizeof err);
    if (st != FL_OK)
        return st;
    if (nfn == 0 || nfn > MAX_FUNCTIONS) {
        module_free(m);
        return FL_EINVAL;
    }
    m->fns = fl__calloc(nfn, sizeof *m->fns);
    if (!m->fns) {
        module_free(m);
        return FL_ENOMEM;
    }
    size_t prefix = strlen(name) + 1;
    for (size_t i = 0; i < nfn; i++) {
        size_t fl = fns[i] ? strlen(fns[i]) : 0;
        if (!fns[i] || !valid_fn_name(fns[i], fl) || prefix + fl > 64) {
            module_free(m);
            return FL_EINVAL;
        }
        if (!(m->fns[m->nfn] = fl__strndup(fns[i], fl))) {
            module_free(m);
            return FL_ENOMEM;
        }
        m->nfn++;
    }
    qsort(m->fns, m->nfn, sizeof *m->fns, by_name);
    *out = m;
    return FL_OK;
}

fl_status fl__lua_module_new(const char *name, const char *version,
                             const char *src, size_t len,
                             const fl_lua_limits *lim, fl_lua_module **out,
                             char *err, size_t errlen)
{
    fl_lua_sb sb;
    fl_lua_module *m;
    fl_status st = module_alloc(name, version, src, len, &m, err, errlen);
    if (st != FL_OK)
        return st;
    st = fl__lua_sb_open(&sb, lim);
    if (st == FL_OK) {
        char why[512];
        if (fl__lua_sb_load(&sb, name, src, len, why, sizeof why) != LUA_OK) {
            snprintf(err, errlen, "module %s: %s", name, why);
            st = FL_EINVAL;
        } else {
            lua_pop(sb.L, 1); /* the environment */
            st = collect_fns(m, sb.L, err, errlen);
        }
        fl__lua_sb_close(&sb);
    }
    if (st != FL_OK) {
        module_free(m);
        return st;
    }
    *out = m;
    return FL_OK;
}

void fl__lua_module_ref(fl_lua_module *m)
{
    atomic_fetch_add(&m->refs, 1);
}

void fl__lua_module_unref(fl_lua_module *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        module_free(m);
}

const char *fl__lua_module_name(const fl_lua_module *m) { return m->name; }
const char *fl__lua_module_version(const fl_lua_module *m) { return m->version; }
size_t fl__lua_module_nfn(const fl_lua_module *m) { return m->nfn; }

const char *fl__lua_module_fn(const fl_lua_module *m, size_t i)
{
    return i < m->nfn ? m->fns[i] : NULL;
}

bool fl__lua_module_has_fn(const fl_lua_module *m, const char *fn)
{
    return bsearch(&fn, m->fns, m->nfn, sizeof *m->fns, by_name) != NULL;
}

const char *fl__lua_module_source(const fl_lua_module *m, size_t *len)
{
    *len = m->len;
    return m->src;
}

/* ------------------------------------------------------------------ set */

#define MAX_MODULES 64

struct fl_lua_set {
    pthread_mutex_t mu;
    fl_lua_limits lim;
    fl_lua_module *mods[MAX_MODULES]; /* sorted by name */
    size_t n;
    uint64_t generation;
};

fl_lua_set *fl__lua_set_new(const fl_lua_limits *lim)
{
    fl_lua_set *s = fl__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        fl__free(s);
        return NULL;
    }
    s->lim.mem_bytes = lim && lim->mem_bytes ? lim->mem_bytes : FL_LUA_DEFAULT_MEM;
    s->lim.steps = lim && lim->steps ? lim->steps : FL_LUA_DEFAULT_STEPS;
    return s;
}

void fl__lua_set_free(fl_lua_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        fl__lua_module_unref(s->mods[i]);
    pthread_mutex_destroy(&s->mu);
    fl__free(s);
}

const fl_lua_limits *fl__lua_set_limits(const fl_lua_set *s)
{
    return &s->lim;
}

/* Index of name, or of where it would go (*found false). Under the lock. */
static size_t find(const fl_lua_set *s, const char *name, bool *found)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->mods[i]->name, name) < 0)
        i++;
    *found = i < s->n && strcmp(s->mods[i]->name, name) == 0;
    return i;
}

fl_status fl__lua_set_put(fl_lua_set *s, fl_lua_module *m)
{
    bool found;
    fl_lua_module *old = NULL;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, m->name, &found);
    if (!found && s->n == MAX_MODULES) {
        pthread_mutex_unlock(&s->mu);
        return FL_ETOOBIG;
    }
    fl__lua_module_ref(m);
    if (found) {
        old = s->mods[i];
    } else {
        memmove(&s->mods[i + 1], &s->mods[i], (s->n - i) * sizeof *s->mods);
        s->n++;
    }
    s->mods[i] = m;
    s->generation++;
    pthread_mutex_unlock(&s->mu);
    fl__lua_module_unref(old);
    return FL_OK;
}

bool fl__lua_set_remove(fl_lua_set *s, const char *name)
{
    bool found;
    fl_lua_module *old = NULL;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, name, &found);
    if (found) {
        old = s->mods[i];
        memmove(&s->mods[i], &s->mods[i + 1], (s->n - i - 1) * sizeof *s->mods);
        s->n--;
        s->generation++;
    }
    pthread_mutex_unlock(&s->mu);
    fl__lua_module_unref(old);
    return found;
}

fl_lua_module *fl__lua_set_get(fl_lua_set *s, const char *name)
{
    bool found;
    fl_lua_module *m = NULL;
    pthread_mutex_lock(&s->mu);
    size_t i = find(s, name, &found);
    if (found) {
        m = s->mods[i];
        fl__lua_module_ref(m);
    }
    pthread_mutex_unlock(&s->mu);
    return m;
}

uint64_t fl__lua_set_generation(fl_lua_set *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t g = s->generation;
    pthread_mutex_unlock(&s->mu);
    return g;
}

fl_status fl__lua_set_describe(fl_lua_set *s, char **tasks, char **modules)
{
    fl_buf t, m;
    fl__buf_init(&t);
    fl__buf_init(&m);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        const fl_lua_module *mod = s->mods[i];
        if (i)
            fl__buf_putc(&m, ',');
        fl__buf_puts(&m, mod->name);
        fl__buf_putc(&m, '@');
        fl__buf_puts(&m, mod->version);
        for (size_t k = 0; k < mod->nfn; k++) {
            if (t.len)
                fl__buf_putc(&t, ',');
            fl__buf_puts(&t, mod->name);
            fl__buf_putc(&t, '.');
            fl__buf_puts(&t, mod->fns[k]);
        }
    }
    pthread_mutex_unlock(&s->mu);
    fl__buf_putc(&t, '\0');
    fl__buf_putc(&m, '\0');
    if (!fl__buf_ok(&t) || !fl__buf_ok(&m)) {
        fl__buf_free(&t);
        fl__buf_free(&m);
        return FL_ENOMEM;
    }
    *tasks = t.data;
    *modules = m.data;
    return FL_OK;
}
