/* The broker's state: configuration, topic registry, and the partitions this
 * broker serves with their logs; plus the background duties (flusher,
 * retention, checkpoints, the log cleaner of compacted topics).  API handlers (src/api/) work through this.
 *
 * Loop thread only, except where a function says otherwise. */
#ifndef GR_BROKER_H
#define GR_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/partition.h"
#include "cluster/metastore.h"
#include "cluster/topics.h"
#include "net/loop.h"
#include "server/config.h"
#include "storage/cleaner.h"
#include "storage/flusher.h"

/* The broker's view of one topic: settings resolved from its configs, and
 * its partitions. */
typedef struct gr_broker_topic {
    char *name;
    gr_uuid_t id;
    int32_t npartitions;
    gr_partition_t **partitions;
    gr_topic_settings_t settings;
    bool internal;
} gr_broker_topic_t;

typedef struct gr_broker {
    gr_broker_config_t *cfg;
    gr_loop_t *loop;
    gr_metastore_t *ms;
    gr_topics_t *topics;
    gr_flusher_t *flusher;
    gr_cleaner_t *cleaner;          /* NULL when log.cleaner.enable=false */
    const char *advertised_host;
    int advertised_port;
    /* name -> topic, open addressing */
    gr_broker_topic_t **map;
    uint32_t map_cap, map_count;
    gr_timer_t retention_timer;
    gr_timer_t flush_timer;
    gr_timer_t checkpoint_timer;
} gr_broker_t;

/* Opens the metadata store and every partition's log (recovering as
 * needed).  0 or GR_E*, logged. */
int gr_broker_open(gr_broker_config_t *cfg, gr_loop_t *loop, gr_broker_t **out);
/* Starts timers and registers the broker once its listener is bound. */
int gr_broker_start(gr_broker_t *b, int advertised_port);
/* Flushes every log, writes the checkpoints, closes everything. */
void gr_broker_close(gr_broker_t *b);

gr_broker_topic_t *gr_broker_topic(gr_broker_t *b, const char *name, size_t len);
gr_broker_topic_t *gr_broker_topic_by_id(gr_broker_t *b, const gr_uuid_t *id);
gr_partition_t *gr_broker_partition(gr_broker_t *b, const char *name, size_t len, int32_t index);

/* Auto-creation on Metadata / Produce (auto.create.topics.enable,
 * num.partitions).  Returns the topic, or NULL with *err set to a Kafka
 * error code (UNKNOWN_TOPIC_OR_PARTITION when disabled,
 * INVALID_TOPIC_EXCEPTION for a bad name). */
gr_broker_topic_t *gr_broker_auto_create(gr_broker_t *b, const char *name, size_t len, int16_t *err);

/* Appends one validated batch (gr_batch_validate) as this partition's
 * leader: stamps base offset, leader epoch and, for LogAppendTime topics,
 * the broker's clock; wakes waiting fetches; and, when the topic's flush
 * policy makes the append due (info->flush_due, e.g. flush.messages=1),
 * asks the flusher for an fsync.  A caller that must not acknowledge before
 * the fsync waits on p->flush_waiters for gr_log_end_offset.  0 or GR_E*. */
int gr_broker_append(gr_broker_t *b, gr_broker_topic_t *t, gr_partition_t *p, uint8_t *batch, size_t len,
                     gr_append_info_t *info);

/* Asks the flusher for an fsync of the partition's log. */
void gr_broker_request_flush(gr_broker_t *b, gr_partition_t *p);

/* Writes recovery-point, log-start-offset and replication-offset
 * checkpoints for every partition. */
int gr_broker_write_checkpoints(gr_broker_t *b);

/* Calls fn for every topic, in name order. */
void gr_broker_foreach_topic(gr_broker_t *b, void (*fn)(void *arg, gr_broker_topic_t *t), void *arg);

#endif
