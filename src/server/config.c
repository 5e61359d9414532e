/* Broker and topic configuration: Kafka's keys and defaults (KafkaConfig,
 * LogConfig, ServerLogConfigs), Gregor's single-node differences, and the
 * topic -> broker key synonyms.
 *
 * Accepted and held but not acted on yet (flag GR_CFG_F_IGNORED; listed by
 * DescribeConfigs so tools see them):
 *   listener.security.protocol.map (only to resolve a listener name to
 *   PLAINTEXT), inter.broker.listener.name, security.inter.broker.protocol,
 *   zookeeper.connection.timeout.ms, zookeeper.max.in.flight.requests,
 *   zookeeper.set.acl, auto.leader.rebalance.enable,
 *   leader.imbalance.check.interval.seconds, leader.imbalance.per.broker.percentage,
 *   socket.send.buffer.bytes, socket.receive.buffer.bytes, socket.listen.backlog.size,
 *   num.recovery.threads.per.data.dir, num.replica.fetchers, background.threads,
 *   queued.max.requests, connections.max.idle.ms, max.connections,
 *   max.connections.per.ip, controller.socket.timeout.ms, log.roll.jitter.ms/hours
 *   (held for segment.jitter.ms), log.cleaner.threads (one cleaner thread),
 *   log.cleaner.io.buffer.*, log.message.format.version,
 *   log.message.downconversion.enable, replica.fetch.*, replica.socket.*,
 *   replica.selector.class, broker.rack, broker.id.generation.enable,
 *   reserved.broker.max.id, offsets.topic.compression.codec,
 *   offsets.load.buffer.size, offsets.commit.timeout.ms,
 *   offsets.commit.required.acks, offset.metadata.max.bytes,
 *   transaction.state.log.* , transactional.id.expiration.ms,
 *   transaction.max.timeout.ms, producer.id.expiration.ms,
 *   max.incremental.fetch.session.cache.slots, fetch.max.bytes,
 *   controlled.shutdown.*, inter.broker.protocol.version, metric.reporters,
 *   authorizer.class.name, super.users.
 */
#include "server/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "util/log.h"

#define LMAX "9223372036854775807"
#define IMAX "2147483647"
#define IGN GR_CFG_F_IGNORED
#define RO GR_CFG_F_READ_ONLY
#define NUL GR_CFG_F_NULLABLE

/* name, type, default, min, max, dmin, dmax, choices, flags, doc.  A range
 * of 0,0 means "the type's range". */
static const gr_config_def_t broker_defs[] = {
    {"broker.id", GR_CFG_INT, "0", 0, INT32_MAX, 0, 0, NULL, RO, "The broker's id (Gregor's single-node default: 0)."},
    {"listeners", GR_CFG_STRING, "PLAINTEXT://localhost:9092", 0, 0, 0, 0, NULL, RO, "The listener, PLAINTEXT://host:port (empty host = all interfaces, port 0 = ephemeral)."},
    {"advertised.listeners", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL, "The listener published to clients; defaults to listeners."},
    {"listener.security.protocol.map", GR_CFG_STRING, "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", 0, 0, 0, 0, NULL, RO | IGN, "Listener name to security protocol."},
    {"inter.broker.listener.name", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL | IGN, "Listener used between brokers."},
    {"security.inter.broker.protocol", GR_CFG_ENUM, "PLAINTEXT", 0, 0, 0, 0, "PLAINTEXT,SSL,SASL_PLAINTEXT,SASL_SSL", RO | IGN, "Security protocol between brokers."},
    {"log.dirs", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL, "The data directory (one only); overrides log.dir."},
    {"log.dir", GR_CFG_STRING, "./data", 0, 0, 0, 0, NULL, RO, "The data directory when log.dirs is unset (Gregor's default: ./data)."},
    {"zookeeper.connect", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL, "ZooKeeper connection string; unset = the local metadata store."},
    {"zookeeper.session.timeout.ms", GR_CFG_INT, "18000", 1, INT32_MAX, 0, 0, NULL, RO, "ZooKeeper session timeout."},
    {"zookeeper.connection.timeout.ms", GR_CFG_INT, NULL, 1, INT32_MAX, 0, 0, NULL, RO | NUL | IGN, "ZooKeeper connection timeout."},
    {"zookeeper.max.in.flight.requests", GR_CFG_INT, "10", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"zookeeper.set.acl", GR_CFG_BOOL, "false", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"num.partitions", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, RO, "Default partition count of new topics."},
    {"default.replication.factor", GR_CFG_INT, "1", 1, INT16_MAX, 0, 0, NULL, RO, "Default replication factor of new topics."},
    {"auto.create.topics.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO, "Create topics on Metadata/Produce for unknown names."},
    {"delete.topic.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO, "Allow DeleteTopics."},
    {"auto.leader.rebalance.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"leader.imbalance.check.interval.seconds", GR_CFG_LONG, "300", 1, INT64_MAX, 0, 0, NULL, RO | IGN, ""},
    {"leader.imbalance.per.broker.percentage", GR_CFG_INT, "10", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"message.max.bytes", GR_CFG_INT, "1048588", 0, INT32_MAX, 0, 0, NULL, RO, "Largest record batch; default of max.message.bytes."},
    {"socket.request.max.bytes", GR_CFG_INT, "104857600", 1, INT32_MAX, 0, 0, NULL, RO, "Largest request frame."},
    {"socket.send.buffer.bytes", GR_CFG_INT, "102400", -1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"socket.receive.buffer.bytes", GR_CFG_INT, "102400", -1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"socket.listen.backlog.size", GR_CFG_INT, "50", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"num.network.threads", GR_CFG_INT, "3", 1, INT32_MAX, 0, 0, NULL, RO, "Network (event loop) threads."},
    {"num.io.threads", GR_CFG_INT, "8", 1, INT32_MAX, 0, 0, NULL, RO, "Request handler threads."},
    {"num.recovery.threads.per.data.dir", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"num.replica.fetchers", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"background.threads", GR_CFG_INT, "10", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"queued.max.requests", GR_CFG_INT, "500", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"connections.max.idle.ms", GR_CFG_LONG, "600000", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"max.connections", GR_CFG_INT, IMAX, 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"max.connections.per.ip", GR_CFG_INT, IMAX, 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"controller.socket.timeout.ms", GR_CFG_INT, "30000", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"log.segment.bytes", GR_CFG_INT, "1073741824", 14, INT32_MAX, 0, 0, NULL, RO, "Segment size before a roll."},
    {"log.roll.ms", GR_CFG_LONG, NULL, 1, INT64_MAX, 0, 0, NULL, RO | NUL, "Segment age before a roll; overrides log.roll.hours."},
    {"log.roll.hours", GR_CFG_INT, "168", 1, INT32_MAX, 0, 0, NULL, RO, "Segment age before a roll, in hours."},
    {"log.roll.jitter.ms", GR_CFG_LONG, NULL, 0, INT64_MAX, 0, 0, NULL, RO | NUL | IGN, ""},
    {"log.roll.jitter.hours", GR_CFG_INT, "0", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"log.retention.ms", GR_CFG_LONG, NULL, 0, 0, 0, 0, NULL, RO | NUL, "Retention time; -1 = forever; overrides minutes and hours."},
    {"log.retention.minutes", GR_CFG_INT, NULL, 0, 0, 0, 0, NULL, RO | NUL, "Retention time in minutes; overrides hours."},
    {"log.retention.hours", GR_CFG_INT, "168", 0, 0, 0, 0, NULL, RO, "Retention time in hours."},
    {"log.retention.bytes", GR_CFG_LONG, "-1", 0, 0, 0, 0, NULL, RO, "Retention size per partition; -1 = no limit."},
    {"log.retention.check.interval.ms", GR_CFG_LONG, "300000", 1, INT64_MAX, 0, 0, NULL, RO, "How often retention runs."},
    {"log.cleanup.policy", GR_CFG_LIST, "delete", 0, 0, 0, 0, "compact,delete", RO, "Default cleanup.policy."},
    {"log.cleaner.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO, "Run the log cleaner (compaction of cleanup.policy=compact topics)."},
    {"log.cleaner.threads", GR_CFG_INT, "1", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"log.cleaner.dedupe.buffer.size", GR_CFG_LONG, "134217728", 0, 0, 0, 0, NULL, RO, "Soft bound on the cleaner's key map; a pass covers less of the dirty log when it would exceed it."},
    {"log.cleaner.io.buffer.size", GR_CFG_INT, "524288", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"log.cleaner.io.buffer.load.factor", GR_CFG_DOUBLE, "0.9", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"log.cleaner.io.max.bytes.per.second", GR_CFG_DOUBLE, "1.7976931348623157E308", 0, 0, 0, 0, NULL, RO, "Cleaner read+write rate limit."},
    {"log.cleaner.backoff.ms", GR_CFG_LONG, "15000", 0, INT64_MAX, 0, 0, NULL, RO, "Sleep between the cleaner's checks of its logs."},
    {"log.cleaner.min.cleanable.ratio", GR_CFG_DOUBLE, "0.5", 0, 0, 0, 1, NULL, RO, "Default min.cleanable.dirty.ratio."},
    {"log.cleaner.delete.retention.ms", GR_CFG_LONG, "86400000", 0, INT64_MAX, 0, 0, NULL, RO, "Default delete.retention.ms."},
    {"log.cleaner.min.compaction.lag.ms", GR_CFG_LONG, "0", 0, INT64_MAX, 0, 0, NULL, RO, "Default min.compaction.lag.ms."},
    {"log.cleaner.max.compaction.lag.ms", GR_CFG_LONG, LMAX, 1, INT64_MAX, 0, 0, NULL, RO, "Default max.compaction.lag.ms."},
    {"log.index.size.max.bytes", GR_CFG_INT, "10485760", 4, INT32_MAX, 0, 0, NULL, RO, "Offset index size (preallocated)."},
    {"log.index.interval.bytes", GR_CFG_INT, "4096", 0, INT32_MAX, 0, 0, NULL, RO, "Bytes between index entries."},
    {"log.flush.interval.messages", GR_CFG_LONG, LMAX, 1, INT64_MAX, 0, 0, NULL, RO, "fsync after this many messages."},
    {"log.flush.interval.ms", GR_CFG_LONG, NULL, 0, INT64_MAX, 0, 0, NULL, RO | NUL, "fsync after this long; defaults to log.flush.scheduler.interval.ms."},
    {"log.flush.scheduler.interval.ms", GR_CFG_LONG, LMAX, 0, 0, 0, 0, NULL, RO, "How often the flusher checks logs."},
    {"log.flush.offset.checkpoint.interval.ms", GR_CFG_INT, "60000", 0, INT32_MAX, 0, 0, NULL, RO, "Recovery-point checkpoint interval."},
    {"log.flush.start.offset.checkpoint.interval.ms", GR_CFG_INT, "60000", 0, INT32_MAX, 0, 0, NULL, RO, "Log-start-offset checkpoint interval."},
    {"log.segment.delete.delay.ms", GR_CFG_LONG, "60000", 0, INT64_MAX, 0, 0, NULL, RO, "Default file.delete.delay.ms."},
    {"log.preallocate", GR_CFG_BOOL, "false", 0, 0, 0, 0, NULL, RO, "Default preallocate."},
    {"log.message.timestamp.type", GR_CFG_ENUM, "CreateTime", 0, 0, 0, 0, "CreateTime,LogAppendTime", RO, "Default message.timestamp.type."},
    {"log.message.timestamp.difference.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, RO, "Default message.timestamp.difference.max.ms."},
    {"log.message.timestamp.before.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, RO, "Default message.timestamp.before.max.ms."},
    {"log.message.timestamp.after.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, RO, "Default message.timestamp.after.max.ms."},
    {"log.message.format.version", GR_CFG_STRING, "3.0-IV1", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"log.message.downconversion.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"min.insync.replicas", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, RO, "Default min.insync.replicas."},
    {"unclean.leader.election.enable", GR_CFG_BOOL, "false", 0, 0, 0, 0, NULL, RO, "Default unclean.leader.election.enable."},
    {"compression.type", GR_CFG_ENUM, "producer", 0, 0, 0, 0, "uncompressed,zstd,lz4,snappy,gzip,producer", RO, "Default compression.type."},
    {"replica.lag.time.max.ms", GR_CFG_LONG, "30000", 0, INT64_MAX, 0, 0, NULL, RO, "A follower behind this long leaves the ISR."},
    {"replica.fetch.max.bytes", GR_CFG_INT, "1048576", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"replica.fetch.wait.max.ms", GR_CFG_INT, "500", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"replica.fetch.min.bytes", GR_CFG_INT, "1", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"replica.fetch.response.max.bytes", GR_CFG_INT, "10485760", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"replica.fetch.backoff.ms", GR_CFG_INT, "1000", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"replica.socket.timeout.ms", GR_CFG_INT, "30000", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"replica.socket.receive.buffer.bytes", GR_CFG_INT, "65536", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"replica.high.watermark.checkpoint.interval.ms", GR_CFG_LONG, "5000", 0, 0, 0, 0, NULL, RO, "High-watermark checkpoint interval."},
    {"replica.selector.class", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL | IGN, ""},
    {"broker.rack", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL | IGN, ""},
    {"broker.id.generation.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"reserved.broker.max.id", GR_CFG_INT, "1000", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"offsets.topic.replication.factor", GR_CFG_SHORT, "1", 1, INT16_MAX, 0, 0, NULL, RO, "Replication factor of __consumer_offsets (Gregor's single-node default: 1; Kafka: 3)."},
    {"offsets.topic.num.partitions", GR_CFG_INT, "50", 1, INT32_MAX, 0, 0, NULL, RO, "Partitions of __consumer_offsets."},
    {"offsets.topic.segment.bytes", GR_CFG_INT, "104857600", 1, INT32_MAX, 0, 0, NULL, RO, "segment.bytes of __consumer_offsets."},
    {"offsets.topic.compression.codec", GR_CFG_INT, "0", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"offsets.retention.minutes", GR_CFG_INT, "10080", 1, INT32_MAX, 0, 0, NULL, RO, "Committed offsets of empty groups expire after this."},
    {"offsets.retention.check.interval.ms", GR_CFG_LONG, "600000", 1, INT64_MAX, 0, 0, NULL, RO, "How often expired offsets of empty groups are removed."},
    {"offsets.load.buffer.size", GR_CFG_INT, "5242880", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"offsets.commit.timeout.ms", GR_CFG_INT, "5000", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"offsets.commit.required.acks", GR_CFG_SHORT, "-1", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"offset.metadata.max.bytes", GR_CFG_INT, "4096", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"group.initial.rebalance.delay.ms", GR_CFG_INT, "3000", 0, 0, 0, 0, NULL, RO, "Delay of the first rebalance of an empty group."},
    {"group.min.session.timeout.ms", GR_CFG_INT, "6000", 0, 0, 0, 0, NULL, RO, "Smallest session timeout a member may ask for."},
    {"group.max.session.timeout.ms", GR_CFG_INT, "1800000", 0, 0, 0, 0, NULL, RO, "Largest session timeout a member may ask for."},
    {"group.max.size", GR_CFG_INT, IMAX, 1, INT32_MAX, 0, 0, NULL, RO, "Most members a consumer group may have (GROUP_MAX_SIZE_REACHED beyond)."},
    {"transaction.state.log.replication.factor", GR_CFG_SHORT, "1", 1, INT16_MAX, 0, 0, NULL, RO | IGN, "Gregor's single-node default: 1 (Kafka: 3)."},
    {"transaction.state.log.min.isr", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, RO | IGN, "Gregor's single-node default: 1 (Kafka: 2)."},
    {"transaction.state.log.num.partitions", GR_CFG_INT, "50", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"transaction.state.log.segment.bytes", GR_CFG_INT, "104857600", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"transactional.id.expiration.ms", GR_CFG_INT, "604800000", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"transaction.max.timeout.ms", GR_CFG_INT, "900000", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"producer.id.expiration.ms", GR_CFG_INT, "86400000", 1, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"max.incremental.fetch.session.cache.slots", GR_CFG_INT, "1000", 0, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"fetch.max.bytes", GR_CFG_INT, "57671680", 1024, INT32_MAX, 0, 0, NULL, RO | IGN, ""},
    {"controlled.shutdown.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"controlled.shutdown.max.retries", GR_CFG_INT, "3", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"controlled.shutdown.retry.backoff.ms", GR_CFG_LONG, "5000", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"inter.broker.protocol.version", GR_CFG_STRING, "2.8", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"metric.reporters", GR_CFG_LIST, "", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"authorizer.class.name", GR_CFG_STRING, "", 0, 0, 0, 0, NULL, RO | IGN, ""},
    {"super.users", GR_CFG_STRING, NULL, 0, 0, 0, 0, NULL, RO | NUL | IGN, ""},
};
#define NBROKER ((int)(sizeof broker_defs / sizeof broker_defs[0]))

/* Topic keys, with Kafka's topic defaults; `synonym` is the broker key the
 * effective default comes from (KafkaConfig / LogConfig synonyms). */
typedef struct topic_def {
    gr_config_def_t def;
    const char *synonym;
} topic_def_t;

static const topic_def_t topic_tdefs[] = {
    {{"cleanup.policy", GR_CFG_LIST, "delete", 0, 0, 0, 0, "compact,delete", 0, "delete and/or compact."}, "log.cleanup.policy"},
    {{"compression.type", GR_CFG_ENUM, "producer", 0, 0, 0, 0, "uncompressed,zstd,lz4,snappy,gzip,producer", 0, "Codec of stored batches; producer = as sent."}, "compression.type"},
    {{"delete.retention.ms", GR_CFG_LONG, "86400000", 0, INT64_MAX, 0, 0, NULL, 0, "How long tombstones survive compaction."}, "log.cleaner.delete.retention.ms"},
    {{"file.delete.delay.ms", GR_CFG_LONG, "60000", 0, INT64_MAX, 0, 0, NULL, 0, "Delay before a deleted segment's files go."}, "log.segment.delete.delay.ms"},
    {{"flush.messages", GR_CFG_LONG, LMAX, 1, INT64_MAX, 0, 0, NULL, 0, "fsync after this many messages (1 = every batch)."}, "log.flush.interval.messages"},
    {{"flush.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, 0, "fsync after this long."}, "log.flush.interval.ms"},
    {{"follower.replication.throttled.replicas", GR_CFG_LIST, "", 0, 0, 0, 0, NULL, 0, "Throttled replicas (not acted on)."}, NULL},
    {{"index.interval.bytes", GR_CFG_INT, "4096", 0, INT32_MAX, 0, 0, NULL, 0, "Bytes between offset index entries."}, "log.index.interval.bytes"},
    {{"leader.replication.throttled.replicas", GR_CFG_LIST, "", 0, 0, 0, 0, NULL, 0, "Throttled replicas (not acted on)."}, NULL},
    {{"max.compaction.lag.ms", GR_CFG_LONG, LMAX, 1, INT64_MAX, 0, 0, NULL, 0, "Longest a record stays uncompacted."}, "log.cleaner.max.compaction.lag.ms"},
    {{"max.message.bytes", GR_CFG_INT, "1048588", 0, INT32_MAX, 0, 0, NULL, 0, "Largest record batch."}, "message.max.bytes"},
    {{"message.downconversion.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, 0, "Down-convert for old consumers."}, "log.message.downconversion.enable"},
    {{"message.format.version", GR_CFG_STRING, "3.0-IV1", 0, 0, 0, 0, NULL, 0, "Ignored: always magic 2."}, "log.message.format.version"},
    {{"message.timestamp.after.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, 0, "Largest allowed CreateTime ahead of the broker clock."}, "log.message.timestamp.after.max.ms"},
    {{"message.timestamp.before.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, 0, "Largest allowed CreateTime behind the broker clock."}, "log.message.timestamp.before.max.ms"},
    {{"message.timestamp.difference.max.ms", GR_CFG_LONG, LMAX, 0, INT64_MAX, 0, 0, NULL, 0, "Largest allowed CreateTime difference from the broker clock."}, "log.message.timestamp.difference.max.ms"},
    {{"message.timestamp.type", GR_CFG_ENUM, "CreateTime", 0, 0, 0, 0, "CreateTime,LogAppendTime", 0, "CreateTime or LogAppendTime."}, "log.message.timestamp.type"},
    {{"min.cleanable.dirty.ratio", GR_CFG_DOUBLE, "0.5", 0, 0, 0, 1, NULL, 0, "Dirty ratio that triggers compaction."}, "log.cleaner.min.cleanable.ratio"},
    {{"min.compaction.lag.ms", GR_CFG_LONG, "0", 0, INT64_MAX, 0, 0, NULL, 0, "Shortest time a record stays uncompacted."}, "log.cleaner.min.compaction.lag.ms"},
    {{"min.insync.replicas", GR_CFG_INT, "1", 1, INT32_MAX, 0, 0, NULL, 0, "Fewest in-sync replicas for acks=all."}, "min.insync.replicas"},
    {{"preallocate", GR_CFG_BOOL, "false", 0, 0, 0, 0, NULL, 0, "Preallocate segment files."}, "log.preallocate"},
    {{"retention.bytes", GR_CFG_LONG, "-1", 0, 0, 0, 0, NULL, 0, "Size limit per partition; -1 = none."}, "log.retention.bytes"},
    {{"retention.ms", GR_CFG_LONG, "604800000", -1, INT64_MAX, 0, 0, NULL, 0, "Time limit; -1 = forever."}, "log.retention.ms"},
    {{"segment.bytes", GR_CFG_INT, "1073741824", 14, INT32_MAX, 0, 0, NULL, 0, "Segment size before a roll."}, "log.segment.bytes"},
    {{"segment.index.bytes", GR_CFG_INT, "10485760", 4, INT32_MAX, 0, 0, NULL, 0, "Offset index size."}, "log.index.size.max.bytes"},
    {{"segment.jitter.ms", GR_CFG_LONG, "0", 0, INT64_MAX, 0, 0, NULL, 0, "Random jitter subtracted from segment.ms."}, "log.roll.jitter.ms"},
    {{"segment.ms", GR_CFG_LONG, "604800000", 1, INT64_MAX, 0, 0, NULL, 0, "Segment age before a roll."}, "log.roll.ms"},
    {{"unclean.leader.election.enable", GR_CFG_BOOL, "false", 0, 0, 0, 0, NULL, 0, "Elect out-of-ISR leaders as a last resort."}, "unclean.leader.election.enable"},
};
#define NTOPIC ((int)(sizeof topic_tdefs / sizeof topic_tdefs[0]))

static const topic_def_t *topic_def_find(const char *key)
{
    for (int i = 0; i < NTOPIC; i++)
        if (strcmp(topic_tdefs[i].def.name, key) == 0) return &topic_tdefs[i];
    return NULL;
}

/* --- listeners --- */

/* Parses one "NAME://host:port" (host may be empty or [v6]).  Only PLAINTEXT
 * (directly, or a name mapped to it by listener.security.protocol.map) is
 * supported; Gregor has one listener. */
static int parse_listener(const char *key, const char *text, const char *protomap, char **host,
                          int *port, char *err, size_t errlen)
{
    int rc = GR_ECONFIG;
    char *h = NULL;
    if (strchr(text, ',')) {
        snprintf(err, errlen, "%s: '%s': only one listener is supported", key, text);
        goto done;
    }
    const char *sep = strstr(text, "://");
    if (!sep || sep == text) {
        snprintf(err, errlen, "%s: '%s' is not NAME://host:port", key, text);
        goto done;
    }
    size_t nlen = (size_t)(sep - text);
    bool plaintext = nlen == 9 && strncasecmp(text, "PLAINTEXT", 9) == 0;
    if (!plaintext && protomap) {
        /* A named listener: look its protocol up in the map ("NAME:PROTO,..."). */
        const char *m = protomap;
        while (*m) {
            const char *colon = strchr(m, ':'), *comma = strchr(m, ',');
            if (!colon || (comma && comma < colon)) break;
            const char *pe = comma ? comma : m + strlen(m);
            if ((size_t)(colon - m) == nlen && strncasecmp(m, text, nlen) == 0)
                plaintext = (size_t)(pe - colon - 1) == 9 && strncasecmp(colon + 1, "PLAINTEXT", 9) == 0;
            if (!comma) break;
            m = comma + 1;
        }
    }
    if (!plaintext) {
        snprintf(err, errlen, "%s: '%s': only PLAINTEXT listeners are supported", key, text);
        goto done;
    }
    const char *hp = sep + 3, *colon;
    size_t hlen;
    if (*hp == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "%s: '%s' has a malformed IPv6 address", key, text);
            goto done;
        }
        hp++;
        hlen = (size_t)(rb - hp);
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) {
            snprintf(err, errlen, "%s: '%s' has no port", key, text);
            goto done;
        }
        hlen = (size_t)(colon - hp);
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535) {
        snprintf(err, errlen, "%s: '%s' has a bad port", key, text);
        goto done;
    }
    h = strndup(hp, hlen);
    if (!h) { rc = GR_ENOMEM; goto done; }
    *host = h;
    *port = (int)p;
    h = NULL;
    rc = 0;
done:
    free(h);
    return rc;
}

/* --- loading --- */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = GR_EIO;
        goto done;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) { rc = GR_ENOMEM; goto done; }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = GR_EIO;
        goto done;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
done:
    if (f) fclose(f);
    free(buf);
    return rc;
}

static int64_t L(const gr_config_set_t *s, const char *k) { return gr_config_set_long(s, k); }

/* The typed fields from the set; the set was validated, so only cross-key
 * rules can fail here. */
static int fill_fields(gr_broker_config_t *c, char *err, size_t errlen)
{
    int rc = 0;
    const gr_config_set_t *s = &c->set;
    c->broker_id = (int32_t)L(s, "broker.id");
    c->num_partitions = (int32_t)L(s, "num.partitions");
    c->default_replication_factor = (int16_t)L(s, "default.replication.factor");
    c->auto_create_topics_enable = gr_config_set_bool(s, "auto.create.topics.enable");
    c->delete_topic_enable = gr_config_set_bool(s, "delete.topic.enable");
    c->message_max_bytes = (int32_t)L(s, "message.max.bytes");
    c->socket_request_max_bytes = (int32_t)L(s, "socket.request.max.bytes");
    c->log_retention_check_interval_ms = L(s, "log.retention.check.interval.ms");
    c->log_flush_scheduler_interval_ms = L(s, "log.flush.scheduler.interval.ms");
    c->log_flush_offset_checkpoint_interval_ms = L(s, "log.flush.offset.checkpoint.interval.ms");
    c->log_flush_start_offset_checkpoint_interval_ms = L(s, "log.flush.start.offset.checkpoint.interval.ms");
    c->replica_high_watermark_checkpoint_interval_ms = L(s, "replica.high.watermark.checkpoint.interval.ms");
    c->num_network_threads = (int32_t)L(s, "num.network.threads");
    c->num_io_threads = (int32_t)L(s, "num.io.threads");
    c->zookeeper_session_timeout_ms = (int32_t)L(s, "zookeeper.session.timeout.ms");
    c->offsets_topic_replication_factor = (int16_t)L(s, "offsets.topic.replication.factor");
    c->offsets_topic_num_partitions = (int32_t)L(s, "offsets.topic.num.partitions");
    c->offsets_topic_segment_bytes = (int32_t)L(s, "offsets.topic.segment.bytes");
    c->offsets_retention_minutes = L(s, "offsets.retention.minutes");
    c->offsets_retention_check_interval_ms = L(s, "offsets.retention.check.interval.ms");
    c->group_initial_rebalance_delay_ms = (int32_t)L(s, "group.initial.rebalance.delay.ms");
    c->group_min_session_timeout_ms = (int32_t)L(s, "group.min.session.timeout.ms");
    c->group_max_session_timeout_ms = (int32_t)L(s, "group.max.session.timeout.ms");
    c->group_max_size = (int32_t)L(s, "group.max.size");
    c->min_insync_replicas = (int32_t)L(s, "min.insync.replicas");
    c->unclean_leader_election_enable = gr_config_set_bool(s, "unclean.leader.election.enable");
    c->replica_lag_time_max_ms = L(s, "replica.lag.time.max.ms");

    const char *zk = gr_config_set_get(s, "zookeeper.connect");
    c->zookeeper_connect = zk && *zk ? strdup(zk) : NULL;
    c->log_message_timestamp_type = strdup(gr_config_set_get(s, "log.message.timestamp.type"));
    c->compression_type = strdup(gr_config_set_get(s, "compression.type"));
    c->log_cleanup_policy = strdup(gr_config_set_get(s, "log.cleanup.policy"));
    if ((zk && *zk && !c->zookeeper_connect) || !c->log_message_timestamp_type || !c->compression_type ||
        !c->log_cleanup_policy) { rc = GR_ENOMEM; goto done; }

    /* log.dirs wins over log.dir; one directory only. */
    const char *dir = gr_config_set_get(s, "log.dirs");
    const char *dkey = "log.dirs";
    if (!dir || !*dir) { dir = gr_config_set_get(s, "log.dir"); dkey = "log.dir"; }
    if (!dir || !*dir) {
        snprintf(err, errlen, "%s: must not be empty", dkey);
        rc = GR_ECONFIG;
        goto done;
    }
    if (strchr(dir, ',')) {
        snprintf(err, errlen, "%s: '%s': only one log directory is supported", dkey, dir);
        rc = GR_ECONFIG;
        goto done;
    }
    c->log_dir = strdup(dir);
    if (!c->log_dir) { rc = GR_ENOMEM; goto done; }

    const char *protomap = gr_config_set_get(s, "listener.security.protocol.map");
    rc = parse_listener("listeners", gr_config_set_get(s, "listeners"), protomap, &c->listener_host,
                        &c->listener_port, err, errlen);
    if (rc) goto done;
    const char *adv = gr_config_set_get(s, "advertised.listeners");
    if (adv && *adv) {
        rc = parse_listener("advertised.listeners", adv, protomap, &c->advertised_host,
                            &c->advertised_port, err, errlen);
        if (rc) goto done;
        if (!*c->advertised_host || strcmp(c->advertised_host, "0.0.0.0") == 0 ||
            strcmp(c->advertised_host, "::") == 0) {
            /* As Kafka: a client cannot connect to a wildcard address. */
            snprintf(err, errlen, "advertised.listeners: '%s': cannot advertise a wildcard or empty host", adv);
            rc = GR_ECONFIG;
            goto done;
        }
    } else {
        const char *h = c->listener_host;
        /* A wildcard bind is not an address clients can use; Gregor
         * advertises localhost (Kafka would use the canonical host name). */
        if (!*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0) h = "localhost";
        c->advertised_host = strdup(h);
        if (!c->advertised_host) { rc = GR_ENOMEM; goto done; }
        c->advertised_port = c->listener_port;
    }

    /* Log defaults, with Kafka's precedence rules. */
    gr_log_config_t *lg = &c->log_defaults;
    lg->segment_bytes = L(s, "log.segment.bytes");
    lg->segment_ms = gr_config_set_get(s, "log.roll.ms") ? L(s, "log.roll.ms")
                   : L(s, "log.roll.hours") * 3600000LL;
    int64_t ret;
    if (gr_config_set_get(s, "log.retention.ms")) ret = L(s, "log.retention.ms");
    else if (gr_config_set_get(s, "log.retention.minutes")) ret = L(s, "log.retention.minutes") * 60000LL;
    else ret = L(s, "log.retention.hours") * 3600000LL;
    lg->retention_ms = ret < 0 ? -1 : ret;          /* any negative value means forever */
    lg->retention_bytes = L(s, "log.retention.bytes");
    lg->flush_messages = L(s, "log.flush.interval.messages");
    lg->flush_ms = gr_config_set_get(s, "log.flush.interval.ms") ? L(s, "log.flush.interval.ms")
                 : L(s, "log.flush.scheduler.interval.ms");
    lg->index_interval_bytes = (int32_t)L(s, "log.index.interval.bytes");
    lg->segment_index_bytes = (int32_t)L(s, "log.index.size.max.bytes");
    lg->file_delete_delay_ms = L(s, "log.segment.delete.delay.ms");
done:
    return rc;
}

int gr_broker_config_from_kv(const gr_config_kv_t *file_kv, int nfile, const gr_config_kv_t *over_kv,
                             int nover, gr_broker_config_t *cfg, char *err, size_t errlen)
{
    int rc;
    memset(cfg, 0, sizeof *cfg);
    rc = gr_config_set_init(&cfg->set, broker_defs, NBROKER);
    if (rc) goto done;
    for (int pass = 0; pass < 2; pass++) {
        const gr_config_kv_t *kv = pass ? over_kv : file_kv;
        int n = pass ? nover : nfile;
        for (int i = 0; i < n; i++) {
            rc = gr_config_set_put(&cfg->set, kv[i].key, kv[i].value, GR_CFG_SRC_STATIC_BROKER, err, errlen);
            if (rc) goto done;
        }
    }
    rc = fill_fields(cfg, err, errlen);
done:
    if (rc) gr_broker_config_free(cfg);
    return rc;
}

int gr_broker_config_load(int argc, char **argv, gr_broker_config_t *cfg, char *err, size_t errlen)
{
    int rc = 0, nfile = 0, nover = 0;
    gr_config_kv_t *file_kv = NULL, *over_kv = NULL;
    char *text = NULL;
    size_t len;
    memset(cfg, 0, sizeof *cfg);
    over_kv = calloc((size_t)(argc > 0 ? argc : 1), sizeof *over_kv);
    if (!over_kv) { rc = GR_ENOMEM; goto done; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *kv = NULL;
        if (strcmp(a, "--override") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--override needs key=value");
                rc = GR_ECONFIG;
                goto done;
            }
            kv = argv[++i];
        } else if (strncmp(a, "--override=", 11) == 0) {
            kv = a + 11;
        } else if (a[0] == '-' && a[1] == '-') {
            snprintf(err, errlen, "unknown option '%s'", a);
            rc = GR_ECONFIG;
            goto done;
        } else {
            if (text) {
                snprintf(err, errlen, "only one properties file may be given ('%s')", a);
                rc = GR_ECONFIG;
                goto done;
            }
            rc = read_file(a, &text, &len, err, errlen);
            if (rc) goto done;
            rc = gr_properties_parse(text, len, &file_kv, &nfile, err, errlen);
            if (rc) {
                /* Prefix the file name so the operator knows where. */
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", err);
                snprintf(err, errlen, "%s: %s", a, tmp);
                goto done;
            }
            continue;
        }
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            snprintf(err, errlen, "--override '%s' is not key=value", kv);
            rc = GR_ECONFIG;
            goto done;
        }
        over_kv[nover].key = strndup(kv, (size_t)(eq - kv));
        over_kv[nover].value = strdup(eq + 1);
        nover++;
        if (!over_kv[nover - 1].key || !over_kv[nover - 1].value) { rc = GR_ENOMEM; goto done; }
    }
    rc = gr_broker_config_from_kv(file_kv, nfile, over_kv, nover, cfg, err, errlen);
done:
    gr_config_kv_free(file_kv, nfile);
    gr_config_kv_free(over_kv, nover);
    free(text);
    return rc;
}

void gr_broker_config_free(gr_broker_config_t *cfg)
{
    free(cfg->listener_host);
    free(cfg->advertised_host);
    free(cfg->log_dir);
    free(cfg->zookeeper_connect);
    free(cfg->log_message_timestamp_type);
    free(cfg->compression_type);
    free(cfg->log_cleanup_policy);
    gr_config_set_free(&cfg->set);
    memset(cfg, 0, sizeof *cfg);
}

void gr_broker_config_describe(const gr_broker_config_t *bc, gr_config_describe_fn fn, void *arg)
{
    gr_config_set_describe(&bc->set, fn, arg);
}

/* --- topic configs --- */

int gr_topic_config_validate(const char *key, const char *value, char *err, size_t errlen)
{
    gr_config_value_t v;
    const topic_def_t *t = key ? topic_def_find(key) : NULL;
    if (!t) {
        snprintf(err, errlen, "unknown topic config '%s'", key ? key : "(null)");
        return GR_ECONFIG;
    }
    if (!value) {
        snprintf(err, errlen, "%s: a value is required", key);
        return GR_ECONFIG;
    }
    return gr_config_parse(&t->def, value, &v, err, errlen);
}

const char *gr_topic_config_synonym(const char *key)
{
    const topic_def_t *t = topic_def_find(key);
    return t ? t->synonym : NULL;
}

bool gr_topic_config_known(const char *key)
{
    return key && topic_def_find(key) != NULL;
}

bool gr_topic_config_is_list(const char *key)
{
    const topic_def_t *t = topic_def_find(key);
    return t && t->def.type == GR_CFG_LIST;
}

/* The broker-derived default of a topic key as text, and whether an operator
 * set it (in the file or by --override) rather than it being Kafka's default. */
static const char *topic_default(const gr_broker_config_t *bc, const topic_def_t *t, char *buf,
                                 size_t cap, bool *from_broker)
{
    const gr_config_set_t *s = &bc->set;
    const char *name = t->def.name;
    *from_broker = false;
    if (!t->synonym) return t->def.default_value;
    if (strcmp(name, "retention.ms") == 0) {
        *from_broker = gr_config_set_is_set(s, "log.retention.ms") || gr_config_set_is_set(s, "log.retention.minutes") ||
                       gr_config_set_is_set(s, "log.retention.hours");
        snprintf(buf, cap, "%" PRId64, bc->log_defaults.retention_ms);
        return buf;
    }
    if (strcmp(name, "segment.ms") == 0) {
        *from_broker = gr_config_set_is_set(s, "log.roll.ms") || gr_config_set_is_set(s, "log.roll.hours");
        snprintf(buf, cap, "%" PRId64, bc->log_defaults.segment_ms);
        return buf;
    }
    if (strcmp(name, "flush.ms") == 0) {
        *from_broker = gr_config_set_is_set(s, "log.flush.interval.ms") ||
                       gr_config_set_is_set(s, "log.flush.scheduler.interval.ms");
        snprintf(buf, cap, "%" PRId64, bc->log_defaults.flush_ms);
        return buf;
    }
    if (strcmp(name, "segment.jitter.ms") == 0) {
        *from_broker = gr_config_set_is_set(s, "log.roll.jitter.ms") || gr_config_set_is_set(s, "log.roll.jitter.hours");
        int64_t j = gr_config_set_get(s, "log.roll.jitter.ms") ? gr_config_set_long(s, "log.roll.jitter.ms")
                  : gr_config_set_long(s, "log.roll.jitter.hours") * 3600000LL;
        snprintf(buf, cap, "%" PRId64, j);
        return buf;
    }
    *from_broker = gr_config_set_is_set(s, t->synonym);
    const char *v = gr_config_set_get(s, t->synonym);
    return v ? v : t->def.default_value;
}

static const char *override_of(const gr_config_kv_t *ov, int n, const char *key)
{
    /* The last occurrence wins, as with any key/value list. */
    for (int i = n; i-- > 0;)
        if (ov[i].key && strcmp(ov[i].key, key) == 0) return ov[i].value;
    return NULL;
}

static int compression_code(const char *s)
{
    if (strcmp(s, "producer") == 0) return -1;
    if (strcmp(s, "gzip") == 0) return 1;
    if (strcmp(s, "snappy") == 0) return 2;
    if (strcmp(s, "lz4") == 0) return 3;
    if (strcmp(s, "zstd") == 0) return 4;
    return 0;                                       /* uncompressed */
}

void gr_topic_config_resolve(const gr_broker_config_t *bc, const gr_config_kv_t *overrides, int n,
                             gr_topic_settings_t *out)
{
    char buf[64], err[256];
    memset(out, 0, sizeof *out);
    out->log = bc->log_defaults;
    for (int i = 0; i < NTOPIC; i++) {
        const topic_def_t *t = &topic_tdefs[i];
        const char *name = t->def.name;
        bool from_broker;
        const char *text = override_of(overrides, n, name);
        gr_config_value_t v;
        if (text && gr_config_parse(&t->def, text, &v, err, sizeof err) != 0) {
            /* Stored overrides were validated on write; a bad one means the
             * store was edited by hand.  Fall back to the default, loudly. */
            gr_warn("topic config %s ignored: %s", name, err);
            text = NULL;
        }
        if (!text) {
            text = topic_default(bc, t, buf, sizeof buf, &from_broker);
            if (!text || gr_config_parse(&t->def, text, &v, err, sizeof err) != 0) {
                if (gr_config_parse(&t->def, t->def.default_value, &v, err, sizeof err) != 0) continue;
            }
        }
        if (strcmp(name, "segment.bytes") == 0) out->log.segment_bytes = v.i;
        else if (strcmp(name, "segment.ms") == 0) out->log.segment_ms = v.i;
        else if (strcmp(name, "retention.ms") == 0) out->log.retention_ms = v.i < 0 ? -1 : v.i;
        else if (strcmp(name, "retention.bytes") == 0) out->log.retention_bytes = v.i;
        else if (strcmp(name, "flush.messages") == 0) out->log.flush_messages = v.i;
        else if (strcmp(name, "flush.ms") == 0) out->log.flush_ms = v.i;
        else if (strcmp(name, "index.interval.bytes") == 0) out->log.index_interval_bytes = (int32_t)v.i;
        else if (strcmp(name, "segment.index.bytes") == 0) out->log.segment_index_bytes = (int32_t)v.i;
        else if (strcmp(name, "file.delete.delay.ms") == 0) out->log.file_delete_delay_ms = v.i;
        else if (strcmp(name, "max.message.bytes") == 0) out->max_message_bytes = (int32_t)v.i;
        else if (strcmp(name, "message.timestamp.type") == 0) out->log_append_time = strcmp(v.s, "LogAppendTime") == 0;
        else if (strcmp(name, "cleanup.policy") == 0) {
            out->compact = strstr(v.s, "compact") != NULL;
            out->delete_policy = strstr(v.s, "delete") != NULL;
        }
        else if (strcmp(name, "min.insync.replicas") == 0) out->min_insync_replicas = (int32_t)v.i;
        else if (strcmp(name, "unclean.leader.election.enable") == 0) out->unclean_leader_election = v.i != 0;
        else if (strcmp(name, "compression.type") == 0) out->compression = compression_code(v.s);
        else if (strcmp(name, "delete.retention.ms") == 0) out->delete_retention_ms = v.i;
        else if (strcmp(name, "min.cleanable.dirty.ratio") == 0) out->min_cleanable_dirty_ratio = v.d;
        else if (strcmp(name, "min.compaction.lag.ms") == 0) out->min_compaction_lag_ms = v.i;
        else if (strcmp(name, "max.compaction.lag.ms") == 0) out->max_compaction_lag_ms = v.i;
        else if (strcmp(name, "message.timestamp.difference.max.ms") == 0) out->message_timestamp_difference_max_ms = v.i;
        else if (strcmp(name, "preallocate") == 0) out->preallocate = v.i != 0;
    }
}

void gr_topic_config_describe(const gr_broker_config_t *bc, const gr_config_kv_t *overrides, int n,
                              gr_config_describe_fn fn, void *arg)
{
    char buf[64];
    for (int i = 0; i < NTOPIC; i++) {
        const topic_def_t *t = &topic_tdefs[i];
        bool from_broker = false;
        const char *ov = override_of(overrides, n, t->def.name);
        gr_config_entry_t e = {
            .name = t->def.name,
            .read_only = false,
            .sensitive = false,
            .config_type = gr_config_type_kafka(t->def.type),
            .doc = t->def.doc,
        };
        if (ov) {
            e.value = ov;
            e.source = GR_CFG_SRC_TOPIC;
        } else {
            e.value = topic_default(bc, t, buf, sizeof buf, &from_broker);
            e.source = from_broker ? GR_CFG_SRC_STATIC_BROKER : GR_CFG_SRC_DEFAULT;
        }
        e.is_default = e.source == GR_CFG_SRC_DEFAULT;
        fn(arg, &e);
    }
}
