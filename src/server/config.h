/* The broker configuration (server.properties, Kafka's key names and
 * defaults) and the per-topic configuration (Kafka's topic-level names, each
 * defaulting from a broker key).
 *
 *   gregord [server.properties] [--override key=value]...
 *
 * Gregor's single-node defaults differ from Kafka's only where Kafka has no
 * sensible default without a file: listeners=PLAINTEXT://localhost:9092,
 * log.dirs=./data, broker.id=0 and offsets.topic.replication.factor=1 (and
 * transaction.state.log.replication.factor=1, transaction.state.log.min.isr=1).
 * An unknown key or a bad value is a startup error that names the key.
 */
#ifndef GR_SERVER_CONFIG_H
#define GR_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/log.h"
#include "util/config.h"

typedef struct gr_broker_config {
    int32_t broker_id;                      /* broker.id (0) */
    char *listener_host;                    /* from listeners; "" = all interfaces */
    int listener_port;                      /* 0 = ephemeral */
    char *advertised_host;                  /* advertised.listeners, else listener host ("localhost" if empty/0.0.0.0) */
    int advertised_port;                    /* advertised port; 0 if the listener port is ephemeral (fill in after bind) */
    char *log_dir;                          /* log.dirs / log.dir (one directory) */
    int32_t num_partitions;                 /* num.partitions (1) */
    int16_t default_replication_factor;     /* default.replication.factor (1) */
    bool auto_create_topics_enable;         /* auto.create.topics.enable (true) */
    bool delete_topic_enable;               /* delete.topic.enable (true) */
    int32_t message_max_bytes;              /* message.max.bytes (1048588) */
    int32_t socket_request_max_bytes;       /* socket.request.max.bytes (104857600) */
    int64_t log_retention_check_interval_ms;        /* (300000) */
    int64_t log_flush_scheduler_interval_ms;        /* (Long.MAX) */
    int64_t log_flush_offset_checkpoint_interval_ms;/* (60000) */
    int64_t log_flush_start_offset_checkpoint_interval_ms; /* (60000) */
    int64_t replica_high_watermark_checkpoint_interval_ms; /* (5000) */
    int32_t num_network_threads;            /* num.network.threads (3) */
    int32_t num_io_threads;                 /* num.io.threads (8) */
    char *zookeeper_connect;                /* NULL = local metadata store */
    int32_t zookeeper_session_timeout_ms;   /* zookeeper.session.timeout.ms (18000) */
    int16_t offsets_topic_replication_factor;   /* (1 in Gregor; Kafka: 3) */
    int32_t offsets_topic_num_partitions;   /* offsets.topic.num.partitions (50) */
    int32_t offsets_topic_segment_bytes;    /* offsets.topic.segment.bytes (104857600) */
    int64_t offsets_retention_minutes;      /* offsets.retention.minutes (10080) */
    int64_t offsets_retention_check_interval_ms;    /* offsets.retention.check.interval.ms (600000) */
    int32_t group_initial_rebalance_delay_ms;   /* (3000) */
    int32_t group_min_session_timeout_ms;   /* (6000) */
    int32_t group_max_session_timeout_ms;   /* (1800000) */
    int32_t group_max_size;                 /* group.max.size (Integer.MAX_VALUE) */
    int32_t min_insync_replicas;            /* min.insync.replicas (1) */
    bool unclean_leader_election_enable;    /* (false) */
    int64_t replica_lag_time_max_ms;        /* (30000) */
    char *log_message_timestamp_type;       /* "CreateTime" | "LogAppendTime" */
    char *compression_type;                 /* compression.type ("producer") */
    char *log_cleanup_policy;               /* log.cleanup.policy ("delete") */
    gr_log_config_t log_defaults;           /* segment/retention/flush/index defaults for topics:
                                             * log.segment.bytes, log.roll.ms/hours,
                                             * log.retention.ms/minutes/hours (ms > minutes > hours),
                                             * log.retention.bytes, log.flush.interval.messages,
                                             * log.flush.interval.ms (defaults to
                                             * log.flush.scheduler.interval.ms), log.index.interval.bytes,
                                             * log.index.size.max.bytes, file.delete.delay.ms */
    gr_config_set_t set;                    /* every key as given, for DescribeConfigs and later lookups */
} gr_broker_config_t;

/* argv: [server.properties] [--override key=value]... (argv[0] is the
 * program name and is skipped).  `--override=key=value` is accepted too.
 * Overrides win over the file.  On error returns GR_ECONFIG (or GR_EIO if
 * the file cannot be read) with a message naming the key or file. */
int gr_broker_config_load(int argc, char **argv, gr_broker_config_t *cfg, char *err, size_t errlen);
/* Same, from already-split pairs (file pairs first, then overrides). */
int gr_broker_config_from_kv(const gr_config_kv_t *file_kv, int nfile, const gr_config_kv_t *over_kv,
                             int nover, gr_broker_config_t *cfg, char *err, size_t errlen);
void gr_broker_config_free(gr_broker_config_t *cfg);

/* DescribeConfigs for the broker resource: every broker key with its
 * effective value; source STATIC_BROKER_CONFIG when set in the file or by
 * --override, DEFAULT_CONFIG otherwise.  All broker keys are read-only
 * (no dynamic broker configs yet). */
void gr_broker_config_describe(const gr_broker_config_t *bc, gr_config_describe_fn fn, void *arg);

/* --- per-topic configs --- */

/* GR_ECONFIG with "unknown topic config 'key'" or "retention.ms: ..." on an
 * unknown key or bad value; 0 if valid. */
int gr_topic_config_validate(const char *key, const char *value, char *err, size_t errlen);

/* The broker key a topic key defaults from ("retention.ms" ->
 * "log.retention.ms"), NULL for an unknown key. */
const char *gr_topic_config_synonym(const char *key);
/* True for list-typed topic keys (cleanup.policy, *.throttled.replicas):
 * the ones IncrementalAlterConfigs APPEND/SUBTRACT apply to. */
bool gr_topic_config_is_list(const char *key);
/* True for any topic-level key Gregor knows. */
bool gr_topic_config_known(const char *key);

/* Effective typed settings of a topic: overrides (already validated; an
 * invalid one is ignored with a warning) over the broker defaults. */
typedef struct gr_topic_settings {
    gr_log_config_t log;
    int32_t max_message_bytes;              /* max.message.bytes */
    bool log_append_time;                   /* message.timestamp.type == LogAppendTime */
    bool compact;                           /* cleanup.policy contains compact */
    bool delete_policy;                     /* cleanup.policy contains delete */
    int32_t min_insync_replicas;
    bool unclean_leader_election;
    int compression;                        /* -1 = producer, 0 none/uncompressed, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
    int64_t delete_retention_ms;
    double min_cleanable_dirty_ratio;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    int64_t message_timestamp_difference_max_ms;
    bool preallocate;
} gr_topic_settings_t;

void gr_topic_config_resolve(const gr_broker_config_t *bc, const gr_config_kv_t *overrides, int n,
                             gr_topic_settings_t *out);

/* DescribeConfigs for a topic: every topic key with its effective value;
 * source TOPIC (is_default false) for an override, STATIC_BROKER_CONFIG when
 * the broker synonym was set in server.properties/--override, DEFAULT_CONFIG
 * otherwise.  Topic keys are not read-only. */
void gr_topic_config_describe(const gr_broker_config_t *bc, const gr_config_kv_t *overrides, int n,
                              gr_config_describe_fn fn, void *arg);

#endif
