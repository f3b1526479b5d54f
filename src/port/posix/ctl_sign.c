/*
 * ctl_sign.c - Ed25519 keys and signed control messages (see ctl_sign.h).
 * A signature covers the canonical text
 *   floret-ctl-v1 \n cluster \n kind \n target \n version \n ts \n sha256(att)
 * (each field followed by a newline, sha256 in hex, empty without an
 * attachment), so it binds the message to one cluster, one module or node,
 * one source and one moment; the JSON around it may be re-encoded freely.
 * Depends on ctl_sign.h, libsodium, the core's alloc.h and the C library.
 */
#include "ctl_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"

#define PUB_TAG "floret-ed25519-public"
#define KEY_TAG "floret-ed25519-secret"

fl_status fl__ctl_init(void)
{
    return sodium_init() < 0 ? FL_EIO : FL_OK;
}

static void key_id(fl_ctl_key *k)
{
    sodium_bin2hex(k->id, sizeof k->id, k->pk, FL_CTL_KEYID_HEX / 2);
}

fl_status fl__ctl_keygen(fl_ctl_key *k)
{
    memset(k, 0, sizeof *k);
    if (fl__ctl_init() != FL_OK || crypto_sign_keypair(k->pk, k->sk) != 0)
        return FL_EIO;
    k->has_secret = true;
    key_id(k);
    return FL_OK;
}

static fl_status write_file(const char *path, int mode, const char *text,
                            char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == EEXIST ? FL_EEXIST : FL_EIO;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    if (close(fd) != 0 || w != (ssize_t)len) {
        snprintf(err, errlen, "%s: write failed", path);
        unlink(path);
        return FL_EIO;
    }
    return FL_OK;
}

fl_status fl__ctl_key_write(const fl_ctl_key *k, const char *prefix, char *err,
                            size_t errlen)
{
    char path[4096], hex[FL_CTL_SK_BYTES * 2 + 1], text[sizeof hex + 64];
    fl_status st;
    snprintf(path, sizeof path, "%s.key", prefix);
    sodium_bin2hex(hex, sizeof hex, k->sk, sizeof k->sk);
    snprintf(text, sizeof text, "%s %s\n", KEY_TAG, hex);
    st = write_file(path, 0600, text, err, errlen);
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(text, sizeof text);
    if (st != FL_OK)
        return st;
    snprintf(path, sizeof path, "%s.pub", prefix);
    sodium_bin2hex(hex, sizeof hex, k->pk, sizeof k->pk);
    snprintf(text, sizeof text, "%s %s\n", PUB_TAG, hex);
    return write_file(path, 0644, text, err, errlen);
}

static bool from_hex(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
    size_t got = 0;
    return hexlen == n * 2 &&
           sodium_hex2bin(out, n, hex, hexlen, NULL, &got, NULL) == 0 && got == n;
}

fl_status fl__ctl_key_read(const char *path, fl_ctl_key *k, char *err,
                           size_t errlen)
{
    char text[512];
    memset(k, 0, sizeof *k);
    if (fl__ctl_init() != FL_OK) {
        snprintf(err, errlen, "%s: libsodium could not start", path);
        return FL_EIO;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return FL_EIO;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    text[strcspn(text, "\r\n")] = '\0';
    const char *sp = strchr(text, ' ');
    size_t taglen = sp ? (size_t)(sp - text) : 0;
    bool ok = false;
    if (sp && taglen == strlen(PUB_TAG) && memcmp(text, PUB_TAG, taglen) == 0) {
        ok = from_hex(sp + 1, strlen(sp + 1), k->pk, sizeof k->pk);
    } else if (sp && taglen == strlen(KEY_TAG) && memcmp(text, KEY_TAG, taglen) == 0) {
        ok = from_hex(sp + 1, strlen(sp + 1), k->sk, sizeof k->sk);
        if (ok) {
            crypto_sign_ed25519_sk_to_pk(k->pk, k->sk);
            k->has_secret = true;
        }
    }
    sodium_memzero(text, sizeof text);
    if (!ok) {
        snprintf(err, errlen, "%s: not a floret key file (expected a line '%s HEX' "
                 "or '%s HEX', as written by floret keygen)", path, PUB_TAG, KEY_TAG);
        return FL_EINVAL;
    }
    key_id(k);
    return FL_OK;
}

void fl__ctl_version(const void *src, size_t len,
                     char out[FL_CTL_VERSION_HEX + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, src, len);
    sodium_bin2hex(out, FL_CTL_VERSION_HEX + 1, h, FL_CTL_VERSION_HEX / 2);
}

/* The canonical text a signature covers; NULL when out of memory. */
static char *canonical(const char *cluster, const fl_ctl_msg *m, size_t *len)
{
    char hash[crypto_hash_sha256_BYTES * 2 + 1] = "";
    if (m->att) {
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, m->att, m->att_len);
        sodium_bin2hex(hash, sizeof hash, h, sizeof h);
    }
    size_t cap = strlen(cluster) + sizeof m->kind + sizeof m->target +
                 sizeof m->version + sizeof hash + 64;
    char *text = fl__malloc(cap);
    if (!text)
        return NULL;
    int n = snprintf(text, cap, "floret-ctl-v1\n%s\n%s\n%s\n%s\n%llu\n%s\n", cluster,
                     m->kind, m->target, m->version, (unsigned long long)m->ts, hash);
    *len = n > 0 ? (size_t)n : 0;
    return text;
}

fl_status fl__ctl_build(const char *cluster, const char *from, fl_ctl_msg *m,
                        const void *att, size_t att_len, const fl_ctl_key *k,
                        uint8_t **out, size_t *out_len)
{
    char sighex[FL_CTL_SIG_BYTES * 2 + 1] = "", head[1024];
    bool shutdown = strcmp(m->kind, "shutdown") == 0;
    size_t clen = 0;
    *out = NULL;
    m->att = att;
    m->att_len = att_len;
    m->version[0] = '\0';
    if (strcmp(m->kind, "deploy") == 0)
        fl__ctl_version(att, att_len, m->version);
    else if (att)
        return FL_EINVAL;
    if (k) {
        if (!k->has_secret)
            return FL_EINVAL;
        char *text = canonical(cluster, m, &clen);
        if (!text)
            return FL_ENOMEM;
        crypto_sign_detached(m->sig, NULL, (const uint8_t *)text, clen, k->sk);
        fl__free(text);
        sodium_bin2hex(sighex, sizeof sighex, m->sig, sizeof m->sig);
        snprintf(m->key, sizeof m->key, "%s", k->id);
        m->signed_ = true;
    }
    int n = snprintf(head, sizeof head,
                     "{\"v\":1,\"kind\":\"%s\",\"from\":\"%s\",\"%s\":\"%s\","
                     "\"ts\":%llu", m->kind, from, shutdown ? "node" : "module",
                     m->target, (unsigned long long)m->ts);
    if (m->version[0])
        n += snprintf(head + n, sizeof head - (size_t)n, ",\"version\":\"%s\"", m->version);
    if (k)
        n += snprintf(head + n, sizeof head - (size_t)n, ",\"key\":\"%s\",\"sig\":\"%s\"",
                      m->key, sighex);
    if (m->reply)
        n += snprintf(head + n, sizeof head - (size_t)n, ",\"reply\":true");
    if (att)
        n += snprintf(head + n, sizeof head - (size_t)n, ",\"bin\":%zu", att_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "}");
    if (n <= 0 || (size_t)n >= sizeof head)
        return FL_EINVAL;
    size_t total = (size_t)n + (att ? 1 + att_len : 0);
    uint8_t *buf = fl__malloc(total);
    if (!buf)
        return FL_ENOMEM;
    memcpy(buf, head, (size_t)n);
    if (att) {
        buf[n] = 0;
        memcpy(buf + n + 1, att, att_len);
    }
    *out = buf;
    *out_len = total;
    return FL_OK;
}

/* ---------------------------------------------------------------- parse */

static fl_status bad(char *err, size_t errlen, const char *field, const char *why)
{
    snprintf(err, errlen, "%s: %s", field, why);
    return FL_EPROTO;
}

/* Copy the string member key of obj into out (cap bytes); its charset:
 * names ([A-Za-z0-9_.-], '*' too when star) or hex digits. */
static fl_status get_name(const fl_value *obj, const char *key, bool hex,
                          bool star, char *out, size_t cap, char *err,
                          size_t errlen)
{
    size_t len = 0;
    const char *s = fl_value_string(fl_value_get(obj, key), &len);
    if (!s)
        return bad(err, errlen, key, fl_value_get(obj, key) ? "expected a string"
                                                           : "missing");
    if (len == 0 || len >= cap)
        return bad(err, errlen, key, "empty or too long");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = hex ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                      : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
                         (star && c == '*' && len == 1));
        if (!ok)
            return bad(err, errlen, key, hex ? "expected lowercase hex digits"
                                             : "expected a name of A-Z a-z 0-9 _ . -");
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return FL_OK;
}

static fl_status parse_fields(const char *rest, const fl_value *o, fl_ctl_msg *m,
                              char *err, size_t errlen)
{
    char sighex[FL_CTL_SIG_BYTES * 2 + 2];
    fl_status st;
    const fl_value *v = fl_value_get(o, "v");
    if (fl_value_type(v) != FL_TYPE_NUMBER || fl_value_number(v) != 1)
        return bad(err, errlen, "v", "expected 1");
    if ((st = get_name(o, "kind", false, false, m->kind, sizeof m->kind, err, errlen)))
        return st;
    bool shutdown = strcmp(m->kind, "shutdown") == 0;
    if (!shutdown && strcmp(m->kind, "deploy") != 0 && strcmp(m->kind, "undeploy") != 0)
        return bad(err, errlen, "kind", "expected deploy, undeploy or shutdown");
    if (shutdown != (strcmp(rest, "ctl") == 0))
        return bad(err, errlen, "kind", shutdown ? "shutdown belongs on ctl"
                                                 : "deploy and undeploy belong on ctl/<module>");
    if ((st = get_name(o, shutdown ? "node" : "module", false, shutdown, m->target,
                       sizeof m->target, err, errlen)))
        return st;
    if (!shutdown && strcmp(rest + 4, m->target) != 0)
        return bad(err, errlen, "module", "differs from the module in the topic");
    const fl_value *ts = fl_value_get(o, "ts");
    double t = fl_value_number(ts);
    if (fl_value_type(ts) != FL_TYPE_NUMBER || t < 0 || t >= 9007199254740992.0 ||
        t != (double)(uint64_t)t)
        return bad(err, errlen, "ts", ts ? "expected milliseconds since 1970 (an integer)"
                                         : "missing");
    m->ts = (uint64_t)t;
    if (strcmp(m->kind, "deploy") == 0 &&
        (st = get_name(o, "version", true, false, m->version, sizeof m->version, err,
                       errlen)))
        return st;
    bool has_key = fl_value_get(o, "key") != NULL, has_sig = fl_value_get(o, "sig") != NULL;
    if (has_key != has_sig)
        return bad(err, errlen, has_key ? "sig" : "key", "missing (key and sig go together)");
    if (has_key) {
        if ((st = get_name(o, "key", true, false, m->key, sizeof m->key, err, errlen)) ||
            (st = get_name(o, "sig", true, false, sighex, sizeof sighex, err, errlen)))
            return st;
        if (!from_hex(sighex, strlen(sighex), m->sig, sizeof m->sig))
            return bad(err, errlen, "sig", "expected 128 hex digits");
        m->signed_ = true;
    }
    /* Not signed, and never a reason to refuse: an answer is a courtesy,
     * sent only to a sender that asks and names an inbox (`from`). */
    char ignored[400];
    m->reply = fl_value_bool(fl_value_get(o, "reply"));
    if (m->reply && get_name(o, "from", false, false, m->reply_to, sizeof m->reply_to,
                             ignored, sizeof ignored) != FL_OK)
        m->reply_to[0] = '\0';
    return FL_OK;
}

fl_status fl__ctl_parse(const char *rest, const void *payload, size_t len,
                        fl_ctl_msg *m, char *err, size_t errlen)
{
    const uint8_t *p = payload;
    const uint8_t *nul = memchr(p, 0, len);
    size_t jlen = nul ? (size_t)(nul - p) : len;
    fl_value *o = NULL;
    memset(m, 0, sizeof *m);
    if (fl_value_parse((const char *)p, jlen, &o) != FL_OK ||
        fl_value_type(o) != FL_TYPE_OBJECT) {
        fl_value_free(o);
        return bad(err, errlen, "payload", "not a JSON object");
    }
    fl_status st = parse_fields(rest, o, m, err, errlen);
    const fl_value *bin = fl_value_get(o, "bin");
    if (st == FL_OK && strcmp(m->kind, "deploy") == 0) {
        double b = fl_value_number(bin);
        if (fl_value_type(bin) != FL_TYPE_NUMBER || !nul || b != (double)(len - jlen - 1))
            st = bad(err, errlen, "bin", "expected the length of the Lua source that "
                     "follows the JSON and a NUL byte");
        m->att = nul ? nul + 1 : NULL;
        m->att_len = nul ? len - jlen - 1 : 0;
    } else if (st == FL_OK && (bin || nul)) {
        st = bad(err, errlen, "bin", "only a deploy carries an attachment");
    }
    fl_value_free(o);
    return st;
}

bool fl__ctl_verify(const char *cluster, const fl_ctl_msg *m,
                    const fl_ctl_key *k)
{
    size_t clen = 0;
    if (!m->signed_ || strcmp(m->key, k->id) != 0)
        return false;
    char *text = canonical(cluster, m, &clen);
    if (!text)
        return false;
    bool ok = crypto_sign_verify_detached(m->sig, (const uint8_t *)text, clen,
                                          k->pk) == 0;
    fl__free(text);
    return ok;
}
