/*
 * broker_files.c - password file, ACL and passwords of a floret broker (see
 * broker_files.h). The ACL is the same for every cluster: patterns with %u
 * (the MQTT user) and %c (the MQTT client id) give each user its own
 * presence and inbox, and the operator alone writes control topics.
 * Depends on broker_files.h, POSIX and Linux getrandom.
 */
#include "broker_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

int bf_valid_user(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > BF_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int bf_make_password(char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[BF_PASSWORD_LEN * 2];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t k = getrandom(rnd + got, sizeof rnd - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    /* 62 letters: reject bytes of 248 and up so each one is as likely. */
    size_t o = 0;
    for (size_t i = 0; i < sizeof rnd && o < BF_PASSWORD_LEN; i++)
        if (rnd[i] < 248)
            out[o++] = alphabet[rnd[i] % 62];
    while (o < BF_PASSWORD_LEN) /* 2^-100 unlikely; still a valid password */
        out[o++] = 'x';
    out[o] = '\0';
    return 0;
}

void bf_print_acl(FILE *f, const char *op)
{
    fprintf(f,
            "# floret ACL for Mosquitto (docs/security.md). %%u is the MQTT user,\n"
            "# %%c the MQTT client id. A node's id is its user name; a client's is\n"
            "# <user>.<client id>, so one user may run many clients at once.\n"
            "#\n"
            "# Everyone reads every presence, stats and events, and writes only its\n"
            "# own: node/ID, node/ID/stats, node/ID/events (/# covers node/ID too).\n"
            "pattern read floret/v1/+/node/+\n"
            "pattern read floret/v1/+/node/+/stats\n"
            "pattern read floret/v1/+/node/+/events\n"
            "# and the tiles of a floret mandelbrot, for dashboards.\n"
            "pattern read floret/v1/+/node/+/picture\n"
            "pattern write floret/v1/+/node/%%u/#\n"
            "pattern write floret/v1/+/node/%%u.%%c/#\n"
            "# Everyone writes to any inbox, and reads only its own.\n"
            "pattern write floret/v1/+/node/+/in\n"
            "pattern read floret/v1/+/node/%%u/in\n"
            "pattern read floret/v1/+/node/%%u.%%c/in\n"
            "# Work announcements, and control messages to read.\n"
            "pattern readwrite floret/v1/+/work\n"
            "pattern read floret/v1/+/ctl\n"
            "pattern read floret/v1/+/ctl/+\n"
            "\n"
            "# Only the operator publishes deploy, undeploy and shutdown, and\n"
            "# clears the retained presence and stats of nodes that are gone\n"
            "# (floret forget).\n"
            "user %s\n"
            "topic write floret/v1/+/ctl\n"
            "topic write floret/v1/+/ctl/+\n"
            "topic write floret/v1/+/node/+\n"
            "topic write floret/v1/+/node/+/stats\n",
            op);
}

static FILE *open_private(const char *path, int exclusive, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC),
                  0600);
    FILE *f;
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (remove it first, or give --force)" : "");
        return NULL;
    }
    f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int close_checked(FILE *f, const char *path, char *err, size_t errlen)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int bf_write_acl(const char *path, const char *op, int exclusive, char *err,
                 size_t errlen)
{
    FILE *f = open_private(path, exclusive, err, errlen);
    if (!f)
        return -1;
    bf_print_acl(f, op);
    return close_checked(f, path, err, errlen);
}

/* mosquitto_passwd on PATH, else in Debian's /usr/bin. */
static int find_passwd_tool(char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    char *save = NULL;
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin", path ? path : "");
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, outlen, "%s/mosquitto_passwd", d);
        if (*d && n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* Run `mosquitto_passwd -U path`, which hashes a file of user:password. */
static int hash_in_place(const char *path, char *err, size_t errlen)
{
    char tool[1024];
    int st;
    pid_t pid;
    if (find_passwd_tool(tool, sizeof tool) != 0) {
        snprintf(err, errlen, "mosquitto_passwd not found; install the Debian package "
                 "'mosquitto'");
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execl(tool, "mosquitto_passwd", "-U", path, (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s -U %s failed (status %d)", tool, path,
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return -1;
    }
    return 0;
}

int bf_write_passwd(const char *path, const struct bf_user *users, size_t n,
                    int exclusive, char *err, size_t errlen)
{
    FILE *f = open_private(path, exclusive, err, errlen);
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s:%s\n", users[i].name, users[i].password);
    if (close_checked(f, path, err, errlen) != 0 || hash_in_place(path, err, errlen) != 0) {
        unlink(path);
        return -1;
    }
    return 0;
}
