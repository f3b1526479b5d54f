/*
 * wordcount_file.c - the locality task "wc.file" (wordcount_file.h). It
 * trusts nothing it was sent: the path must be absolute, canonical and
 * under one of the directories the node's operator allowed (--data-dir),
 * reached without following a symbolic link below that directory, and name
 * a regular file whose size, modification time and sample hash match what
 * the client saw. Nothing but directories and that regular file is ever
 * opened, so a device or a FIFO is never touched. Every refusal is the
 * same NotLocal "not readable here", so a caller learns nothing about a
 * file it could not have counted (whether it exists, its type, size or
 * mtime); the client then sends the bytes instead.
 * Depends on POSIX (openat, fstatat, pread, realpath), wordcount.h and the
 * public header.
 */
#include "wordcount_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "wordcount.h"

#define TASK "wc.file"
/* Bytes read and counted at a time: small enough to stay in the L2
 * cache next to the hot part of the table. */
#define WC_FILE_PIECE (256u * 1024u)
/* Offsets travel as JSON numbers: whole and below 2^53. */
#define MAX_WHOLE 9007199254740991.0

struct file_ref {
    const char *path;
    uint64_t offset, length, size, mtime_s, mtime_ns, sample;
};

static bool whole_kwarg(fl_task_ctx *ctx, const char *key, uint64_t *out)
{
    const fl_value *v = fl_value_get(fl_task_kwargs(ctx), key);
    if (fl_value_type(v) != FL_TYPE_NUMBER) {
        (void)fl_task_fail(ctx, "TypeError", false,
                           TASK ": kwargs.%s must be a number, got %s", key,
                           fl_type_name(fl_value_type(v)));
        return false;
    }
    double x = fl_value_number(v);
    if (!(x >= 0) || x > MAX_WHOLE || x != (double)(uint64_t)x) {
        (void)fl_task_fail(ctx, "ValueError", false,
                           TASK ": kwargs.%s must be a whole number from 0 "
                           "to 2^53-1, got %g", key, x);
        return false;
    }
    *out = (uint64_t)x;
    return true;
}

static bool hex_digit(char c, unsigned *d)
{
    if (c >= '0' && c <= '9')
        *d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
        *d = (unsigned)(c - 'a' + 10);
    else
        return false;
    return true;
}

static bool read_sample(fl_task_ctx *ctx, uint64_t *out)
{
    size_t len = 0;
    const char *s = fl_value_string(fl_value_get(fl_task_kwargs(ctx), "sample"), &len);
    uint64_t x = 0;
    unsigned d;
    for (size_t i = 0; s && len == 16 && i < len; i++) {
        if (!hex_digit(s[i], &d))
            break;
        x = x << 4 | d;
        if (i + 1 == len) {
            *out = x;
            return true;
        }
    }
    (void)fl_task_fail(ctx, "ValueError", false,
                       TASK ": kwargs.sample must be 16 lowercase hex digits");
    return false;
}

static bool read_ref(fl_task_ctx *ctx, struct file_ref *r)
{
    size_t len = 0;
    r->path = fl_value_string(fl_value_get(fl_task_kwargs(ctx), "path"), &len);
    if (r->path == NULL || r->path[0] != '/' || strlen(r->path) != len) {
        (void)fl_task_fail(ctx, "ValueError", false,
                           TASK ": kwargs.path must be an absolute path");
        return false;
    }
    if (!whole_kwarg(ctx, "offset", &r->offset) ||
        !whole_kwarg(ctx, "length", &r->length) ||
        !whole_kwarg(ctx, "size", &r->size) ||
        !whole_kwarg(ctx, "mtime_s", &r->mtime_s) ||
        !whole_kwarg(ctx, "mtime_ns", &r->mtime_ns) || !read_sample(ctx, &r->sample))
        return false;
    if (r->offset > r->size || r->length > r->size - r->offset || r->length > SIZE_MAX) {
        (void)fl_task_fail(ctx, "ValueError", false,
                           TASK ": range [%" PRIu64 ", +%" PRIu64 ") is outside a "
                           "file of %" PRIu64 " bytes", r->offset, r->length, r->size);
        return false;
    }
    return true;
}

/* The one refusal: whatever the reason, the caller sees the same words. */
static void not_local(fl_task_ctx *ctx, const char *path)
{
    (void)fl_task_fail(ctx, FL_WC_NOT_LOCAL, false,
                       TASK ": %s is not readable here (node %s)", path,
                       fl_task_node(ctx));
}

/* Same file as the client's, as far as metadata tells. */
static bool same_meta(const struct file_ref *r, const struct stat *st)
{
    return S_ISREG(st->st_mode) && (uint64_t)st->st_size == r->size &&
           (uint64_t)st->st_mtim.tv_sec == r->mtime_s &&
           (uint64_t)st->st_mtim.tv_nsec == r->mtime_ns;
}

/* ------------------------------------------------ allowed directories */

struct fl_wordcount_roots {
    size_t n;
    char **dir;  /* canonical (realpath), no trailing slash except "/" */
};

void fl_wordcount_roots_free(fl_wordcount_roots *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->dir[i]);
    free(r->dir);
    free(r);
}

fl_wordcount_roots *fl_wordcount_roots_new(const char *const *dirs, size_t n, char *err,
                               size_t errlen)
{
    fl_wordcount_roots *r = calloc(1, sizeof *r);
    if (r == NULL || (n && (r->dir = calloc(n, sizeof *r->dir)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        fl_wordcount_roots_free(r);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        char *real = realpath(dirs[i], NULL);
        if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "data directory '%s': %s", dirs[i],
                     real == NULL ? strerror(errno) : "not a directory");
            free(real);
            fl_wordcount_roots_free(r);
            return NULL;
        }
        r->dir[r->n++] = real;
    }
    return r;
}

/* The part of path below an allowed directory (at least one byte), or
 * NULL; *root is that directory. */
static const char *below_root(const fl_wordcount_roots *r, const char *path,
                              const char **root)
{
    for (size_t i = 0; r && i < r->n; i++) {
        const char *d = r->dir[i];
        size_t len = strcmp(d, "/") == 0 ? 0 : strlen(d);
        if (strncmp(path, d, len) == 0 && path[len] == '/' && path[len + 1]) {
            *root = len ? d : "/";
            return path + len + 1;
        }
    }
    return NULL;
}

/* Canonical: no empty, "." or ".." component, no trailing slash. */
static bool canonical(const char *rel)
{
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > NAME_MAX || (len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
    return false; /* ended with a slash */
}

/*
 * Open path for reading if it is a regular file below an allowed directory,
 * walking one component at a time from that directory without following a
 * symbolic link: each component is looked at (fstatat, which opens
 * nothing) before it is opened, and only directories and the final regular
 * file are ever opened (the latter O_NONBLOCK | O_NOCTTY and checked to be
 * the very inode looked at, in case it was swapped in between). Returns the
 * descriptor with *st filled, or -1.
 */
static int open_allowed(const fl_wordcount_roots *roots, const char *path,
                        struct stat *st)
{
    const char *root = NULL;
    const char *rel = below_root(roots, path, &root);
    if (rel == NULL || !canonical(rel) || strlen(path) >= PATH_MAX)
        return -1;
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = -1;
    char name[NAME_MAX + 1];
    while (dir >= 0) {
        const char *slash = strchr(rel, '/');
        size_t len = slash ? (size_t)(slash - rel) : strlen(rel);
        struct stat look;
        memcpy(name, rel, len);
        name[len] = '\0';
        if (fstatat(dir, name, &look, AT_SYMLINK_NOFOLLOW) != 0)
            break;
        if (slash == NULL) {
            if (S_ISREG(look.st_mode))
                fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                           O_NOCTTY | O_CLOEXEC);
            if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) ||
                            st->st_dev != look.st_dev || st->st_ino != look.st_ino)) {
                close(fd);
                fd = -1;
            }
            break;
        }
        if (!S_ISDIR(look.st_mode))
            break;
        int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dir);
        dir = next;
        rel = slash + 1;
    }
    if (dir >= 0)
        close(dir);
    return fd;
}

/* Read exactly len bytes at off; false on a short read or an error. */
static bool read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static bool read_head(int fd, uint64_t size, uint8_t *head, size_t *len)
{
    *len = size < FL_WC_SAMPLE ? (size_t)size : FL_WC_SAMPLE;
    return read_at(fd, head, *len, 0);
}

/* The range's sample hash matches the client's: its ends are the same. */
static bool same_sample(int fd, const struct file_ref *r, const uint8_t *head,
                        size_t head_len)
{
    uint8_t ends[2u * FL_WC_SAMPLE];
    size_t len = (size_t)r->length;
    const uint8_t *last = ends + FL_WC_SAMPLE;
    bool ok;
    if (len <= 2u * FL_WC_SAMPLE)
        ok = read_at(fd, ends, len, r->offset);
    else
        ok = read_at(fd, ends, FL_WC_SAMPLE, r->offset) &&
             read_at(fd, ends + FL_WC_SAMPLE, FL_WC_SAMPLE,
                     r->offset + len - FL_WC_SAMPLE);
    return ok && fl__wc_sample_hash_ends(r->size, head, head_len, ends, last,
                                         len) == r->sample;
}

/* Where the counted part of buf[0..n) ends: after its last separator, so
 * no word is cut; 0 when buf holds no separator. */
static size_t word_cut(const uint8_t *buf, size_t n)
{
    while (n > 0 && fl__wc_is_word_byte(buf[n - 1]))
        n--;
    return n;
}

/*
 * Count the range piece by piece through a small buffer that stays in the
 * cache: reading a whole chunk into fresh memory cost a page fault per
 * 4 KiB and a trip to RAM for every byte (docs/benchmarks.md). Read, not
 * mapped: a file cut short while mapped would kill the node with SIGBUS.
 * The buffer grows only for a word longer than itself. FL_OK, FL_EIO when
 * the file changed under us (*short_read is set), or the table's status.
 */
static fl_status count_pieces(int fd, const struct file_ref *r,
                              fl_wc_table *t, size_t min_len, bool *short_read)
{
    size_t cap = WC_FILE_PIECE, have = 0;
    uint64_t pos = r->offset, end = r->offset + r->length;
    uint8_t *buf = fl__malloc(cap);
    fl_status st = buf ? FL_OK : FL_ENOMEM;
    while (st == FL_OK && (pos < end || have > 0)) {
        size_t want = cap - have;
        if (want > end - pos)
            want = (size_t)(end - pos);
        if (!read_at(fd, buf + have, want, pos)) {
            *short_read = true;
            st = FL_EIO;
            break;
        }
        pos += want;
        have += want;
        size_t cut = pos == end ? have : word_cut(buf, have);
        if (cut == 0 && have == cap) {
            uint8_t *bigger = cap > SIZE_MAX / 2u ? NULL : fl__realloc(buf, cap * 2u);
            if (bigger == NULL) {
                st = FL_ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2u;
            continue;
        }
        st = fl__wc_count(t, buf, cut, min_len);
        memmove(buf, buf + cut, have - cut);
        have -= cut;
    }
    fl__free(buf);
    return st;
}

static void count_range(fl_task_ctx *ctx, int fd, const struct file_ref *r,
                        const uint8_t *head, size_t head_len)
{
    if (!same_sample(fd, r, head, head_len)) {
        not_local(ctx, r->path);
        return;
    }
    size_t min_len;
    fl_wc_table *t = fl__wc_map_start(ctx, TASK, &min_len);
    if (t == NULL)
        return;
    bool short_read = false;
    fl_status st = count_pieces(fd, r, t, min_len, &short_read);
    if (short_read) {
        fl__wc_task_table_done(t);
        not_local(ctx, r->path);
        return;
    }
    fl__wc_map_finish(ctx, TASK, t, st);
}

static void wc_file(fl_task_ctx *ctx, void *ud)
{
    const fl_wordcount_roots *roots = ud;
    struct file_ref r;
    struct stat st;
    uint8_t head[FL_WC_SAMPLE];
    size_t head_len = 0;
    if (!read_ref(ctx, &r))
        return;
    int fd = open_allowed(roots, r.path, &st);
    if (fd < 0) {
        not_local(ctx, r.path);
        return;
    }
    if (!same_meta(&r, &st) || !read_head(fd, r.size, head, &head_len))
        not_local(ctx, r.path);
    else
        count_range(ctx, fd, &r, head, head_len);
    close(fd);
}

fl_status fl_register_wordcount_file(fl_registry *reg, const fl_wordcount_roots *roots)
{
    return fl_registry_add(reg, "wc.file", wc_file, (void *)roots);
}
