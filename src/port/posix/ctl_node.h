/*
 * ctl_node.h - a node's handling of control messages (deploy, undeploy,
 * shutdown): trust, replay protection and the Lua module set it changes.
 * Loop thread only. Depends on ctl_sign.h, lua_runtime.h, core.h, posix.h
 * (the logger).
 */
#ifndef FL_CTL_NODE_H
#define FL_CTL_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "ctl_sign.h"
#include "lua_runtime.h"
#include "posix.h"

typedef struct fl_ctl_node_config {
    const char *cluster;
    const char *node_id;
    const fl_ctl_key *keys; /* trusted public keys (borrowed) */
    size_t nkeys;
    bool allow_unsigned;
    fl_lua_set *lua;        /* changed by deploy and undeploy (borrowed) */
    fl_core *core;          /* presence lists the modules (borrowed) */
    fl_logger *log;
    void (*on_shutdown)(void *ud);
    void *shutdown_ud;
    /* Publish QoS 1 (retained when asked) on the broker; NULL: never. */
    void (*publish)(void *ud, const char *topic, const void *payload, size_t len,
                    bool retain);
    void *publish_ud;
    /* Runs a deploy's top-level code off the loop (borrowed); NULL: run
     * it here, under the step and memory budget only (tests). */
    struct fl_deploy_checker *checker;
} fl_ctl_node_config;

/* The highest timestamp accepted for one module (or for shutdowns), and
 * for a module the signed message that set it, to put back when an older
 * one replaces it on the broker. */
typedef struct fl_ctl_seen {
    char target[72];
    uint64_t ts;
    uint8_t *payload;      /* NULL for shutdowns */
    size_t len;
    uint64_t restored_ms;  /* when it was last put back (rate limit) */
} fl_ctl_seen;

typedef struct fl_ctl_node {
    fl_ctl_node_config cfg;
    fl_ctl_seen *seen;
    size_t nseen;
    uint64_t started_ms; /* wall clock when this node process began */
} fl_ctl_node;

/* Always FL_OK: libsodium starts with the first control message. */
fl_status fl__ctl_node_init(fl_ctl_node *cn, const fl_ctl_node_config *cfg);
void fl__ctl_node_free(fl_ctl_node *cn);

/* The core's fl_core_ctl_fn (ud is the fl_ctl_node). */
void fl__ctl_node_on_message(void *ud, const char *rest, const void *payload,
                             size_t len);

/* A deploy's check came back (deploy_check.c): load the module unless a
 * newer deploy or undeploy of it came meanwhile, or log why it was
 * refused. c stays the caller's. */
struct fl_deploy_checked;
void fl__ctl_node_checked(fl_ctl_node *cn, const struct fl_deploy_checked *c);

#endif
