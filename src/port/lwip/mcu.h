/*
 * mcu.h - the state of the floret firmware, shared by mcu_main.c (boot
 * and the loop) and mcu_jobs.c (the core's fl_core_io: publishing
 * through the MQTT link, and the tasks it hands over, run on the loop).
 * One instance per board; nothing here is reentrant across threads
 * because there is one thread.
 * Depends on board.h, link.h, arena.h and the core's core.h.
 */
#ifndef FL_MCU_H
#define FL_MCU_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "board.h"
#include "core.h"
#include "link.h"

/* Bytes a `done` envelope needs around one result. */
#define FL_MCU_RESULT_ROOM 512u

typedef struct fl_mjob fl_mjob;

typedef struct fl_mcu {
    fl_board_settings set;
    fl_core *core;
    fl_registry *reg;
    fl_arena *arena;
    fl_link link;
    struct netif *netif;
    size_t max_message;
    fl_mjob *qhead, *qtail;   /* jobs waiting for a slot */
    uint32_t running;         /* jobs running (nested inside sleeps) */
    fl_job *starved[8];       /* jobs that came when no memory was left */
    uint32_t nstarved;
    bool dirty;               /* input or outcomes since the last tick */
    uint64_t next_tick_us;
    uint64_t next_stats_us;
    uint64_t executed;
} fl_mcu;

/* The core's io callbacks over m. */
void fl__mcu_io(fl_mcu *m, fl_core_io *io);

/* Run one waiting job, if any and a slot is free; true if one ran. */
bool fl__mcu_run_one(fl_mcu *m);

/* Answer the jobs that could not be queued for lack of memory. */
void fl__mcu_answer_starved(fl_mcu *m);

/* One turn of the loop: network in, timers, core tick and flush, and a
 * waiting job when run_jobs (and a slot) allow. */
void fl__mcu_turn(fl_mcu *m, bool run_jobs);

/* The arena once fl_mcu_main has laid it, else NULL. */
fl_arena *fl__mcu_arena(void);

/* Write a log line to the console when level passes the board's. */
void fl__mcu_log(fl_mcu *m, int level, const char *line);

#endif
