/*
 * broker_auth.c - what a connection to the broker needs beyond its URL:
 * the CA file, client certificate and key for mqtts://, and a password
 * that can come from a file or the environment instead of the command
 * line (where /proc/PID/cmdline shows it to every user). Each refusal
 * names the file or option and what is wrong with it.
 * Also fl_broker_check, the public check of the same.
 * Depends on hosted.h, the core's alloc.h and POSIX.
 */
#include "hosted.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

static fl_status fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static fl_status fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FL_EINVAL;
}

/* given, else the environment variable, else NULL. */
static const char *pick(const char *given, const char *var)
{
    const char *env;
    if (given && given[0])
        return given;
    env = getenv(var);
    return env && env[0] ? env : NULL;
}

static fl_status take_file(const char *path, const char *what, char *out,
                           char *err, size_t errlen)
{
    if (!path)
        return FL_OK;
    if (strlen(path) >= FL_PATH_BUF)
        return fail(err, errlen, "%s '%.200s...': path too long", what, path);
    if (access(path, R_OK) != 0)
        return fail(err, errlen, "%s '%s': %s", what, path, strerror(errno));
    snprintf(out, FL_PATH_BUF, "%s", path);
    return FL_OK;
}

/* The first line of path, without its line end, into out (cap bytes). */
static fl_status read_password(const char *path, const char *what, char *out,
                               size_t cap, char *err, size_t errlen)
{
    char line[1024];
    size_t n;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "%s '%s': %s", what, path, strerror(errno));
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0)
        return fail(err, errlen, "%s '%s': the first line is empty", what, path);
    if (n >= cap)
        return fail(err, errlen, "%s '%s': the password is too long", what, path);
    memcpy(out, line, n + 1);
    return FL_OK;
}

static fl_status resolve_password(const fl_broker_opts *in, fl_url *u,
                                  char *err, size_t errlen)
{
    const char *env;
    bool from_opt = (in->password && in->password[0]) ||
                    (in->password_file && in->password_file[0]);
    if (in->password && in->password[0]) {
        if (strlen(in->password) >= sizeof u->pass)
            return fail(err, errlen, "the broker password is too long");
        snprintf(u->pass, sizeof u->pass, "%s", in->password);
    } else if (in->password_file && in->password_file[0]) {
        fl_status st = read_password(in->password_file, "password file", u->pass,
                                     sizeof u->pass, err, errlen);
        if (st != FL_OK)
            return st;
    } else if (!u->pass[0]) {
        if ((env = getenv("FLORET_PASSWORD_FILE")) && env[0]) {
            fl_status st = read_password(env, "$FLORET_PASSWORD_FILE", u->pass,
                                         sizeof u->pass, err, errlen);
            if (st != FL_OK)
                return st;
            from_opt = true;
        } else if ((env = getenv("FLORET_PASSWORD")) && env[0]) {
            if (strlen(env) >= sizeof u->pass)
                return fail(err, errlen, "$FLORET_PASSWORD is too long");
            snprintf(u->pass, sizeof u->pass, "%s", env);
            from_opt = true;
        }
    }
    if (from_opt && !u->has_user)
        return fail(err, errlen,
                    "a broker password needs a user name: write it in the URL, "
                    "%s://USER@%s", u->tls ? "mqtts" : "mqtt", u->host);
    return FL_OK;
}

fl_status fl__broker_resolve(const fl_broker_opts *in, fl_url *u, char *err,
                             size_t errlen)
{
    static const fl_broker_opts none;
    const char *ca, *cert, *key;
    fl_status st;

    if (!in)
        in = &none;
    st = fl__url_parse(fl__broker_url(in->url), u, err, errlen);
    if (st != FL_OK)
        return st;
    ca = pick(in->ca_file, "FLORET_TLS_CA_FILE");
    cert = pick(in->cert_file, "FLORET_TLS_CERT_FILE");
    key = pick(in->key_file, "FLORET_TLS_KEY_FILE");
    if ((ca || cert || key) && !u->tls)
        return fail(err, errlen,
                    "a CA file, certificate or key is given but broker %s does not "
                    "use TLS; write mqtts://%s",
                    u->text, u->host);
    if (cert && !key)
        return fail(err, errlen, "a client certificate needs its key "
                    "(--tls-key or $FLORET_TLS_KEY_FILE)");
    if (key && !cert)
        return fail(err, errlen, "a client key needs its certificate "
                    "(--tls-cert or $FLORET_TLS_CERT_FILE)");
    if ((st = take_file(ca, "CA file", u->ca_file, err, errlen)) != FL_OK ||
        (st = take_file(cert, "certificate", u->cert_file, err, errlen)) != FL_OK ||
        (st = take_file(key, "key", u->key_file, err, errlen)) != FL_OK)
        return st;
    return resolve_password(in, u, err, errlen);
}

fl_status fl_broker_resolve(const fl_node_options *o, fl_broker_settings *out,
                            char *err, size_t errlen)
{
    fl_node_options defaults;
    fl_url *u;
    if (!o) {
        fl_node_options_init(&defaults);
        o = &defaults;
    }
    u = fl__calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return FL_ENOMEM;
    }
    fl_broker_opts bo = {
        .url = o->broker_url, .ca_file = o->tls_ca_file, .cert_file = o->tls_cert_file,
        .key_file = o->tls_key_file, .password = o->password,
        .password_file = o->password_file,
    };
    fl_status st = fl__broker_resolve(&bo, u, err, errlen);
    if (st == FL_OK) {
        memset(out, 0, sizeof *out);
        out->tls = u->tls;
        out->port = u->port;
        out->has_user = u->has_user;
        snprintf(out->host, sizeof out->host, "%s", u->host);
        snprintf(out->user, sizeof out->user, "%s", u->user);
        snprintf(out->password, sizeof out->password, "%s", u->pass);
        snprintf(out->url, sizeof out->url, "%s", u->text);
        snprintf(out->ca_file, sizeof out->ca_file, "%s", u->ca_file);
        snprintf(out->cert_file, sizeof out->cert_file, "%s", u->cert_file);
        snprintf(out->key_file, sizeof out->key_file, "%s", u->key_file);
    }
    memset(u->pass, 0, sizeof u->pass);
    fl__free(u);
    return st;
}

fl_status fl_broker_check(const fl_node_options *o, char *url, size_t cap, char *err,
                          size_t errlen)
{
    /* Big (three paths): not on the caller's stack. */
    fl_broker_settings *b = fl__calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return FL_ENOMEM;
    }
    fl_status st = fl_broker_resolve(o, b, err, errlen);
    if (st == FL_OK && url && cap)
        snprintf(url, cap, "%s", b->url);
    memset(b->password, 0, sizeof b->password);
    fl__free(b);
    return st;
}
