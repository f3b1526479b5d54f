/*
 * ident.c - who this process is: the default node id (<hostname>-<pid>),
 * kernel randomness for the incarnation and seeds, and the machine name
 * published in presence.
 * Depends on posix.h and POSIX unistd/utsname (getrandom where it exists).
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

static bool id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

void fl__default_node_id(char *out, size_t cap)
{
    char host[256] = "";
    char pid[24];
    size_t room, n, i;

    if (cap == 0)
        return;
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        strcpy(host, "node");
    host[sizeof host - 1] = '\0';
    snprintf(pid, sizeof pid, "-%ld", (long)getpid());
    /* The pid is what makes the id unique, so the host name gives way. */
    room = (cap - 1 < FL_MAX_ID ? cap - 1 : FL_MAX_ID);
    room = room > strlen(pid) ? room - strlen(pid) : 0;
    n = strlen(host);
    if (n > room)
        n = room;
    for (i = 0; i < n; i++)
        out[i] = id_char(host[i]) ? host[i] : '-';
    out[n] = '\0';
    strncat(out, pid, cap - 1 - n);
}

static fl_status urandom(void *out, size_t len)
{
    unsigned char *p = out;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FL_EIO;
    while (len > 0) {
        ssize_t k = read(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return FL_EIO;
        }
        p += k;
        len -= (size_t)k;
    }
    close(fd);
    return FL_OK;
}

fl_status fl__random_bytes(void *out, size_t len)
{
#if defined(__linux__)
    unsigned char *p = out;
    size_t left = len;
    while (left > 0) {
        ssize_t k = getrandom(p, left, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return urandom(out, len); /* old kernel without getrandom */
        p += k;
        left -= (size_t)k;
    }
    return FL_OK;
#else
    return urandom(out, len);
#endif
}

void fl__machine(char *out, size_t cap)
{
    struct utsname u;
    if (cap == 0)
        return;
    if (uname(&u) == 0 && u.machine[0] != '\0')
        snprintf(out, cap, "%s", u.machine);
    else
        snprintf(out, cap, "unknown");
}
