/*
 * url.c - broker URLs: mqtt://[user:pass@]host[:port] (port 1883) and
 * mqtts://... (TLS, port 8883), with %XX escapes in user and password and
 * [v6:addr] hosts. Every rejection says what is wrong with the URL.
 * Depends on hosted.h and the C library.
 */
#include "hosted.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *fl__broker_url(const char *given)
{
    const char *env;
    if (given && given[0])
        return given;
    env = getenv("FLORET_BROKER");
    if (env && env[0])
        return env;
    return FL_DEFAULT_BROKER;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (cap bytes). False when malformed or too
 * long; the caller names the part. */
static bool decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return false;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

static fl_status fail(char *err, size_t errlen, const char *url,
                      const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "bad broker URL '%s': %s", url, why);
    return FL_EINVAL;
}

static bool parse_port(const char *s, size_t n, int *port)
{
    long v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/* host[:port] or [v6]:port in s[0..n). */
static fl_status parse_hostport(const char *url, const char *s, size_t n,
                                fl_url *u, char *err, size_t errlen)
{
    const char *host = s, *port = NULL;
    size_t hlen = n, plen = 0;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return fail(err, errlen, url, "'[' without a closing ']'");
        host = s + 1;
        hlen = (size_t)(close - host);
        if ((size_t)(close + 1 - s) < n) {
            if (close[1] != ':')
                return fail(err, errlen, url, "expected ':' after ']'");
            port = close + 2;
            plen = n - (size_t)(port - s);
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
            plen = n - hlen - 1;
            if (memchr(port, ':', plen))
                return fail(err, errlen, url,
                            "an IPv6 address must be in brackets, as [::1]");
        }
    }
    if (hlen == 0)
        return fail(err, errlen, url, "no host name");
    if (hlen >= sizeof u->host)
        return fail(err, errlen, url, "host name too long");
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == '/' || c == '@' || c == '?' || c == '#')
            return fail(err, errlen, url, "invalid character in host name");
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (port && !parse_port(port, plen, &u->port))
        return fail(err, errlen, url, "port must be a number from 1 to 65535");
    return FL_OK;
}

static fl_status parse_userinfo(const char *url, const char *s, size_t n,
                                fl_url *u, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (ulen == 0)
        return fail(err, errlen, url, "empty user name before '@'");
    if (!decode(s, ulen, u->user, sizeof u->user))
        return fail(err, errlen, url, "bad %-escape or too long user name");
    if (colon && !decode(colon + 1, n - ulen - 1, u->pass, sizeof u->pass))
        return fail(err, errlen, url, "bad %-escape or too long password");
    u->has_user = true;
    return FL_OK;
}

static void format_text(fl_url *u)
{
    bool v6 = strchr(u->host, ':') != NULL;
    snprintf(u->text, sizeof u->text, "%s://%s%s%s%s%s:%d",
             u->tls ? "mqtts" : "mqtt", u->has_user ? u->user : "",
             u->has_user ? "@" : "", v6 ? "[" : "", u->host, v6 ? "]" : "",
             u->port);
}

fl_status fl__url_parse(const char *url, fl_url *u, char *err, size_t errlen)
{
    const char *rest, *end, *at;
    fl_status st;

    memset(u, 0, sizeof *u);
    if (!url || !url[0])
        return fail(err, errlen, "", "empty");
    if (strncasecmp(url, "mqtt://", 7) == 0) {
        rest = url + 7;
        u->port = 1883;
    } else if (strncasecmp(url, "mqtts://", 8) == 0) {
        rest = url + 8;
        u->tls = true;
        u->port = 8883;
    } else if (strstr(url, "://")) {
        return fail(err, errlen, url, "the scheme must be mqtt:// or mqtts://");
    } else {
        return fail(err, errlen, url,
                    "missing scheme; write mqtt://host[:port] or mqtts://host[:port]");
    }
    end = rest + strcspn(rest, "/?#");
    if (*end != '\0' && strcmp(end, "/") != 0)
        return fail(err, errlen, url, "a path, query or fragment is not allowed");
    at = NULL;
    for (const char *p = rest; p < end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        st = parse_userinfo(url, rest, (size_t)(at - rest), u, err, errlen);
        if (st != FL_OK)
            return st;
        rest = at + 1;
    }
    st = parse_hostport(url, rest, (size_t)(end - rest), u, err, errlen);
    if (st != FL_OK)
        return st;
    format_text(u);
    return FL_OK;
}
