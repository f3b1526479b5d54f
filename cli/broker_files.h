/*
 * broker_files.h - the files that make a Mosquitto broker the perimeter of a
 * floret cluster (docs/security.md): a password file hashed with
 * mosquitto_passwd, an ACL that ties each node's presence and inbox to its
 * MQTT user and lets only the operator publish control messages, and fresh
 * random passwords. Used by `floret local` and `floret broker-config`.
 * Depends on POSIX (fork, exec of mosquitto_passwd) and Linux getrandom.
 */
#ifndef FLORET_CLI_BROKER_FILES_H
#define FLORET_CLI_BROKER_FILES_H

#include <stdio.h>
#include <stddef.h>

/* Letters and digits of a generated password (about 143 bits). */
#define BF_PASSWORD_LEN 24
#define BF_NAME_MAX 64

struct bf_user {
    char name[BF_NAME_MAX + 1];
    char password[BF_PASSWORD_LEN + 1];
};

/* 1 when name can be an MQTT user of the ACL: 1 to 64 of A-Z a-z 0-9 _ -.
 * A dot is refused: it separates a client's node id <user>.<client id>. */
int bf_valid_user(const char *name);

/* A fresh random password in out (BF_PASSWORD_LEN + 1 bytes). 0, or -1
 * when the kernel gives no random bytes. */
int bf_make_password(char *out);

/* The ACL, with operator the one user allowed to publish on ctl/#. */
void bf_print_acl(FILE *f, const char *operator_user);

/* Write the ACL to path (mode 0600; O_EXCL when exclusive). 0, or -1 with
 * a one-line reason in err. */
int bf_write_acl(const char *path, const char *operator_user, int exclusive,
                 char *err, size_t errlen);

/* Write a Mosquitto password file for users at path (mode 0600; O_EXCL
 * when exclusive) and hash it in place with `mosquitto_passwd -U`. 0, or -1
 * with a one-line reason in err (the file is then removed). */
int bf_write_passwd(const char *path, const struct bf_user *users, size_t n,
                    int exclusive, char *err, size_t errlen);

#endif
