/*
 * broker_config.c - `floret broker-config --nodes pi-1,pi-2 --out DIR`:
 * writes what makes a real Mosquitto the perimeter of a floret cluster,
 * the same files `floret local` runs its own broker with: a hashed
 * password file, the ACL (broker_files.h), a mosquitto.conf snippet, one
 * password file per user for --password-file, and a short recipe.
 * Existing files are not overwritten unless --force is given.
 * Depends on cli.h, opts.h, broker_files.h and POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker_files.h"
#include "cli.h"
#include "opts.h"

#define CMD "broker-config"
#define MAX_USERS 1024
#define PATH_CAP 4096

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret broker-config --nodes ID,ID... --out DIR [OPTIONS]\n\n"
            "Write the files that make a Mosquitto broker the perimeter of a floret\n"
            "cluster (docs/security.md): every node its own MQTT user, which may publish\n"
            "only its own presence and read only its own inbox; only the operator may\n"
            "publish deploy, undeploy and shutdown; no anonymous access.\n\n"
            "Files in DIR: passwd (hashed, for password_file), acl (for acl_file),\n"
            "floret.conf (the lines to add to mosquitto.conf), USER.password for each\n"
            "user (give it to that node with --password-file) and README.\n\n"
            "Options:\n"
            "  --nodes ID,...     the nodes' ids, which are their user names\n"
            "  --clients NAME,... users that only submit work (floret call, run,\n"
            "                     wordcount, status); each may run many at once\n"
            "  --operator NAME    the user who deploys and shuts down (default operator)\n"
            "  --out DIR          where to write (made if missing)\n"
            "  --force            overwrite files already in DIR\n"
            "  -h, --help         show this help\n");
}

struct bc_args {
    const char *nodes, *clients, *op, *out;
    int force;
};

/* Append the comma-separated names of list to users. -1 to go on, else exit. */
static int add_users(const char *opt, const char *list, struct bf_user *users, size_t *n)
{
    char buf[BF_NAME_MAX + 1];
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > BF_NAME_MAX)
            return cli_usage_error(CMD, "%s: empty or too long name in '%s'", opt, list);
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (!bf_valid_user(buf))
            return cli_usage_error(CMD, "%s '%s': a user name is 1 to 64 of A-Z a-z 0-9 _ - "
                                   "(no '.', which joins a client's user to its client id)",
                                   opt, buf);
        for (size_t i = 0; i < *n; i++)
            if (strcmp(users[i].name, buf) == 0)
                return cli_usage_error(CMD, "%s: '%s' named twice", opt, buf);
        if (*n == MAX_USERS)
            return cli_usage_error(CMD, "at most %d users", MAX_USERS);
        memcpy(users[*n].name, buf, len + 1);
        if (bf_make_password(users[*n].password) != 0) {
            fprintf(stderr, "floret %s: cannot read random bytes: %s\n", CMD, strerror(errno));
            return 1;
        }
        (*n)++;
        p += len;
        if (*p == ',')
            p++;
    }
    return -1;
}

static int parse(int argc, char **argv, struct bc_args *a)
{
    memset(a, 0, sizeof *a);
    a->op = "operator";
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--force") == 0) {
            a->force = 1;
        } else if ((m = cli_opt(argc, argv, &i, "--nodes", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->nodes = v;
        } else if ((m = cli_opt(argc, argv, &i, "--clients", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->clients = v;
        } else if ((m = cli_opt(argc, argv, &i, "--operator", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->op = v;
        } else if ((m = cli_opt(argc, argv, &i, "--out", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->out = v;
        } else {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        }
    }
    if (!a->nodes || !a->nodes[0])
        return cli_usage_error(CMD, "which nodes? e.g. --nodes pi-1,pi-2");
    if (!a->out || !a->out[0])
        return cli_usage_error(CMD, "where? e.g. --out /etc/mosquitto/floret");
    return -1;
}

static int path_of(char *out, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, PATH_CAP, "%s/%s%s", dir, name, ext);
    if (n < 0 || n >= PATH_CAP) {
        fprintf(stderr, "floret %s: path too long: %s/%s%s\n", CMD, dir, name, ext);
        return -1;
    }
    return 0;
}

/* Write text (printf-style) to DIR/NAME, mode 0600 or 0644. */
static int write_text(const char *dir, const char *name, int force, mode_t mode,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static int write_text(const char *dir, const char *name, int force, mode_t mode,
                      const char *fmt, ...)
{
    char path[PATH_CAP];
    va_list ap;
    if (path_of(path, dir, name, "") != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "floret %s: cannot write %s: %s%s\n", CMD, path, strerror(errno),
                errno == EEXIST ? " (remove it, or give --force)" : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "floret %s: cannot write %s\n", CMD, path);
        return -1;
    }
    return 0;
}

static int write_all(const struct bc_args *a, const struct bf_user *users, size_t n,
                     size_t nnodes)
{
    char path[PATH_CAP], err[PATH_CAP + 200];
    char *abs = realpath(a->out, NULL);
    const char *dir = abs ? abs : a->out;
    int rc = -1;

    if (path_of(path, dir, "passwd", "") != 0)
        goto out;
    if (bf_write_passwd(path, users, n, !a->force, err, sizeof err) != 0) {
        fprintf(stderr, "floret %s: %s\n", CMD, err);
        goto out;
    }
    if (path_of(path, dir, "acl", "") != 0)
        goto out;
    if (bf_write_acl(path, a->op, !a->force, err, sizeof err) != 0) {
        fprintf(stderr, "floret %s: %s\n", CMD, err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char name[BF_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s.password", users[i].name);
        if (write_text(dir, name, a->force, 0600, "%s\n", users[i].password) != 0)
            goto out;
    }
    if (write_text(dir, "floret.conf", a->force, 0644,
                   "# floret: add these lines to mosquitto.conf (docs/security.md)\n"
                   "per_listener_settings false\n"
                   "allow_anonymous false\n"
                   "password_file %s/passwd\n"
                   "acl_file %s/acl\n"
                   "# Refuse packets larger than the nodes accept (--max-message,\n"
                   "# default 8 MiB, plus 4 KiB for the topic and header).\n"
                   "max_packet_size 8392704\n"
                   "# TLS, with your CA's files:\n"
                   "#listener 8883\n"
                   "#cafile /etc/mosquitto/ca_certificates/ca.crt\n"
                   "#certfile /etc/mosquitto/certs/broker.crt\n"
                   "#keyfile /etc/mosquitto/certs/broker.key\n",
                   dir, dir) != 0)
        goto out;
    if (write_text(dir, "README", a->force, 0644,
                   "floret broker files (docs/security.md)\n\n"
                   "1. Make them readable by the broker only:\n"
                   "     chown -R root:mosquitto %s && chmod 0750 %s && chmod 0640 %s/*\n"
                   "2. Add floret.conf to the broker:\n"
                   "     cp %s/floret.conf /etc/mosquitto/conf.d/floret.conf\n"
                   "     systemctl restart mosquitto\n"
                   "3. Copy each USER.password to its machine (mode 0600) and start:\n"
                   "     floret node --broker mqtt://%s@BROKER --password-file %s.password\n"
                   "   The node id defaults to the user name. Submit as the operator\n"
                   "   or a client user:\n"
                   "     floret call add 2 2 --broker mqtt://%s@BROKER --password-file %s.password\n"
                   "4. Add a node later: rerun with the full --nodes list and --force, or\n"
                   "     mosquitto_passwd %s/passwd NEW-NODE\n"
                   "   (the ACL needs no change: its patterns cover every user).\n",
                   dir, dir, dir, dir, users[0].name, users[0].name, a->op, a->op, dir) != 0)
        goto out;
    printf("wrote %s: passwd, acl, floret.conf, README and a password file for each of\n"
           "%zu node(s), %zu client user(s) and operator '%s'\n",
           dir, nnodes, n - nnodes - 1, a->op);
    rc = 0;
out:
    free(abs);
    return rc;
}

int cli_broker_config(int argc, char **argv)
{
    struct bc_args a;
    struct bf_user *users;
    size_t n = 0, nnodes;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!bf_valid_user(a.op))
        return cli_usage_error(CMD, "--operator '%s': a user name is 1 to 64 of "
                               "A-Z a-z 0-9 _ -", a.op);
    users = calloc(MAX_USERS, sizeof *users);
    if (!users) {
        fprintf(stderr, "floret %s: out of memory\n", CMD);
        return 1;
    }
    rc = add_users("--nodes", a.nodes, users, &n);
    nnodes = n;
    if (rc < 0 && a.clients)
        rc = add_users("--clients", a.clients, users, &n);
    if (rc < 0) {
        char op[BF_NAME_MAX + 20];
        snprintf(op, sizeof op, "%s", a.op);
        rc = add_users("--operator", op, users, &n);
    }
    if (rc < 0 && mkdir(a.out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "floret %s: cannot make %s: %s\n", CMD, a.out, strerror(errno));
        rc = 1;
    }
    if (rc < 0)
        rc = write_all(&a, users, n, nnodes) == 0 ? 0 : 1;
    memset(users, 0, MAX_USERS * sizeof *users);
    free(users);
    return rc;
}
