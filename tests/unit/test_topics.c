/* The topic registry on the local store. */
#include <stdlib.h>
#include <unistd.h>

#include "cluster/topics.h"
#include "protocol/errors.h"
#include "test.h"
#include "tmpdir.h"
#include "util/json.h"

typedef struct events {
    int n, last_event;
    int32_t last_old;
    char last_name[64];
} events_t;

static void on_change(void *arg, int event, const gr_topic_t *t, int32_t old)
{
    events_t *e = arg;
    e->n++;
    e->last_event = event;
    e->last_old = old;
    snprintf(e->last_name, sizeof e->last_name, "%s", t->name);
}

static void count_cb(void *arg, const gr_topic_t *t)
{
    (*(int *)arg)++;
}

GR_TEST(topics_names_and_ids)
{
    CHECK(gr_topic_name_valid("a.b_c-D9", 8));
    CHECK(!gr_topic_name_valid("", 0));
    CHECK(!gr_topic_name_valid(".", 1));
    CHECK(!gr_topic_name_valid("..", 2));
    CHECK(gr_topic_name_valid("...", 3));
    CHECK(!gr_topic_name_valid("a b", 3));
    CHECK(!gr_topic_name_valid("a/b", 3));
    char longname[251];
    memset(longname, 'x', 250);
    longname[250] = 0;
    CHECK(gr_topic_name_valid(longname, 249));
    CHECK(!gr_topic_name_valid(longname, 250));
    CHECK(gr_topic_name_internal("__consumer_offsets", 18));
    gr_uuid_t id, back;
    char s[23];
    for (int i = 0; i < 100; i++) {
        gr_topic_id_random(&id);
        gr_topic_id_format(&id, s);
        CHECK_EQ(strlen(s), 22);
        CHECK(s[0] != '-');
        CHECK_EQ(gr_topic_id_parse(s, 22, &back), 0);
        CHECK(memcmp(&id, &back, 16) == 0);
    }
    memset(&id, 0, sizeof id);
    gr_topic_id_format(&id, s);
    CHECK(strcmp(s, "AAAAAAAAAAAAAAAAAAAAAA") == 0);
    CHECK_EQ(gr_topic_id_parse("AAAAAAAAAAAAAAAAAAAAAB", 22, &back), GR_EINVAL);  /* stray bits */
    CHECK_EQ(gr_topic_id_parse("AAAA", 4, &back), GR_EINVAL);
}

GR_TEST(topics_create_delete_reopen)
{
    char dir[TEST_TMPDIR_MAX], err[256];
    gr_metastore_t *ms;
    gr_topics_t *t;
    gr_broker_config_t bc;
    events_t ev = {0};
    const gr_topic_t *tp;
    test_tmpdir_create(dir, "topics");
    char *argv[] = {"gregord", "--override", "num.partitions=3"};
    CHECK_EQ(gr_broker_config_load(3, argv, &bc, err, sizeof err), 0);
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_topics_open(ms, &bc, &t), 0);
    gr_topics_set_listener(t, on_change, &ev);
    char cluster[64];
    snprintf(cluster, sizeof cluster, "%s", gr_topics_cluster_id(t));
    CHECK_EQ(strlen(cluster), 22);
    CHECK_EQ(gr_topics_register_broker(t, "localhost", 9092), 0);
    CHECK_EQ(gr_topics_register_broker(t, "localhost", 9092), GR_EEXISTS);

    gr_config_kv_t cfg[] = {{"retention.ms", "1000"}, {"cleanup.policy", "compact"}};
    CHECK_EQ(gr_topics_create(t, "orders", -1, -1, cfg, 2, false, &tp, err, sizeof err), 0);
    CHECK(tp && tp->partition_count == 3 && tp->replication_factor == 1);
    CHECK_EQ(tp->replicas[2][0], 0);
    CHECK_EQ(tp->nconfigs, 2);
    CHECK_EQ(ev.n, 1);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_CREATED);
    gr_uuid_t id = tp->id;
    CHECK(gr_topics_find(t, "orders", 6) == tp);
    CHECK(gr_topics_find_by_id(t, &id) == tp);
    CHECK(gr_topics_find(t, "order", 5) == NULL);
    gr_topic_settings_t s;
    gr_topics_settings(t, tp, &s);
    CHECK(s.compact && s.log.retention_ms == 1000);

    /* Kafka's znode JSON. */
    void *data;
    size_t len;
    CHECK_EQ(gr_metastore_get(ms, "/brokers/topics/orders", &data, &len, NULL, NULL, NULL), 0);
    gr_json_t *j;
    CHECK_EQ(gr_json_parse(data, len, &j, err, sizeof err), 0);
    CHECK_EQ(gr_json_int(gr_json_get(j, "version"), 0), 3);
    CHECK_EQ(gr_json_get(gr_json_get(j, "partitions"), "2")->len, 1);
    CHECK(gr_json_is(gr_json_get(j, "adding_replicas"), GR_JSON_OBJECT));
    CHECK_EQ(strlen(gr_json_str(gr_json_get(j, "topic_id"), "")), 22);
    gr_json_free(j);
    free(data);
    CHECK_EQ(gr_metastore_get(ms, "/config/topics/orders", &data, &len, NULL, NULL, NULL), 0);
    CHECK(strcmp(data, "{\"version\":1,\"config\":{\"cleanup.policy\":\"compact\",\"retention.ms\":\"1000\"}}") == 0);
    free(data);

    /* Errors. */
    CHECK_EQ(gr_topics_create(t, "orders", 1, 1, NULL, 0, false, NULL, err, sizeof err), GR_EEXISTS);
    CHECK_EQ(gr_topics_create(t, "bad name", 1, 1, NULL, 0, false, NULL, err, sizeof err), GR_ETOPIC);
    CHECK_EQ(gr_topics_create(t, "..", 1, 1, NULL, 0, false, NULL, err, sizeof err), GR_ETOPIC);
    CHECK_EQ(gr_topics_create(t, "p0", 0, 1, NULL, 0, false, NULL, err, sizeof err), GR_EPARTITIONS);
    CHECK_EQ(gr_topics_create(t, "rf3", 1, 3, NULL, 0, false, NULL, err, sizeof err), GR_EREPLICATION);
    CHECK(strstr(err, "larger than available brokers: 1") != NULL);
    gr_config_kv_t badcfg[] = {{"retention.ms", "soon"}};
    CHECK_EQ(gr_topics_create(t, "c", 1, 1, badcfg, 1, false, NULL, err, sizeof err), GR_ECONFIG);
    CHECK(strstr(err, "retention.ms") != NULL);
    CHECK_EQ(gr_topics_create(t, "a.b", 1, 1, NULL, 0, false, NULL, err, sizeof err), 0);
    CHECK_EQ(gr_topics_create(t, "a_b", 1, 1, NULL, 0, false, NULL, err, sizeof err), GR_ETOPIC);
    CHECK(strstr(err, "collides") != NULL);
    /* validate_only writes nothing. */
    CHECK_EQ(gr_topics_create(t, "dry", 2, 1, NULL, 0, true, &tp, err, sizeof err), 0);
    CHECK(tp == NULL && gr_topics_find(t, "dry", 3) == NULL);
    CHECK_EQ(gr_metastore_exists(ms, "/brokers/topics/dry", NULL, NULL, NULL), GR_ENOTFOUND);
    const int32_t row0[] = {0}, *assign[] = {row0};
    CHECK_EQ(gr_topics_create_assigned(t, "man", 1, 1, assign, NULL, 0, false, &tp, err, sizeof err), 0);
    const int32_t bad0[] = {5}, *badassign[] = {bad0};
    CHECK_EQ(gr_topics_create_assigned(t, "man2", 1, 1, badassign, NULL, 0, false, &tp, err, sizeof err), GR_EASSIGNMENT);

    /* Partitions. */
    CHECK_EQ(gr_topics_add_partitions(t, "orders", 2, false, err, sizeof err), GR_EPARTITIONS);
    CHECK_EQ(gr_topics_add_partitions(t, "orders", 3, false, err, sizeof err), GR_EPARTITIONS);
    CHECK_EQ(gr_topics_add_partitions(t, "nope", 3, false, err, sizeof err), GR_ENOTFOUND);
    CHECK_EQ(gr_topics_add_partitions(t, "orders", 5, true, err, sizeof err), 0);
    CHECK_EQ(gr_topics_find(t, "orders", 6)->partition_count, 3);
    int before = ev.n;
    CHECK_EQ(gr_topics_add_partitions(t, "orders", 5, false, err, sizeof err), 0);
    tp = gr_topics_find(t, "orders", 6);
    CHECK_EQ(tp->partition_count, 5);
    CHECK(memcmp(&tp->id, &id, 16) == 0);
    CHECK_EQ(tp->nconfigs, 2);
    CHECK_EQ(ev.n, before + 1);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_PARTITIONS_ADDED);
    CHECK_EQ(ev.last_old, 3);

    /* Configs: incremental then replace-all. */
    gr_config_op_t ops[] = {
        {"retention.ms", NULL, GR_CONFIG_OP_DELETE},
        {"segment.bytes", "1048576", GR_CONFIG_OP_SET},
        {"cleanup.policy", "delete", GR_CONFIG_OP_APPEND},
    };
    CHECK_EQ(gr_topics_incremental_alter_configs(t, "orders", ops, 3, false, err, sizeof err), 0);
    tp = gr_topics_find(t, "orders", 6);
    CHECK_EQ(tp->nconfigs, 2);
    CHECK(strcmp(tp->configs[0].key, "cleanup.policy") == 0 && strcmp(tp->configs[0].value, "compact,delete") == 0);
    CHECK(strcmp(tp->configs[1].key, "segment.bytes") == 0);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_CONFIG_CHANGED);
    gr_config_op_t sub[] = {{"cleanup.policy", "compact", GR_CONFIG_OP_SUBTRACT}};
    CHECK_EQ(gr_topics_incremental_alter_configs(t, "orders", sub, 1, false, err, sizeof err), 0);
    CHECK(strcmp(gr_topics_find(t, "orders", 6)->configs[0].value, "delete") == 0);
    gr_config_op_t bad[] = {{"segment.bytes", "1048576", GR_CONFIG_OP_SET}, {"retention.ms", "x", GR_CONFIG_OP_SET}};
    CHECK_EQ(gr_topics_incremental_alter_configs(t, "orders", bad, 2, false, err, sizeof err), GR_ECONFIG);
    gr_config_op_t badappend[] = {{"retention.ms", "1", GR_CONFIG_OP_APPEND}};
    CHECK_EQ(gr_topics_incremental_alter_configs(t, "orders", badappend, 1, false, err, sizeof err), GR_ECONFIG);
    gr_config_op_t unknown[] = {{"nope.key", "1", GR_CONFIG_OP_SET}};
    CHECK_EQ(gr_topics_incremental_alter_configs(t, "orders", unknown, 1, false, err, sizeof err), GR_ECONFIG);
    gr_config_kv_t all[] = {{"retention.ms", "5000"}};
    CHECK_EQ(gr_topics_alter_configs(t, "orders", all, 1, true, err, sizeof err), 0);
    CHECK_EQ(gr_topics_find(t, "orders", 6)->nconfigs, 2);
    CHECK_EQ(gr_topics_alter_configs(t, "orders", all, 1, false, err, sizeof err), 0);
    tp = gr_topics_find(t, "orders", 6);
    CHECK_EQ(tp->nconfigs, 1);
    CHECK(strcmp(tp->configs[0].value, "5000") == 0);

    /* Delete. */
    CHECK_EQ(gr_topics_delete(t, "a.b"), 0);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_DELETED);
    CHECK(strcmp(ev.last_name, "a.b") == 0);
    CHECK_EQ(gr_topics_delete(t, "a.b"), GR_ENOTFOUND);
    CHECK(gr_topics_find(t, "a.b", 3) == NULL);
    CHECK_EQ(gr_topics_create(t, "a_b", 1, 1, NULL, 0, false, NULL, err, sizeof err), 0);
    int count = 0;
    gr_topics_foreach(t, count_cb, &count);
    CHECK_EQ(count, 3);     /* orders, man, a_b */
    CHECK_EQ(gr_topics_count(t), 3);
    gr_topics_close(t);
    gr_metastore_close(ms);

    /* Everything survives a reopen. */
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_topics_open(ms, &bc, &t), 0);
    CHECK(strcmp(gr_topics_cluster_id(t), cluster) == 0);
    CHECK_EQ(gr_topics_count(t), 3);
    tp = gr_topics_find(t, "orders", 6);
    CHECK(tp != NULL);
    if (tp) {
        CHECK_EQ(tp->partition_count, 5);
        CHECK(memcmp(&tp->id, &id, 16) == 0);
        CHECK_EQ(tp->nconfigs, 1);
        CHECK(gr_topics_find_by_id(t, &id) == tp);
    }
    CHECK(gr_topics_find(t, "a.b", 3) == NULL);
    CHECK_EQ(gr_metastore_exists(ms, "/brokers/ids/0", NULL, NULL, NULL), GR_ENOTFOUND);
    CHECK_EQ(gr_topics_reload(t), 0);       /* nothing changed: no events */
    gr_topics_close(t);
    gr_metastore_close(ms);
    gr_broker_config_free(&bc);
    test_tmpdir_remove(dir);
}

GR_TEST(topics_reload_and_legacy)
{
    char dir[TEST_TMPDIR_MAX], err[256];
    gr_metastore_t *ms;
    gr_topics_t *t;
    gr_broker_config_t bc;
    events_t ev = {0};
    test_tmpdir_create(dir, "topics");
    char *argv[] = {"gregord"};
    CHECK_EQ(gr_broker_config_load(1, argv, &bc, err, sizeof err), 0);
    CHECK_EQ(gr_metastore_local_open(dir, &ms), 0);
    CHECK_EQ(gr_topics_open(ms, &bc, &t), 0);
    gr_topics_set_listener(t, on_change, &ev);
    /* Another writer (a pre-2.8 Kafka) adds a topic without a topic_id. */
    const char *legacy = "{\"version\":1,\"partitions\":{\"0\":[0],\"1\":[0]}}";
    CHECK_EQ(gr_metastore_create(ms, "/brokers/topics/old", legacy, strlen(legacy), 0, NULL, 0), 0);
    CHECK_EQ(gr_topics_reload(t), 0);
    CHECK_EQ(ev.n, 1);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_CREATED);
    const gr_topic_t *tp = gr_topics_find(t, "old", 3);
    CHECK(tp && tp->partition_count == 2 && !gr_uuid_is_zero(&tp->id));
    CHECK_EQ(gr_metastore_delete(ms, "/brokers/topics/old", -1), 0);
    CHECK_EQ(gr_topics_reload(t), 0);
    CHECK_EQ(ev.last_event, GR_TOPIC_EVENT_DELETED);
    CHECK(gr_topics_find(t, "old", 3) == NULL);
    /* A malformed topic node is an error at open, not silently skipped. */
    CHECK_EQ(gr_metastore_create(ms, "/brokers/topics/broken", "{\"partitions\":{}}", 17, 0, NULL, 0), 0);
    gr_topics_close(t);
    CHECK_EQ(gr_topics_open(ms, &bc, &t), GR_ECORRUPT);
    gr_metastore_close(ms);
    gr_broker_config_free(&bc);
    test_tmpdir_remove(dir);
}
