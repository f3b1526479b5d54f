/*
 * journal.c - a durable keeper's journal (`floret node --state-dir DIR`,
 * docs/protocol.md 3.8 "Durable keepers"): the file DIR/keeper-<id>.journal,
 * one record (a line of JSON written by the core, kept.c) per change of a
 * workflow kept for another node, appended with one write() and made
 * durable with fdatasync() before the core tells any client of the change.
 * At start the records are read back into the core, which resumes what had
 * not ended; the file is then rewritten with only what is still kept
 * (written beside it, fsync'd, renamed over it), and again whenever it has
 * grown to four times that. An exclusive flock() keeps a second node off
 * the same file. A torn last line (a crash inside a write) is dropped.
 * Depends on posix.h, core.h and POSIX fcntl/unistd/sys/file.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

#define COMPACT_MIN 1024u /* records before a rewrite is worth it */

static int sync_fd(int fd)
{
#if defined(__APPLE__)
    return fsync(fd);
#else
    return fdatasync(fd);
#endif
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* One record and its newline in one write, so that a crash leaves at most
 * the last line torn. */
static bool append(fl_journal *j, int fd, const char *rec, size_t len)
{
    if (len + 1 > j->line_cap) {
        size_t cap = (len + 1) * 2;
        char *nb = fl__realloc(j->line, cap);
        if (!nb)
            return false;
        j->line = nb;
        j->line_cap = cap;
    }
    memcpy(j->line, rec, len);
    j->line[len] = '\n';
    return write_all(fd, j->line, len + 1);
}

static bool dump_one(void *ud, const char *rec, size_t len)
{
    fl_journal *j = ud;
    return append(j, j->tmp_fd, rec, len);
}

/* Make the directory entry of a rename durable too. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Rewrite the file with only the records that restore what the core
 * keeps now. On failure the old file stays as it was. */
static bool compact(fl_journal *j, fl_core *core)
{
    char tmp[sizeof j->path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
    j->tmp_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j->tmp_fd < 0) {
        fl__plog(j->log, FL_LOG_ERROR, "journal: cannot write %s: %s", tmp,
                 strerror(errno));
        return false;
    }
    bool ok = fl_core_kept_dump(core, dump_one, j) && sync_fd(j->tmp_fd) == 0;
    close(j->tmp_fd);
    j->tmp_fd = -1;
    if (!ok || rename(tmp, j->path) != 0) {
        fl__plog(j->log, FL_LOG_ERROR, "journal: cannot rewrite %s: %s",
                 j->path, strerror(errno));
        unlink(tmp);
        return false;
    }
    sync_dir(j->dir);
    /* The lock and the appends go to the new file from now on. */
    int fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (fd >= 0)
            close(fd);
        fl__plog(j->log, FL_LOG_ERROR, "journal: cannot reopen %s: %s",
                 j->path, strerror(errno));
        return false;
    }
    close(j->fd);
    j->fd = fd;
    return true;
}

bool fl__journal_store(fl_journal *j, fl_core *core, const char *rec,
                       size_t len)
{
    if (j->fd < 0)
        return false;
    if (!append(j, j->fd, rec, len) || sync_fd(j->fd) != 0) {
        fl__plog(j->log, FL_LOG_ERROR, "journal: cannot write %s: %s",
                 j->path, strerror(errno));
        return false;
    }
    uint64_t stored, live;
    fl_core_kept_counts(core, &stored, &live);
    if (stored >= COMPACT_MIN && stored > 4 * live)
        j->compact_due = true; /* not inside the core's call: after it */
    return true;
}

void fl__journal_maintain(fl_journal *j, fl_core *core)
{
    if (j && j->compact_due) {
        j->compact_due = false;
        compact(j, core);
    }
}

fl_status fl__journal_open(fl_journal *j, const char *dir, const char *node_id,
                           fl_logger *log)
{
    memset(j, 0, sizeof *j);
    j->fd = j->tmp_fd = -1;
    j->log = log;
    if (strlen(dir) + strlen(node_id) + 32 > sizeof j->path) {
        fl__plog(log, FL_LOG_ERROR, "state dir '%s': the path is too long", dir);
        return FL_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fl__plog(log, FL_LOG_ERROR, "state dir '%s': cannot create it: %s", dir,
                 strerror(errno));
        return FL_EIO;
    }
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    snprintf(j->path, sizeof j->path, "%s/keeper-%s.journal", dir, node_id);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        fl__plog(log, FL_LOG_ERROR, "state dir '%s': cannot open %s: %s", dir,
                 j->path, strerror(errno));
        return FL_EIO;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        fl__plog(log, FL_LOG_ERROR, "state dir '%s': %s is in use by another "
                 "node process", dir, j->path);
        close(j->fd);
        j->fd = -1;
        return FL_EEXIST;
    }
    return FL_OK;
}

static char *read_file(int fd, size_t *len)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size < 0)
        return NULL;
    size_t n = (size_t)sb.st_size, got = 0;
    char *buf = fl__malloc(n + 1);
    if (!buf)
        return NULL;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

fl_status fl__journal_load(fl_journal *j, fl_core *core, uint64_t now)
{
    char err[200];
    size_t len = 0, lines = 0, bad = 0;
    char *buf = read_file(j->fd, &len);
    if (!buf) {
        fl__plog(j->log, FL_LOG_ERROR, "journal: cannot read %s: %s", j->path,
                 strerror(errno));
        return FL_EIO;
    }
    for (size_t at = 0; at < len;) {
        char *nl = memchr(buf + at, '\n', len - at);
        if (!nl) {
            fl__plog(j->log, FL_LOG_WARN, "journal %s: the last record is "
                     "incomplete (a crash while writing it): dropped", j->path);
            break;
        }
        size_t n = (size_t)(nl - (buf + at));
        lines++;
        if (n > 0 && fl_core_kept_load(core, buf + at, n, now, err, sizeof err) != FL_OK) {
            bad++;
            fl__plog(j->log, FL_LOG_WARN, "journal %s, line %zu: %s: skipped",
                     j->path, lines, err);
        }
        at += n + 1;
    }
    fl__free(buf);
    fl_core_kept_resume(core, now);
    if (bad)
        fl__plog(j->log, FL_LOG_WARN, "journal %s: %zu of %zu records skipped",
                 j->path, bad, lines);
    return compact(j, core) ? FL_OK : FL_EIO;
}

void fl__journal_close(fl_journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    fl__free(j->line);
    j->line = NULL;
    j->line_cap = 0;
}
