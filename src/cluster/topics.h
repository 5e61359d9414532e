/* The topic registry: every topic's id, partition assignment and config
 * overrides, kept in the metadata store under Kafka's znode paths and JSON
 *
 *   /brokers/topics/<t>  {"version":3,"partitions":{"0":[0]},"adding_replicas":{},
 *                         "removing_replicas":{},"topic_id":"<22-char base64url>"}
 *   /config/topics/<t>   {"version":1,"config":{"retention.ms":"3600000"}}
 *   /cluster/id          {"version":"1","id":"<22-char base64url>"}
 *   /brokers/ids/<id>    (ephemeral) {"version":5,"host":...,"port":...,"endpoints":[...],...}
 *
 * and mirrored in memory in hash maps (by name and by id) for O(1) lookups
 * on the request path.
 *
 * Concurrency: every function may be called from any thread (a rwlock guards
 * the maps).  A gr_topic_t is immutable once published: a change publishes a
 * new object and retires the old one, which stays valid until
 * gr_topics_close, so a handler may keep using a pointer it looked up for the
 * rest of its request even if the topic is deleted or altered meanwhile.
 * Changes are rare (admin requests), so the retired objects cost little.
 *
 * Mutations write the store first (CAS where an existing node changes) and
 * update the maps only after the store accepted the write; the listener is
 * then called with no lock held, on the thread that made the change.
 */
#ifndef GR_TOPICS_H
#define GR_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/metastore.h"
#include "protocol/prim.h"
#include "server/config.h"
#include "util/config.h"

#define GR_TOPIC_NAME_MAX 249

typedef struct gr_topic {
    char *name;
    gr_uuid_t id;
    int32_t partition_count;
    int16_t replication_factor;
    int32_t **replicas;             /* [partition][replication_factor] broker ids */
    gr_config_kv_t *configs;        /* topic overrides only (sorted by key) */
    int nconfigs;
    bool internal;                  /* __consumer_offsets, __transaction_state */
} gr_topic_t;

typedef struct gr_topics gr_topics_t;

/* Loads every topic from the store and creates /cluster/id if missing.
 * `bc` supplies broker.id, num.partitions, default.replication.factor and
 * the defaults configs are described against; it must outlive the registry.
 * A topic node that does not parse is GR_ECORRUPT (logged with its path). */
int gr_topics_open(gr_metastore_t *ms, const gr_broker_config_t *bc, gr_topics_t **out);
void gr_topics_close(gr_topics_t *t);

/* Registers this broker: ephemeral /brokers/ids/<broker.id> with the
 * advertised host and port (call after binding, so port 0 is resolved).
 * GR_EEXISTS if another live broker holds the id. */
int gr_topics_register_broker(gr_topics_t *t, const char *host, int port);
/* Live broker ids (children of /brokers/ids), sorted, malloc'd.  If none is
 * registered yet, this broker alone. */
int gr_topics_live_brokers(gr_topics_t *t, int32_t **ids, int *n);

const char *gr_topics_cluster_id(gr_topics_t *t);

const gr_topic_t *gr_topics_find(gr_topics_t *t, const char *name, size_t len);
const gr_topic_t *gr_topics_find_by_id(gr_topics_t *t, const gr_uuid_t *id);
int gr_topics_count(gr_topics_t *t);
/* Calls fn for every topic, sorted by name (a snapshot: fn may call back in). */
void gr_topics_foreach(gr_topics_t *t, void (*fn)(void *arg, const gr_topic_t *topic), void *arg);

/* Kafka's rules: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool gr_topic_name_valid(const char *name, size_t len);
/* Names starting with "__" that Kafka treats as internal. */
bool gr_topic_name_internal(const char *name, size_t len);

/* Creates a topic.  partitions -1 = num.partitions, rf -1 =
 * default.replication.factor.  Errors (with a message in err):
 *   GR_ETOPIC        invalid name, or collides with an existing name when
 *                    '.' and '_' are treated as the same ("a.b" vs "a_b")
 *   GR_EPARTITIONS   partitions <= 0
 *   GR_EREPLICATION  rf <= 0 or rf > live brokers
 *   GR_ECONFIG       a config fails gr_topic_config_validate
 *   GR_EEXISTS       the topic exists
 * validate_only: all checks, no write; *out is then NULL.  out may be NULL. */
int gr_topics_create(gr_topics_t *t, const char *name, int32_t partitions, int16_t rf,
                     const gr_config_kv_t *configs, int n, bool validate_only,
                     const gr_topic_t **out, char *err, size_t errlen);
/* Same with an explicit assignment (CreateTopics' assignments):
 * assignment[p] lists rf broker ids for partition p.  Every id must be a live
 * broker and appear once per partition, and all partitions the same length:
 * GR_EASSIGNMENT otherwise. */
int gr_topics_create_assigned(gr_topics_t *t, const char *name, int32_t partitions, int16_t rf,
                              const int32_t *const *assignment, const gr_config_kv_t *configs,
                              int n, bool validate_only, const gr_topic_t **out, char *err,
                              size_t errlen);

/* Deletes /brokers/topics/<t> (with its children) and /config/topics/<t>.
 * GR_ENOTFOUND if it does not exist. */
int gr_topics_delete(gr_topics_t *t, const char *name);

/* CreatePartitions: raises the count to new_total (new partitions are
 * assigned round-robin over live brokers).  GR_EPARTITIONS if new_total <=
 * current count ("topic has 3 partitions, which is higher than the requested 2"
 * / "already has 3 partitions"), GR_ENOTFOUND if no topic. */
int gr_topics_add_partitions(gr_topics_t *t, const char *name, int32_t new_total, bool validate_only,
                             char *err, size_t errlen);

/* AlterConfigs: replaces all overrides with `configs` (value NULL = ignore
 * that key).  Every key/value is validated first; nothing changes on error. */
int gr_topics_alter_configs(gr_topics_t *t, const char *name, const gr_config_kv_t *configs, int n,
                            bool validate_only, char *err, size_t errlen);

/* IncrementalAlterConfigs ops (Kafka's numbers). */
enum { GR_CONFIG_OP_SET = 0, GR_CONFIG_OP_DELETE = 1, GR_CONFIG_OP_APPEND = 2, GR_CONFIG_OP_SUBTRACT = 3 };
typedef struct gr_config_op {
    const char *key;
    const char *value;              /* ignored for DELETE */
    int op;
} gr_config_op_t;
/* Applies ops in order to the current overrides.  APPEND / SUBTRACT are only
 * for list keys (cleanup.policy): GR_ECONFIG otherwise.  DELETE of a key that
 * is not overridden is fine.  Validated as a whole before anything is
 * written. */
int gr_topics_incremental_alter_configs(gr_topics_t *t, const char *name, const gr_config_op_t *ops,
                                        int n, bool validate_only, char *err, size_t errlen);

/* Effective typed settings of a topic (overrides over broker defaults). */
void gr_topics_settings(gr_topics_t *t, const gr_topic_t *topic, gr_topic_settings_t *out);
/* DescribeConfigs for a topic. */
void gr_topics_describe_configs(gr_topics_t *t, const gr_topic_t *topic, gr_config_describe_fn fn,
                                void *arg);

/* Change listener: one per registry.  For CREATED and PARTITIONS_ADDED and
 * CONFIG_CHANGED `topic` is the new state, for DELETED the last state;
 * old_partitions is the count before (0 for CREATED).  Called after the
 * store and maps are updated, without registry locks held. */
enum {
    GR_TOPIC_EVENT_CREATED = 1,
    GR_TOPIC_EVENT_DELETED = 2,
    GR_TOPIC_EVENT_PARTITIONS_ADDED = 3,
    GR_TOPIC_EVENT_CONFIG_CHANGED = 4,
};
typedef void (*gr_topics_listener_fn)(void *arg, int event, const gr_topic_t *topic,
                                      int32_t old_partitions);
void gr_topics_set_listener(gr_topics_t *t, gr_topics_listener_fn fn, void *arg);

/* Re-reads every topic from the store and reports differences to the
 * listener (for stores changed by other brokers; the local store never
 * needs it). */
int gr_topics_reload(gr_topics_t *t);

/* Topic ids: Kafka's base64url without padding (22 chars + NUL). */
void gr_topic_id_format(const gr_uuid_t *id, char out[23]);
int gr_topic_id_parse(const char *s, size_t len, gr_uuid_t *out);
/* A random id that is not zero and whose text does not start with '-'
 * (Kafka's Uuid.randomUuid rules). */
void gr_topic_id_random(gr_uuid_t *out);

#endif
