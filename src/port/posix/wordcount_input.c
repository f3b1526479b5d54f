/*
 * wordcount_input.c - the inputs of a word count (`floret wordcount`,
 * fl_wordcount_files) and their chunks.
 * A regular file is mapped whole (nothing is copied until a chunk's bytes
 * must travel, and with locality they never do); anything else (standard
 * input, a pipe) is read through a buffer of about two chunks, so memory
 * follows the chunk size, not the input. Every chunk ends at a word
 * boundary (fl__wc_chunk_end); a word longer than the chunk size becomes
 * a chunk of its own.
 * Depends on wordcount_client.h, src/tasks/wordcount.h and POSIX (mmap).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wordcount_client.h"

static void set_err(char *err, size_t errlen, const char *name, const char *why)
{
    snprintf(err, errlen, "%s: %s", name, why);
}

/* Map a regular file and remember its absolute path for locality. */
static int open_mapped(struct wc_input *in, char *err, size_t errlen)
{
    in->size = (uint64_t)in->st.st_size;
    if (in->size > SIZE_MAX) {
        set_err(err, errlen, in->name, "too large to map");
        return -1;
    }
    if (in->size > 0) {
        void *m = mmap(NULL, (size_t)in->size, PROT_READ, MAP_PRIVATE, in->fd, 0);
        if (m == MAP_FAILED)
            return 1; /* e.g. a special file system: read it as a stream */
        in->map = m;
    }
    char resolved[PATH_MAX];
    if (realpath(in->name, resolved) != NULL)
        in->path = strdup(resolved); /* NULL only disables locality */
    return 0;
}

int fl__wci_open(struct wc_input *in, const char *name, char *err, size_t errlen)
{
    memset(in, 0, sizeof *in);
    in->name = name;
    in->fd = -1;
    if (strcmp(name, "-") == 0) {
        in->name = "(standard input)";
        in->fd = STDIN_FILENO;
    } else if ((in->fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        set_err(err, errlen, name, strerror(errno));
        return -1;
    }
    if (fstat(in->fd, &in->st) != 0) {
        set_err(err, errlen, in->name, strerror(errno));
        fl__wci_close(in);
        return -1;
    }
    if (S_ISDIR(in->st.st_mode)) {
        set_err(err, errlen, in->name, "is a directory");
        fl__wci_close(in);
        return -1;
    }
    if (S_ISREG(in->st.st_mode) && in->fd != STDIN_FILENO) {
        int rc = open_mapped(in, err, errlen);
        if (rc < 0) {
            fl__wci_close(in);
            return -1;
        }
    }
    return 0;
}

static int next_mapped(struct wc_input *in, size_t target, struct wc_chunk *c)
{
    if (in->pos >= in->size)
        return 0;
    size_t avail = (size_t)(in->size - in->pos);
    size_t k = fl__wc_chunk_end(in->map + in->pos, avail, target, true);
    c->offset = in->pos;
    c->len = k;
    c->data = in->map + in->pos;
    in->pos += k;
    return 1;
}

/* Read until the buffer is full or the stream ends. */
static int fill(struct wc_input *in, char *err, size_t errlen)
{
    while (!in->eof && in->len < in->cap) {
        ssize_t n = read(in->fd, in->buf + in->len, in->cap - in->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, errlen, in->name, strerror(errno));
            return -1;
        }
        if (n == 0)
            in->eof = true;
        in->len += (size_t)n;
    }
    return 0;
}

static int grow(struct wc_input *in, size_t want, char *err, size_t errlen)
{
    if (in->cap >= want)
        return 0;
    uint8_t *b = realloc(in->buf, want);
    if (b == NULL) {
        set_err(err, errlen, in->name, "out of memory");
        return -1;
    }
    in->buf = b;
    in->cap = want;
    return 0;
}

static int next_streamed(struct wc_input *in, size_t target, struct wc_chunk *c,
                         char *err, size_t errlen)
{
    if (grow(in, target <= SIZE_MAX / 2 ? target * 2 : target, err, errlen) != 0)
        return -1;
    for (;;) {
        if (fill(in, err, errlen) != 0)
            return -1;
        if (in->len == 0)
            return 0;
        size_t k = fl__wc_chunk_end(in->buf, in->len, target, in->eof);
        if (k > 0) {
            c->owned = malloc(k);
            if (c->owned == NULL) {
                set_err(err, errlen, in->name, "out of memory");
                return -1;
            }
            memcpy(c->owned, in->buf, k);
            memmove(in->buf, in->buf + k, in->len - k);
            in->len -= k;
            c->data = c->owned;
            c->len = k;
            c->offset = in->pos;
            in->pos += k;
            return 1;
        }
        /* One word fills the buffer: make room for the rest of it. */
        if (in->cap > SIZE_MAX / 2 || grow(in, in->cap * 2, err, errlen) != 0) {
            set_err(err, errlen, in->name, "out of memory (a very long word)");
            return -1;
        }
    }
}

int fl__wci_next(struct wc_input *in, size_t target, struct wc_chunk *c,
                  char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->in = in;
    if (in->map != NULL || (in->path != NULL && in->size == 0))
        return next_mapped(in, target, c);
    return next_streamed(in, target, c, err, errlen);
}

uint64_t fl__wci_sample(const struct wc_chunk *c)
{
    const struct wc_input *in = c->in;
    size_t head = in->size < FL_WC_SAMPLE ? (size_t)in->size : FL_WC_SAMPLE;
    return fl__wc_sample_hash(in->size, in->map, head, c->data, c->len);
}

void fl__wci_release(struct wc_chunk *c)
{
    free(c->owned);
    c->owned = NULL;
    c->data = NULL;
}

void fl__wci_close(struct wc_input *in)
{
    if (in->map != NULL)
        munmap((void *)in->map, (size_t)in->size);
    if (in->fd > STDIN_FILENO)
        close(in->fd);
    free(in->path);
    free(in->buf);
    memset(in, 0, sizeof *in);
    in->fd = -1;
}
