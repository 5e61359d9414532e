/* Committed offsets of one group, and the __consumer_offsets record formats.
 *
 * Keys and values are an i16 schema version followed by a non-flexible
 * struct (GroupMetadataManager.scala @3.0):
 *
 *   offset commit key    v1: i16 1, group STRING, topic STRING, partition i32
 *   offset commit value  v3: i16 3, offset i64, leader_epoch i32,
 *                            metadata STRING, commit_timestamp i64
 *                        v1: i16 1, offset i64, metadata STRING,
 *                            commit_timestamp i64, expire_timestamp i64
 *                            (written instead of v3 when the commit had an
 *                            OffsetCommit v2-4 RetentionTimeMs, as Kafka's
 *                            offsetCommitValue does for an expireTimestamp)
 *   group metadata key   v2: i16 2, group STRING
 *   group metadata value v3: i16 3, protocol_type STRING, generation i32,
 *                            protocol STRING?, leader STRING?,
 *                            current_state_timestamp i64, members [
 *                              member_id STRING, group_instance_id STRING?,
 *                              client_id STRING, client_host STRING,
 *                              rebalance_timeout i32, session_timeout i32,
 *                              subscription BYTES, assignment BYTES ]
 *   a null value (tombstone) deletes the offset or the group
 *
 * Older versions are read (offset values v0-v3, metadata values v0-v3).
 *
 * Loop thread only. */
#ifndef GR_OFFSETS_H
#define GR_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/prim.h"
#include "util/buf.h"

/* Kafka's OffsetConfig.maxMetadataSize (offset.metadata.max.bytes). */
#define GR_OFFSETS_MAX_METADATA 4096

typedef struct gr_offset {
    struct gr_offset *next;         /* hash chain */
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;                 /* NULL = "" */
    int32_t metadata_len;
    int64_t commit_ts;              /* wall ms */
    int64_t expire_ts;              /* wall ms; -1: offsets.retention.minutes applies */
} gr_offset_t;

typedef struct gr_offsets {
    gr_offset_t **buckets;
    uint32_t nbuckets, count;
} gr_offsets_t;

void gr_offsets_init(gr_offsets_t *o);
void gr_offsets_free(gr_offsets_t *o);
gr_offset_t *gr_offsets_get(const gr_offsets_t *o, const char *topic, size_t len, int32_t partition);
/* Inserts or updates; allocates only for a partition not seen before (and
 * for metadata that changed size).  0 or GR_ENOMEM. */
int gr_offsets_put(gr_offsets_t *o, const char *topic, size_t len, int32_t partition, int64_t offset,
                   int32_t leader_epoch, gr_str_t metadata, int64_t commit_ts, int64_t expire_ts);
bool gr_offsets_delete(gr_offsets_t *o, const char *topic, size_t len, int32_t partition);
/* Calls fn for each offset; fn may delete the offset it is given. */
void gr_offsets_foreach(gr_offsets_t *o, void (*fn)(void *arg, gr_offset_t *off), void *arg);

/* Record encoders (append to w).  The commit value is v3, or v1 (no leader
 * epoch) when expire_ts >= 0. */
void gr_offsets_encode_commit_key(gr_writer_t *w, gr_str_t group, gr_str_t topic, int32_t partition);
void gr_offsets_encode_commit_value(gr_writer_t *w, int64_t offset, int32_t leader_epoch, gr_str_t metadata,
                                    int64_t commit_ts, int64_t expire_ts);
void gr_offsets_encode_group_key(gr_writer_t *w, gr_str_t group);

/* Kafka's String.hashCode over UTF-16 code units of the UTF-8 group id. */
int32_t gr_offsets_java_hash(const char *s, size_t len);
/* abs(hash) % n with abs(INT_MIN) = 0 (Utils.abs). */
int32_t gr_offsets_partition_for(const char *group, size_t len, int32_t n);

#endif
