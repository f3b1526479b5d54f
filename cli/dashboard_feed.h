/*
 * dashboard_feed.h - the picture feed's own MQTT connection
 * (docs/protocol.md 3.15): `floret mandelbrot` publishes its tiles through
 * it and `floret dashboard` reads them, beside their nodes' connections,
 * since pictures are no part of what a node's protocol carries. Like the
 * probe of section 1 it has a node id of its own, derived from its node's,
 * that the broker's ACL lets it write under.
 * Depends on conn.h.
 */
#ifndef FLORET_CLI_DASHBOARD_FEED_H
#define FLORET_CLI_DASHBOARD_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct cli_feed;

/* A message read on the feed's subscription, on the feed's own thread. */
typedef void (*cli_feed_msg_fn)(void *ud, const char *topic, const void *payload,
                                size_t len);

/*
 * The feed's node id (into id, 65 bytes) for the node node_id connecting
 * with conn's user: "<node's client id>-pic", behind "<user>." when the
 * URL names a user, so that the ACL pattern node/%u.%c/# covers its topic.
 * 0, or -1 with a reason in err.
 */
int cli_feed_id(const struct cli_conn *conn, const char *node_id, char *id,
                char *err, size_t errlen);

/*
 * Connect as feed node id (its client id is what follows "<user>." in it),
 * subscribing to filter when not NULL (its messages go to fn), and wait up
 * to wait_ms for the broker to accept. The feed reconnects by itself.
 * NULL, with a one-line reason in err, when it cannot.
 */
struct cli_feed *cli_feed_open(const struct cli_conn *conn, const char *id,
                               const char *filter, cli_feed_msg_fn fn, void *ud,
                               uint32_t wait_ms, char *err, size_t errlen);

/* Publish at QoS 0, not retained. 0, or -1 when not connected now (the
 * message is lost, as QoS 0 allows). */
int cli_feed_publish(struct cli_feed *f, const char *topic, const void *payload,
                     size_t len);

/* Publish at QoS 1 and wait up to wait_ms for the broker's acknowledgement,
 * which also means that every message published before it has left. 0 or
 * -1. */
int cli_feed_publish_wait(struct cli_feed *f, const char *topic, const void *payload,
                          size_t len, uint32_t wait_ms);

/* Disconnect and free (NULL is fine). */
void cli_feed_close(struct cli_feed *f);

#endif
