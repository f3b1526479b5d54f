/*
 * ctl_publish.h - publish one control message (deploy, undeploy, shutdown)
 * to the broker and wait until the broker has acknowledged it, for the
 * deploy, undeploy and shutdown subcommands.
 * Depends on conn.h.
 */
#ifndef FLORET_CLI_CTL_PUBLISH_H
#define FLORET_CLI_CTL_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

/*
 * Publish payload on topic at QoS 1 (retained when retain) through the
 * broker and with the credentials of conn (conn.h). Returns
 * 0, or an exit status after printing why on stderr: 2 for a bad URL, 3
 * when the broker cannot be reached or did not acknowledge.
 */
int cli_ctl_publish(const char *cmd, const struct cli_conn *conn, const char *topic,
                    const void *payload, size_t len, bool retain);

#endif
