/*
 * wake.c - the loop's doorbell: a non-blocking self-pipe it polls beside
 * the MQTT socket. A pipe rather than eventfd keeps the port POSIX; the
 * inbox rings it only on the empty -> non-empty edge, so it is cheap.
 * Depends on posix.h and POSIX unistd/fcntl.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

fl_status fl__wake_open(fl_wake *w)
{
    int fds[2];
    w->rd = w->wr = -1;
    if (pipe(fds) != 0)
        return FL_EIO;
    if (set_flags(fds[0]) < 0 || set_flags(fds[1]) < 0) {
        close(fds[0]);
        close(fds[1]);
        return FL_EIO;
    }
    w->rd = fds[0];
    w->wr = fds[1];
    return FL_OK;
}

void fl__wake_close(fl_wake *w)
{
    if (w->rd >= 0)
        close(w->rd);
    if (w->wr >= 0)
        close(w->wr);
    w->rd = w->wr = -1;
}

void fl__wake_ring(fl_wake *w)
{
    char b = 1;
    /* A full pipe already means "wake up", so EAGAIN is success. */
    while (write(w->wr, &b, 1) < 0 && errno == EINTR) {
    }
}

void fl__wake_drain(fl_wake *w)
{
    char buf[64];
    for (int i = 0; i < 64; i++) {
        ssize_t k = read(w->rd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < (ssize_t)sizeof buf)
            break;
    }
}
