/* A partition as the broker serves it: its log, leader epoch, and the
 * requests waiting on it.  On a single broker this broker leads every
 * partition and the high watermark is the log end offset; the replication
 * work (ISR, follower fetch) will live beside this in src/replica/.
 *
 * Loop thread only, except `log`, which is thread-safe on its own. */
#ifndef GR_PARTITION_H
#define GR_PARTITION_H

#include <stdint.h>

#include "storage/log.h"

/* Something parked on a partition: a long-poll fetch waiting for data, or a
 * durable produce waiting for its fsync.  `wake` runs on the loop thread and
 * must unlink the waiter (gr_waiter_unlink); it may link it again later. */
typedef struct gr_waiter {
    struct gr_waiter *prev, *next;
    struct gr_waitlist *list;   /* the list it is on, NULL if none */
    void (*wake)(struct gr_waiter *w);
    int64_t offset;         /* flush waiters: wake once flushed past this */
} gr_waiter_t;

typedef struct gr_waitlist {
    gr_waiter_t *head;
} gr_waitlist_t;

void gr_waiter_link(gr_waitlist_t *list, gr_waiter_t *w);
/* Takes the waiter off its list; a no-op if it is on none. */
void gr_waiter_unlink(gr_waiter_t *w);

typedef struct gr_partition {
    char *topic;            /* the topic's name (owned) */
    int32_t index;
    gr_log_t *log;
    int32_t leader_epoch;
    int64_t flushed;        /* recovery point the flusher last reported */
    gr_waitlist_t fetch_waiters;
    gr_waitlist_t flush_waiters;
} gr_partition_t;

/* Wakes every fetch waiter (after an append). */
void gr_partition_appended(gr_partition_t *p);
/* Records a new flushed offset and wakes the produce requests it covers. */
void gr_partition_flushed(gr_partition_t *p, int64_t flushed);
static inline int64_t gr_partition_high_watermark(gr_partition_t *p) { return gr_log_end_offset(p->log); }

#endif
