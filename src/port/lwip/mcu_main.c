/*
 * mcu_main.c - boot and loop of the floret firmware. fl_mcu_main takes
 * the board's settings, lays the arena (floret's and cJSON's memory) and
 * points fl_set_allocator at it, registers the native tasks, starts lwIP
 * and the board's netif, creates the core with its last will, then turns
 * the loop forever: frames in, lwIP timers, the MQTT link, the core's
 * timers, one waiting job, one flush, then sleep until the next tick.
 * Depends on mcu.h, board.h, the core (core.h, alloc.h), lwIP and the C
 * library.
 */
#include "mcu.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"

/* Bytes of the arena; with FL_MCU_MAX_MESSAGE the main RAM knob. */
#ifndef FL_MCU_ARENA_BYTES
#define FL_MCU_ARENA_BYTES (64u * 1024u)
#endif
#ifndef FL_MCU_KEEP_ALIVE_S
#define FL_MCU_KEEP_ALIVE_S 15u
#endif
#ifndef FL_MCU_ARCH
#define FL_MCU_ARCH "cortex-m3"
#endif
/* Tasks run at once, at most (they share one stack, nested in sleeps). */
#define MAX_SLOTS 4u
/* The longest sleep between turns when nothing is due. */
#define IDLE_MAX_MS 10u

static fl_mcu the_mcu;
static uint64_t arena_mem[FL_MCU_ARENA_BYTES / sizeof(uint64_t)];

fl_arena *fl__mcu_arena(void)
{
    return the_mcu.arena;
}

void fl__mcu_log(fl_mcu *m, int level, const char *line)
{
    static const char tag[] = "EWID";
    if (level > m->set.log_level)
        return;
    char head[4] = {'[', tag[level < 0 ? 0 : level > 3 ? 3 : level], ']', ' '};
    fl_board_console(head, sizeof head);
    fl_board_console(line, strlen(line));
    fl_board_console("\n", 1);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void logf_(fl_mcu *m, int level, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fl__mcu_log(m, level, line);
}

/* ------------------------------------------------------------ link events */

static void link_up(void *ud)
{
    fl_mcu *m = ud;
    fl_core_connected(m->core, fl_board_now_us());
    m->dirty = true;
}

static void link_down(void *ud)
{
    fl_mcu *m = ud;
    fl_core_disconnected(m->core, fl_board_now_us());
}

static void link_message(void *ud, const char *topic, const uint8_t *payload,
                         size_t len)
{
    fl_mcu *m = ud;
    fl_core_input(m->core, topic, payload, len, fl_board_now_us());
    m->dirty = true;
}

static void link_log(void *ud, int level, const char *line)
{
    fl__mcu_log(ud, level, line);
}

/* ------------------------------------------------------------ the loop */

static void print_stats(fl_mcu *m)
{
    fl_arena_stats as;
    fl_core_stats cs;
    fl_arena_stats_get(m->arena, &as);
    fl_core_stats_get(m->core, &cs);
    char line[240];
    /* Integers only: the line must not need printf's float support. It is
     * printed at every log level: benchmarks read it. */
    snprintf(line, sizeof line,
          "stats: executed=%lu held=%lu arena_size=%lu arena_used=%lu arena_peak=%lu "
          "arena_failures=%lu stack_peak=%lu too_big=%lu bad=%lu connects=%lu",
          (unsigned long)m->executed,
          (unsigned long)(cs.queued_local + cs.running), (unsigned long)as.size,
          (unsigned long)as.used, (unsigned long)as.peak,
          (unsigned long)as.failures, (unsigned long)fl_board_stack_peak(),
          (unsigned long)m->link.stats.too_big,
          (unsigned long)cs.bad_messages,
          (unsigned long)m->link.stats.connects);
    fl_board_console(line, strlen(line));
    fl_board_console("\n", 1);
}

static bool net_ready(const fl_mcu *m)
{
    return m->netif && netif_is_up(m->netif) && netif_is_link_up(m->netif) &&
           !ip4_addr_isany_val(*netif_ip4_addr(m->netif));
}

void fl__mcu_turn(fl_mcu *m, bool run_jobs)
{
    fl_board_netif_poll(m->netif);
    sys_check_timeouts();
    uint64_t now = fl_board_now_us();
    fl__link_poll(&m->link, now / 1000u, net_ready(m));
    fl__mcu_answer_starved(m);
    if (run_jobs)
        fl__mcu_run_one(m);
    now = fl_board_now_us();
    if (m->dirty || now >= m->next_tick_us) {
        m->next_tick_us = fl_core_tick(m->core, now);
        m->dirty = false;
    }
    fl_core_flush(m->core, now);
    if (m->set.stats_ms && now >= m->next_stats_us) {
        print_stats(m);
        m->next_stats_us = now + (uint64_t)m->set.stats_ms * 1000u;
    }
}

static void loop(fl_mcu *m)
{
    for (;;) {
        fl__mcu_turn(m, true);
        if (m->qhead && m->running < m->set.slots)
            continue;
        uint64_t now = fl_board_now_us();
        uint32_t ms = IDLE_MAX_MS;
        if (m->next_tick_us > now && (m->next_tick_us - now) / 1000u < ms)
            ms = (uint32_t)((m->next_tick_us - now) / 1000u);
        if (ms)
            fl_board_idle(ms);
    }
}

/* ------------------------------------------------------------ boot */

static void defaults(fl_board_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->cluster, sizeof s->cluster, "default");
    s->broker_ip[0] = 10; /* QEMU's user network: the host is 10.0.2.2 */
    s->broker_ip[2] = 2;
    s->broker_ip[3] = 2;
    s->broker_port = 1883;
    s->slots = 1;
    s->log_level = FL_LOG_INFO;
}

static bool make_core(fl_mcu *m, uint64_t entropy)
{
    fl_core_config cfg;
    fl_core_io io;
    memset(&cfg, 0, sizeof cfg);
    cfg.cluster = m->set.cluster;
    cfg.node_id = m->set.node_id;
    cfg.incarnation = (entropy & ((UINT64_C(1) << 52) - 1)) | 1u;
    cfg.slots = m->set.slots;
    cfg.max_message = m->max_message;
    cfg.seed = entropy * 0x9E3779B97F4A7C15ull;
    cfg.registry = m->reg;
    cfg.runtime = "native";
    cfg.arch = FL_MCU_ARCH;
    cfg.log_level = m->set.log_level;
    /* No clock and no journal: kept workflow ids start at a random point
     * below 2^51, so a restarted board does not give an old id again. */
    cfg.first_kept_id = ((entropy >> 7) & ((UINT64_C(1) << 51) - 1)) + 1;
    fl__mcu_io(m, &io);
    fl_status st = fl_core_new(&cfg, &io, &m->core);
    if (st != FL_OK) {
        logf_(m, FL_LOG_ERROR, "cannot start floret: %s", fl_strerror(st));
        return false;
    }
    return true;
}

static bool make_link(fl_mcu *m, uint64_t entropy)
{
    const char *topic;
    const void *will;
    size_t will_len;
    fl_core_will(m->core, &topic, &will, &will_len);
    fl_link_config lc;
    memset(&lc, 0, sizeof lc);
    lc.client_id = m->set.node_id;
    IP_ADDR4(&lc.broker, m->set.broker_ip[0], m->set.broker_ip[1],
             m->set.broker_ip[2], m->set.broker_ip[3]);
    lc.port = m->set.broker_port;
    lc.user = m->set.user[0] ? m->set.user : NULL;
    lc.pass = m->set.pass[0] ? m->set.pass : NULL;
    lc.will_topic = topic;
    lc.will = will;
    lc.will_len = will_len;
    lc.will_retain = fl_core_will_retain(m->core);
    lc.keep_alive_s = FL_MCU_KEEP_ALIVE_S;
    lc.max_message = m->max_message;
    lc.outbox_max = 2 * m->max_message;
    fl_link_cb cb = {m, link_up, link_down, link_message, link_log};
    return fl__link_init(&m->link, &lc, &cb, (uint32_t)(entropy >> 32));
}

int fl_mcu_main(void)
{
    fl_mcu *m = &the_mcu;
    defaults(&m->set);
    if (!fl_board_settings_get(&m->set))
        return 1;
    if (m->set.slots == 0 || m->set.slots > MAX_SLOTS) {
        logf_(m, FL_LOG_ERROR, "slots %lu: use 1 to %u",
              (unsigned long)m->set.slots, MAX_SLOTS);
        return 1;
    }
    uint64_t entropy = fl_board_entropy();
    if (!m->set.node_id[0])
        snprintf(m->set.node_id, sizeof m->set.node_id, "mcu-%08lx",
                 (unsigned long)(entropy & 0xffffffffu));
    m->max_message = FL_MCU_MAX_MESSAGE;
    m->arena = fl_arena_init(arena_mem, sizeof arena_mem);
    if (!m->arena)
        return 1;
    fl_set_allocator(fl_arena_alloc, m->arena);
    m->reg = fl_registry_new();
    if (!m->reg || fl_register_builtins(m->reg) != FL_OK ||
        fl_register_wordcount(m->reg) != FL_OK) {
        logf_(m, FL_LOG_ERROR, "cannot register the built-in tasks");
        return 1;
    }
    lwip_init();
    m->netif = fl_board_netif_start();
    if (!m->netif)
        return 1;
    if (!make_core(m, entropy) || !make_link(m, entropy))
        return 1;
    logf_(m, FL_LOG_INFO, "floret %s on %s: node %s, cluster %s, broker "
          "%u.%u.%u.%u:%u, %lu slot(s), messages up to %lu bytes",
          FL_VERSION, FL_MCU_ARCH, m->set.node_id, m->set.cluster,
          m->set.broker_ip[0], m->set.broker_ip[1], m->set.broker_ip[2],
          m->set.broker_ip[3], m->set.broker_port, (unsigned long)m->set.slots,
          (unsigned long)m->max_message);
    loop(m);
    return 0;
}
