/*
 * local_cluster.h - a private cluster on this machine: a Mosquitto broker on a
 * free loopback port with a generated config in a private temp dir, plus N
 * `floret node` processes of this same binary. Used by `floret local` and by
 * any subcommand that needs a cluster when no broker is configured.
 *
 * Only one cluster may be running per process. While it runs, SIGINT, SIGTERM
 * and SIGHUP tear it down (nodes, then broker, then the temp dir) and then
 * kill the process with the same signal; exit() tears it down too. Every child
 * has PR_SET_PDEATHSIG, so even a SIGKILLed parent leaves no process behind.
 *
 * Depends on POSIX, Linux prctl, libmosquitto and the public header only.
 */
#ifndef FLORET_LOCAL_CLUSTER_H
#define FLORET_LOCAL_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

struct local_cluster;

/*
 * Start a broker and `nodes` node processes (nodes <= 0 means one per core),
 * each with one execution slot, named local-1 .. local-N and each its own
 * MQTT user under the ACL of broker_files.h, and wait (bounded)
 * until every node's presence says online. Returns 0 and sets *out, or a CLI
 * exit status (3: the cluster could not be started, e.g. mosquitto missing)
 * with a one-line reason in err (no "floret:" prefix, no newline) and
 * nothing left behind.
 */
int local_cluster_start(int nodes, struct local_cluster **out, char *err,
                        size_t errlen);

/*
 * Like local_cluster_start with per-node slots (>= 1) and, when verbose,
 * the nodes' and broker's logs on this process's stderr instead of files.
 */
int local_cluster_start_ex(int nodes, int slots, int verbose,
                           struct local_cluster **out, char *err,
                           size_t errlen);

/* The broker URL, mqtt://operator:PASSWORD@127.0.0.1:PORT: the operator
 * may publish control messages, and its clients are operator.<host>-<pid>
 * (docs/security.md). Valid until local_cluster_stop. */
const char *local_cluster_url(const struct local_cluster *lc);

/*
 * Also deliver a teardown signal to pid (e.g. the command run inside the
 * cluster) before the cluster goes down; 0 forgets it.
 */
void local_cluster_forward_signals(struct local_cluster *lc, pid_t pid);

/* Stop the nodes (SIGTERM, bounded wait, SIGKILL), then the broker, remove
 * the temp dir and free lc. NULL is ignored. */
void local_cluster_stop(struct local_cluster *lc);

#endif /* FLORET_LOCAL_CLUSTER_H */
