/*
 * ctl_sign.h - signed control messages (docs/protocol.md, section 3.9):
 * Ed25519 key files, the canonical bytes a signature covers, building a
 * signed deploy/undeploy/shutdown, and checking one. Shared by the node
 * (which verifies) and the floret command (which signs).
 * Depends on the public header only, so cli/ can include it.
 */
#ifndef FL_CTL_SIGN_H
#define FL_CTL_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

#define FL_CTL_PK_BYTES 32
#define FL_CTL_SK_BYTES 64
#define FL_CTL_SIG_BYTES 64
#define FL_CTL_KEYID_HEX 16        /* first 8 bytes of the public key, hex */
#define FL_CTL_VERSION_HEX 12      /* a module version: sha256 prefix, hex */
#define FL_CTL_MAX_FUTURE_MS 30000u /* refuse timestamps further ahead */
#define FL_CTL_SHUTDOWN_MAX_AGE_MS 60000u /* a shutdown must be this fresh */

typedef struct fl_ctl_key {
    uint8_t pk[FL_CTL_PK_BYTES];
    uint8_t sk[FL_CTL_SK_BYTES]; /* zero for a public key */
    bool has_secret;
    char id[FL_CTL_KEYID_HEX + 1];
} fl_ctl_key;

/* Initialise libsodium (idempotent). FL_OK or FL_EIO. */
fl_status fl__ctl_init(void);

/* A new key pair. FL_OK or FL_EIO. */
fl_status fl__ctl_keygen(fl_ctl_key *k);

/* Write PREFIX.key (secret, mode 0600, not overwriting) and PREFIX.pub.
 * FL_OK, FL_EEXIST (a file is there), FL_EIO (err says why). */
fl_status fl__ctl_key_write(const fl_ctl_key *k, const char *prefix, char *err,
                            size_t errlen);

/* Read a .pub or .key file (a .key gives both halves). FL_OK, FL_EIO or
 * FL_EINVAL with the reason in err. */
fl_status fl__ctl_key_read(const char *path, fl_ctl_key *k, char *err,
                           size_t errlen);

/* What a control message says. */
typedef struct fl_ctl_msg {
    char kind[16];       /* "deploy", "undeploy", "shutdown" */
    char target[72];     /* the module, or the node ("*" = every node) */
    char version[FL_CTL_VERSION_HEX + 1]; /* deploy only */
    uint64_t ts;         /* ms since the Unix epoch, strictly increasing */
    bool signed_;        /* has key and sig */
    char key[FL_CTL_KEYID_HEX + 1];
    uint8_t sig[FL_CTL_SIG_BYTES];
    const uint8_t *att;  /* deploy: the Lua source, inside the payload */
    size_t att_len;
    /* `"reply":true`: the sender waits for an `answer` in the inbox of
     * node `from` (reply_to; "" when not asked, or `from` is no node id). */
    bool reply;
    char reply_to[72];
} fl_ctl_msg;

/* The module version of source: hex prefix of its SHA-256. */
void fl__ctl_version(const void *src, size_t len,
                     char out[FL_CTL_VERSION_HEX + 1]);

/*
 * Build a control message for cluster, signed with k (NULL: unsigned, for
 * nodes started with --insecure-allow-unsigned). For deploy, att is the
 * source and m->version is filled from it. With m->reply the message asks
 * the nodes to answer in the inbox of node from. Caller frees *out with fl_free.
 * FL_OK, FL_EINVAL, FL_ENOMEM.
 */
fl_status fl__ctl_build(const char *cluster, const char *from, fl_ctl_msg *m,
                        const void *att, size_t att_len, const fl_ctl_key *k,
                        uint8_t **out, size_t *out_len);

/* Parse payload (received on topic rest "ctl" or "ctl/<module>"). FL_OK or
 * FL_EPROTO with the field and reason in err. m->att points into payload. */
fl_status fl__ctl_parse(const char *rest, const void *payload, size_t len,
                        fl_ctl_msg *m, char *err, size_t errlen);

/* The key inside a public fl_key (keys.c); NULL for NULL. */
const fl_ctl_key *fl__key_inner(const fl_key *key);

/* Does m's signature verify under k for cluster? */
bool fl__ctl_verify(const char *cluster, const fl_ctl_msg *m,
                    const fl_ctl_key *k);

#endif
