/* The group coordinator: owns every consumer group whose
 * __consumer_offsets partition this broker leads, routes requests to them,
 * and writes their offsets and metadata to that partition.
 *
 *   partition(group) = abs(javaHashCode(group)) % partitions of __consumer_offsets
 *
 * On one broker every partition is ours once loaded; the routing still goes
 * through the per-partition state so that a cluster only has to change who
 * owns which partition.  __consumer_offsets is created on first use.
 *
 * Loop thread only. */
#ifndef GR_COORDINATOR_H
#define GR_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "group/group.h"
#include "group/offsets.h"

#define GR_OFFSETS_TOPIC "__consumer_offsets"

typedef struct gr_coordinator_config {
    int32_t num_partitions;             /* offsets.topic.num.partitions */
    int16_t replication_factor;         /* offsets.topic.replication.factor */
    int32_t segment_bytes;              /* offsets.topic.segment.bytes */
    int64_t retention_ms;               /* offsets.retention.minutes * 60000 */
    int64_t retention_check_ms;         /* offsets.retention.check.interval.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t max_size;                   /* group.max.size */
    int32_t new_member_join_timeout_ms; /* GroupCoordinator.NewMemberJoinTimeoutMs */
} gr_coordinator_config_t;

enum { GR_COORD_PART_NOT_OURS, GR_COORD_PART_LOADING, GR_COORD_PART_OURS };

struct gr_coordinator {
    gr_broker_t *b;                     /* NULL in unit tests: nothing is written */
    gr_loop_t *loop;
    gr_coordinator_config_t cfg;
    int32_t npartitions;                /* of the topic, once it exists */
    uint8_t *pstate;                    /* [npartitions] GR_COORD_PART_* */
    gr_group_t **buckets;
    uint32_t nbuckets, ngroups;
    gr_writer_t batch, key, value;      /* reused for every write */
    gr_timer_t expire_timer;
    uint64_t member_seq;
};

/* Configuration from the broker's (Kafka's defaults where it has none). */
void gr_coordinator_config_from_broker(gr_coordinator_config_t *cfg, const gr_broker_config_t *bc);

/* b may be NULL (unit tests: state machine only, writes succeed at once,
 * every partition of cfg->num_partitions is ours).  0 or GR_ENOMEM. */
int gr_coordinator_new(gr_broker_t *b, gr_loop_t *loop, const gr_coordinator_config_t *cfg,
                       gr_coordinator_t **out);
/* Reads every __consumer_offsets partition (if the topic exists) and
 * rebuilds groups and offsets; starts the expiry timer.  0 or GR_E*. */
int gr_coordinator_load(gr_coordinator_t *co);
/* Answers every parked join/sync, frees everything.  Before the broker
 * closes. */
void gr_coordinator_close(gr_coordinator_t *co);

/* The coordinator serving broker b (handlers find it here). */
gr_coordinator_t *gr_coordinator_of(gr_broker_t *b);

/* Creates __consumer_offsets if missing (and takes its partitions).
 * 0 or GR_E*. */
int gr_coordinator_ensure_topic(gr_coordinator_t *co);

/* The group's partition and whether we coordinate it: NONE, or
 * COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS /
 * NOT_COORDINATOR.  Creates the topic on first use. */
int16_t gr_coordinator_route(gr_coordinator_t *co, gr_str_t group_id, int32_t *partition);

gr_group_t *gr_coordinator_find(gr_coordinator_t *co, gr_str_t group_id);
gr_group_t *gr_coordinator_get_or_create(gr_coordinator_t *co, gr_str_t group_id, int32_t partition);
/* Removes the group from the map and frees it (no records written). */
void gr_coordinator_remove(gr_coordinator_t *co, gr_group_t *group);
void gr_coordinator_foreach(gr_coordinator_t *co, void (*fn)(void *arg, gr_group_t *group), void *arg);

/* A fresh member id: "<client id>-<uuid>" (KIP-394), malloc'd. */
char *gr_coordinator_member_id(gr_coordinator_t *co, gr_str_t client_id);

/* Writes the group's metadata record (GroupMetadataValue v3) to its
 * partition; tombstone = the group is gone.  0 or GR_E*. */
int gr_coordinator_store_group(gr_coordinator_t *co, gr_group_t *group, bool tombstone);

/* One partition's commit in a batch to write. */
typedef struct gr_commit_entry {
    gr_str_t topic;
    int32_t partition;
    int64_t offset;                 /* ignored for tombstones */
    int32_t leader_epoch;
    gr_str_t metadata;
    bool tombstone;
    /* OffsetCommit v2-4 RetentionTimeMs other than -1: the offset expires
     * at commit time + retention_ms instead of by offsets.retention.minutes
     * (Kafka's OffsetAndMetadata.expireTimestamp). */
    bool has_retention;
    int64_t retention_ms;
} gr_commit_entry_t;

/* Writes the entries as one batch to the group's partition and applies them
 * to the group's offsets.  *flush_p / *flush_offset say what to wait for
 * before acknowledging (p NULL: nothing).  0 or GR_E*. */
int gr_coordinator_store_offsets(gr_coordinator_t *co, gr_group_t *group, const gr_commit_entry_t *e, int n,
                                 gr_partition_t **flush_p, int64_t *flush_offset);

/* Drops expired offsets of empty groups, and empty groups with no offsets
 * left (writing tombstones).  Returns how many offsets expired. */
int gr_coordinator_expire(gr_coordinator_t *co, int64_t now_wall_ms);

/* Deletes an empty group: tombstones for its offsets and metadata.
 * NONE, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int16_t gr_coordinator_delete_group(gr_coordinator_t *co, gr_group_t *group);

/* Load helper (load.c): applies one record of __consumer_offsets. */
int gr_coordinator_apply_record(gr_coordinator_t *co, int32_t partition, gr_bytes_t key, gr_bytes_t value);
/* Loads one partition's records from its log.  0 or GR_E*. */
int gr_coordinator_load_partition(gr_coordinator_t *co, int32_t partition, gr_log_t *log);

#endif
