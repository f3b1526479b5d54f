/*
 * ctl_publish.h - publish one control message (deploy, undeploy, shutdown)
 * to the broker and wait until the broker has acknowledged it, for the
 * deploy, undeploy and shutdown subcommands.
 * Depends on the public header only.
 */
#ifndef FLORET_CLI_CTL_PUBLISH_H
#define FLORET_CLI_CTL_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Publish payload on topic at QoS 1 (retained when retain) through the
 * broker given by broker (NULL: $FLORET_BROKER, then the default). Returns
 * 0, or an exit status after printing why on stderr: 2 for a bad URL, 3
 * when the broker cannot be reached or did not acknowledge.
 */
int cli_ctl_publish(const char *cmd, const char *broker, const char *topic,
                    const void *payload, size_t len, bool retain);

#endif
