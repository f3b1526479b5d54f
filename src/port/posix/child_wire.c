/*
 * child_wire.c - the frames a node and its child processes exchange over
 * a socket pair (see child.h): writing numbers and byte strings into a
 * buffer, reading them back with bounds checks, and sending or receiving
 * a whole frame. Both ends are the same build, so the format is private.
 * Depends on child.h, buf.h, alloc.h and POSIX sockets.
 */
#include "child.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "alloc.h"

#define NONE UINT32_MAX

void fl__wire_u32(fl_buf *b, uint32_t x)
{
    uint8_t p[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    fl__buf_put(b, p, sizeof p);
}

void fl__wire_u64(fl_buf *b, uint64_t x)
{
    fl__wire_u32(b, (uint32_t)x);
    fl__wire_u32(b, (uint32_t)(x >> 32));
}

void fl__wire_bytes(fl_buf *b, const void *p, size_t len)
{
    if (!p || len >= NONE) {
        fl__wire_u32(b, NONE);
        return;
    }
    fl__wire_u32(b, (uint32_t)len);
    fl__buf_put(b, p, len);
}

void fl__wire_str(fl_buf *b, const char *s)
{
    if (!s) {
        fl__wire_u32(b, NONE);
        return;
    }
    size_t n = strlen(s);
    fl__wire_u32(b, (uint32_t)(n + 1));
    fl__buf_put(b, s, n + 1);
}

uint32_t fl__wire_get_u32(fl_frame *f)
{
    if (f->bad || f->len - f->pos < 4) {
        f->bad = true;
        return 0;
    }
    const uint8_t *p = f->data + f->pos;
    f->pos += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

uint64_t fl__wire_get_u64(fl_frame *f)
{
    uint64_t lo = fl__wire_get_u32(f);
    return lo | (uint64_t)fl__wire_get_u32(f) << 32;
}

const uint8_t *fl__wire_get_bytes(fl_frame *f, size_t *len)
{
    uint32_t n = fl__wire_get_u32(f);
    *len = 0;
    if (f->bad || n == NONE)
        return NULL;
    if (f->len - f->pos < n) {
        f->bad = true;
        return NULL;
    }
    const uint8_t *p = f->data + f->pos;
    f->pos += n;
    *len = n;
    return p;
}

const char *fl__wire_get_str(fl_frame *f)
{
    size_t n;
    const uint8_t *p = fl__wire_get_bytes(f, &n);
    if (!p)
        return NULL;
    if (n == 0 || p[n - 1] != '\0') {
        f->bad = true;
        return NULL;
    }
    return (const char *)p;
}

fl_status fl__frame_send(int fd, uint8_t type, const fl_buf *body)
{
    size_t n = body ? body->len : 0;
    if (body && !fl__buf_ok(body))
        return FL_ENOMEM;
    if (n >= UINT32_MAX - 1)
        return FL_ETOOBIG;
    uint32_t total = (uint32_t)n + 1;
    uint8_t head[5] = {(uint8_t)total, (uint8_t)(total >> 8), (uint8_t)(total >> 16),
                       (uint8_t)(total >> 24), type};
    struct iovec iov[2] = {{.iov_base = head, .iov_len = sizeof head},
                           {.iov_base = n ? body->data : NULL, .iov_len = n}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    while (msg.msg_iovlen > 0) {
        /* MSG_NOSIGNAL: a child that died must not kill the node. */
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FL_EIO;
        size_t done = (size_t)w;
        while (msg.msg_iovlen > 0 && done >= msg.msg_iov[0].iov_len) {
            done -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + done;
            msg.msg_iov[0].iov_len -= done;
        }
    }
    return FL_OK;
}

size_t fl__reader_pending(const fl_reader *rd)
{
    return rd ? rd->len - rd->pos : 0;
}

/* len bytes into p, the reader's first: 1, 0 at end of file before any
 * byte, -1 on an error or an end midway. */
static int recv_all(int fd, fl_reader *rd, void *p, size_t len)
{
    uint8_t *q = p;
    size_t got = 0;
    if (rd && rd->pos < rd->len) {
        size_t k = rd->len - rd->pos < len ? rd->len - rd->pos : len;
        memcpy(q, rd->buf + rd->pos, k);
        rd->pos += k;
        got = k;
    }
    while (got < len) {
        ssize_t r;
        bool fill = rd && len - got < sizeof rd->buf;
        if (fill) /* a short rest: read ahead into the reader */
            r = read(fd, rd->buf, sizeof rd->buf);
        else
            r = read(fd, q + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0)
            return 0;
        if (r <= 0)
            return -1;
        if (fill) {
            size_t k = (size_t)r < len - got ? (size_t)r : len - got;
            memcpy(q + got, rd->buf, k);
            rd->pos = k;
            rd->len = (size_t)r;
            got += k;
        } else {
            got += (size_t)r;
        }
    }
    return 1;
}

int fl__frame_recv(int fd, fl_reader *rd, fl_frame *f, size_t max)
{
    uint8_t head[5];
    memset(f, 0, sizeof *f);
    int r = recv_all(fd, rd, head, sizeof head);
    if (r <= 0)
        return r;
    uint32_t total = (uint32_t)head[0] | (uint32_t)head[1] << 8 |
                     (uint32_t)head[2] << 16 | (uint32_t)head[3] << 24;
    if (total == 0 || total - 1 > max)
        return -1;
    f->type = head[4];
    f->len = total - 1;
    f->data = fl__malloc(f->len ? f->len : 1);
    if (!f->data)
        return -1;
    if (f->len && recv_all(fd, rd, f->data, f->len) != 1) {
        fl__frame_free(f);
        return -1;
    }
    return 1;
}

void fl__frame_free(fl_frame *f)
{
    fl__free(f->data);
    f->data = NULL;
    f->len = f->pos = 0;
}
