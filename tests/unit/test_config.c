/* Properties parsing, the config table, broker and topic configs. */
#include <stdlib.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "server/config.h"
#include "test.h"
#include "util/config.h"

static const char *kv_get(gr_config_kv_t *kv, int n, const char *k)
{
    for (int i = 0; i < n; i++) if (strcmp(kv[i].key, k) == 0) return kv[i].value;
    return NULL;
}

GR_TEST(config_properties_parse)
{
    const char *text =
        "# a comment\n"
        "! another comment \\\n"
        "broker.id=1\n"
        "  listeners = PLAINTEXT://:9093   \n"
        "log.dirs: /tmp/x\n"
        "num.partitions 4\n"
        "long.value=a,\\\n"
        "     b,\\\r\n"
        "   c\n"
        "esc\\=key=v\\tw\\u0041\n"
        "empty=\n"
        "\n"
        "broker.id=2\n"
        "last=noeol";
    gr_config_kv_t *kv;
    int n;
    char err[256];
    CHECK_EQ(gr_properties_parse(text, strlen(text), &kv, &n, err, sizeof err), 0);
    CHECK_EQ(n, 8);
    CHECK(strcmp(kv_get(kv, n, "broker.id"), "2") == 0);               /* later wins */
    CHECK(strcmp(kv_get(kv, n, "listeners"), "PLAINTEXT://:9093   ") == 0);  /* trailing kept, trimmed later */
    CHECK(strcmp(kv_get(kv, n, "log.dirs"), "/tmp/x") == 0);
    CHECK(strcmp(kv_get(kv, n, "num.partitions"), "4") == 0);
    CHECK(strcmp(kv_get(kv, n, "long.value"), "a,b,c") == 0);
    CHECK(strcmp(kv_get(kv, n, "esc=key"), "v\twA") == 0);
    CHECK(strcmp(kv_get(kv, n, "empty"), "") == 0);
    CHECK(strcmp(kv_get(kv, n, "last"), "noeol") == 0);
    CHECK(kv_get(kv, n, "!") == NULL);
    gr_config_kv_free(kv, n);
}

GR_TEST(config_parse_errors)
{
    gr_config_def_t d = {"log.segment.bytes", GR_CFG_INT, "1073741824", 14, INT32_MAX, 0, 0, NULL, 0, ""};
    gr_config_value_t v;
    char err[256];
    CHECK_EQ(gr_config_parse(&d, "abc", &v, err, sizeof err), GR_ECONFIG);
    CHECK(strcmp(err, "log.segment.bytes: 'abc' is not a number") == 0);
    CHECK_EQ(gr_config_parse(&d, "10", &v, err, sizeof err), GR_ECONFIG);
    CHECK(strcmp(err, "log.segment.bytes: 10 must be >= 14") == 0);
    CHECK_EQ(gr_config_parse(&d, "4294967296", &v, err, sizeof err), GR_ECONFIG);
    CHECK_EQ(gr_config_parse(&d, "1024", &v, err, sizeof err), 0);
    CHECK_EQ(v.i, 1024);
    gr_config_def_t b = {"x.enable", GR_CFG_BOOL, "true", 0, 0, 0, 0, NULL, 0, ""};
    CHECK_EQ(gr_config_parse(&b, "TRUE", &v, err, sizeof err), 0);
    CHECK_EQ(v.i, 1);
    CHECK_EQ(gr_config_parse(&b, "yes", &v, err, sizeof err), GR_ECONFIG);
    gr_config_def_t e = {"t", GR_CFG_ENUM, "A", 0, 0, 0, 0, "A,B", 0, ""};
    CHECK_EQ(gr_config_parse(&e, "C", &v, err, sizeof err), GR_ECONFIG);
    CHECK(strstr(err, "[A,B]") != NULL);
    gr_config_def_t l = {"p", GR_CFG_LIST, "delete", 0, 0, 0, 0, "compact,delete", 0, ""};
    CHECK_EQ(gr_config_parse(&l, "compact, delete", &v, err, sizeof err), 0);
    CHECK_EQ(gr_config_parse(&l, "compact,nope", &v, err, sizeof err), GR_ECONFIG);
    gr_config_def_t dd = {"r", GR_CFG_DOUBLE, "0.5", 0, 0, 0, 1, NULL, 0, ""};
    CHECK_EQ(gr_config_parse(&dd, "1.5", &v, err, sizeof err), GR_ECONFIG);
    CHECK_EQ(gr_config_parse(&dd, "0.25", &v, err, sizeof err), 0);
    CHECK(v.d == 0.25);
}

static int load(const char *file_text, const char **overrides, gr_broker_config_t *c, char *err)
{
    char path[] = "/tmp/gr-cfg-XXXXXX";
    char *argv[16];
    int argc = 0, fd = -1;
    argv[argc++] = "gregord";
    if (file_text) {
        fd = mkstemp(path);
        if (write(fd, file_text, strlen(file_text)) < 0) return -100;
        close(fd);
        argv[argc++] = path;
    }
    for (int i = 0; overrides && overrides[i]; i++) {
        argv[argc++] = "--override";
        argv[argc++] = (char *)overrides[i];
    }
    int rc = gr_broker_config_load(argc, argv, c, err, 256);
    if (file_text) unlink(path);
    return rc;
}

GR_TEST(config_broker_defaults)
{
    gr_broker_config_t c;
    char err[256];
    CHECK_EQ(load(NULL, NULL, &c, err), 0);
    CHECK_EQ(c.broker_id, 0);
    CHECK(strcmp(c.listener_host, "localhost") == 0);
    CHECK_EQ(c.listener_port, 9092);
    CHECK(strcmp(c.advertised_host, "localhost") == 0);
    CHECK_EQ(c.advertised_port, 9092);
    CHECK(strcmp(c.log_dir, "./data") == 0);
    CHECK(c.zookeeper_connect == NULL);
    CHECK_EQ(c.offsets_topic_replication_factor, 1);
    CHECK_EQ(c.offsets_topic_num_partitions, 50);
    CHECK_EQ(c.message_max_bytes, 1048588);
    CHECK_EQ(c.num_partitions, 1);
    CHECK(c.auto_create_topics_enable);
    CHECK_EQ(c.log_defaults.segment_bytes, 1073741824);
    CHECK_EQ(c.log_defaults.retention_ms, 604800000);
    CHECK_EQ(c.log_defaults.segment_ms, 604800000);
    CHECK_EQ(c.log_defaults.flush_messages, INT64_MAX);
    CHECK_EQ(c.log_defaults.flush_ms, INT64_MAX);
    CHECK_EQ(c.log_defaults.index_interval_bytes, 4096);
    CHECK_EQ(c.log_defaults.segment_index_bytes, 10485760);
    CHECK_EQ(c.log_defaults.file_delete_delay_ms, 60000);
    CHECK_EQ(c.log_defaults.retention_bytes, -1);
    CHECK(strcmp(c.log_message_timestamp_type, "CreateTime") == 0);
    gr_broker_config_free(&c);
}

/* Kafka's stock config/server.properties must load as is. */
GR_TEST(config_kafka_server_properties)
{
    const char *text =
        "broker.id=0\n"
        "num.network.threads=3\nnum.io.threads=8\n"
        "socket.send.buffer.bytes=102400\nsocket.receive.buffer.bytes=102400\n"
        "socket.request.max.bytes=104857600\n"
        "log.dirs=/tmp/kafka-logs\nnum.partitions=1\nnum.recovery.threads.per.data.dir=1\n"
        "offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
        "#log.flush.interval.messages=10000\n#log.flush.interval.ms=1000\n"
        "log.retention.hours=168\n#log.retention.bytes=1073741824\nlog.segment.bytes=1073741824\n"
        "log.retention.check.interval.ms=300000\nzookeeper.connect=localhost:2181\n"
        "zookeeper.connection.timeout.ms=18000\ngroup.initial.rebalance.delay.ms=0\n";
    gr_broker_config_t c;
    char err[256] = "";
    CHECK_EQ(load(text, NULL, &c, err), 0);
    if (*err) fprintf(stderr, "  %s\n", err);
    CHECK(c.zookeeper_connect && strcmp(c.zookeeper_connect, "localhost:2181") == 0);
    CHECK(strcmp(c.log_dir, "/tmp/kafka-logs") == 0);
    CHECK_EQ(c.group_initial_rebalance_delay_ms, 0);
    gr_broker_config_free(&c);
}

GR_TEST(config_overrides_win)
{
    const char *ov[] = {"num.partitions=7", "log.dir=/tmp/o", NULL};
    gr_broker_config_t c;
    char err[256];
    CHECK_EQ(load("num.partitions=3\nlog.dir=/tmp/f\n", ov, &c, err), 0);
    CHECK_EQ(c.num_partitions, 7);
    CHECK(strcmp(c.log_dir, "/tmp/o") == 0);
    gr_broker_config_free(&c);
    /* --override=k=v form, log.dirs wins over log.dir. */
    char *argv[] = {"gregord", "--override=log.dirs=/a", "--override", "log.dir=/b"};
    CHECK_EQ(gr_broker_config_load(4, argv, &c, err, sizeof err), 0);
    CHECK(strcmp(c.log_dir, "/a") == 0);
    gr_broker_config_free(&c);
}

GR_TEST(config_errors_name_key)
{
    gr_broker_config_t c;
    char err[256];
    CHECK_EQ(load("no.such.key=1\n", NULL, &c, err), GR_ECONFIG);
    CHECK(strstr(err, "no.such.key") != NULL);
    const char *ov[] = {"log.segment.bytes=abc", NULL};
    CHECK_EQ(load(NULL, ov, &c, err), GR_ECONFIG);
    CHECK(strcmp(err, "log.segment.bytes: 'abc' is not a number") == 0);
    const char *ov2[] = {"log.segment.bytes=10", NULL};
    CHECK_EQ(load(NULL, ov2, &c, err), GR_ECONFIG);
    CHECK(strcmp(err, "log.segment.bytes: 10 must be >= 14") == 0);
    const char *ov3[] = {"log.dirs=/a,/b", NULL};
    CHECK_EQ(load(NULL, ov3, &c, err), GR_ECONFIG);
    CHECK(strstr(err, "log.dirs") != NULL);
    const char *ov4[] = {"auto.create.topics.enable=maybe", NULL};
    CHECK_EQ(load(NULL, ov4, &c, err), GR_ECONFIG);
    CHECK(strstr(err, "auto.create.topics.enable") != NULL);
    const char *ov5[] = {"novalue", NULL};
    CHECK_EQ(load(NULL, ov5, &c, err), GR_ECONFIG);
    char *argv[] = {"gregord", "/nonexistent/server.properties"};
    CHECK_EQ(gr_broker_config_load(2, argv, &c, err, sizeof err), GR_EIO);
    CHECK(strstr(err, "/nonexistent/server.properties") != NULL);
    char *argv2[] = {"gregord", "--bogus"};
    CHECK_EQ(gr_broker_config_load(2, argv2, &c, err, sizeof err), GR_ECONFIG);
}

GR_TEST(config_retention_precedence)
{
    gr_broker_config_t c;
    char err[256];
    CHECK_EQ(load("log.retention.hours=1\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.retention_ms, 3600000);
    gr_broker_config_free(&c);
    CHECK_EQ(load("log.retention.hours=1\nlog.retention.minutes=2\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.retention_ms, 120000);
    gr_broker_config_free(&c);
    CHECK_EQ(load("log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=5\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.retention_ms, 5);
    gr_broker_config_free(&c);
    CHECK_EQ(load("log.retention.ms=-5\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.retention_ms, -1);
    gr_broker_config_free(&c);
    CHECK_EQ(load("log.roll.hours=2\nlog.flush.interval.messages=1\nlog.flush.scheduler.interval.ms=7\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.segment_ms, 7200000);
    CHECK_EQ(c.log_defaults.flush_messages, 1);
    CHECK_EQ(c.log_defaults.flush_ms, 7);
    gr_broker_config_free(&c);
    CHECK_EQ(load("log.roll.hours=2\nlog.roll.ms=9\n", NULL, &c, err), 0);
    CHECK_EQ(c.log_defaults.segment_ms, 9);
    gr_broker_config_free(&c);
}

GR_TEST(config_listeners)
{
    gr_broker_config_t c;
    char err[256];
    const char *a[] = {"listeners=PLAINTEXT://:0", NULL};
    CHECK_EQ(load(NULL, a, &c, err), 0);
    CHECK(strcmp(c.listener_host, "") == 0);
    CHECK_EQ(c.listener_port, 0);
    CHECK(strcmp(c.advertised_host, "localhost") == 0);
    gr_broker_config_free(&c);
    const char *b[] = {"listeners=PLAINTEXT://0.0.0.0:9999", "advertised.listeners=PLAINTEXT://broker1:19092", NULL};
    CHECK_EQ(load(NULL, b, &c, err), 0);
    CHECK(strcmp(c.listener_host, "0.0.0.0") == 0);
    CHECK_EQ(c.listener_port, 9999);
    CHECK(strcmp(c.advertised_host, "broker1") == 0);
    CHECK_EQ(c.advertised_port, 19092);
    gr_broker_config_free(&c);
    const char *v6[] = {"listeners=PLAINTEXT://[::1]:9092", NULL};
    CHECK_EQ(load(NULL, v6, &c, err), 0);
    CHECK(strcmp(c.listener_host, "::1") == 0);
    gr_broker_config_free(&c);
    const char *named[] = {"listeners=INTERNAL://h:1", "listener.security.protocol.map=INTERNAL:PLAINTEXT", NULL};
    CHECK_EQ(load(NULL, named, &c, err), 0);
    gr_broker_config_free(&c);
    const char *bad[][2] = {
        {"listeners=SSL://h:9093", NULL}, {"listeners=h:9092", NULL}, {"listeners=PLAINTEXT://h:70000", NULL},
        {"listeners=PLAINTEXT://h:x", NULL}, {"listeners=PLAINTEXT://h", NULL},
        {"listeners=PLAINTEXT://a:1,PLAINTEXT://b:2", NULL}, {"advertised.listeners=PLAINTEXT://0.0.0.0:1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(load(NULL, bad[i], &c, err), GR_ECONFIG);
        CHECK(strstr(err, "listeners") != NULL);
    }
}

typedef struct seen {
    int n;
    char found[512];
    int8_t source;
    bool is_default;
} seen_t;

static void describe_cb(void *arg, const gr_config_entry_t *e)
{
    seen_t *s = arg;
    s->n++;
    if (strcmp(e->name, s->found) == 0) {
        snprintf(s->found, sizeof s->found, "%s", e->value ? e->value : "(null)");
        s->source = e->source;
        s->is_default = e->is_default;
    }
}

GR_TEST(config_describe)
{
    gr_broker_config_t c;
    char err[256];
    const char *ov[] = {"num.partitions=3", "log.retention.hours=1", NULL};
    CHECK_EQ(load(NULL, ov, &c, err), 0);
    seen_t s = {0, "num.partitions", 0, true};
    gr_broker_config_describe(&c, describe_cb, &s);
    CHECK(s.n > 50);
    CHECK(strcmp(s.found, "3") == 0);
    CHECK_EQ(s.source, GR_CFG_SRC_STATIC_BROKER);
    CHECK(!s.is_default);
    seen_t s2 = {0, "num.io.threads", 0, false};
    gr_broker_config_describe(&c, describe_cb, &s2);
    CHECK(strcmp(s2.found, "8") == 0 && s2.is_default && s2.source == GR_CFG_SRC_DEFAULT);

    /* Topic: default from the broker (static), an override, a plain default. */
    gr_config_kv_t over[] = {{"segment.bytes", "1000"}};
    seen_t t1 = {0, "retention.ms", 0, true};
    gr_topic_config_describe(&c, over, 1, describe_cb, &t1);
    CHECK(strcmp(t1.found, "3600000") == 0);
    CHECK_EQ(t1.source, GR_CFG_SRC_STATIC_BROKER);
    CHECK(t1.n >= 25);
    seen_t t2 = {0, "segment.bytes", 0, true};
    gr_topic_config_describe(&c, over, 1, describe_cb, &t2);
    CHECK(strcmp(t2.found, "1000") == 0 && t2.source == GR_CFG_SRC_TOPIC && !t2.is_default);
    seen_t t3 = {0, "max.message.bytes", 0, false};
    gr_topic_config_describe(&c, over, 1, describe_cb, &t3);
    CHECK(strcmp(t3.found, "1048588") == 0 && t3.is_default);
    gr_broker_config_free(&c);
}

GR_TEST(config_topic_validate_resolve)
{
    char err[256];
    CHECK_EQ(gr_topic_config_validate("retention.ms", "1000", err, sizeof err), 0);
    CHECK_EQ(gr_topic_config_validate("retention.ms", "-1", err, sizeof err), 0);
    CHECK_EQ(gr_topic_config_validate("retention.ms", "-2", err, sizeof err), GR_ECONFIG);
    CHECK_EQ(gr_topic_config_validate("bogus", "1", err, sizeof err), GR_ECONFIG);
    CHECK(strstr(err, "bogus") != NULL);
    CHECK_EQ(gr_topic_config_validate("cleanup.policy", "compact,delete", err, sizeof err), 0);
    CHECK_EQ(gr_topic_config_validate("cleanup.policy", "keep", err, sizeof err), GR_ECONFIG);
    CHECK_EQ(gr_topic_config_validate("message.timestamp.type", "LogAppendTime", err, sizeof err), 0);
    CHECK_EQ(gr_topic_config_validate("min.insync.replicas", "0", err, sizeof err), GR_ECONFIG);
    CHECK_EQ(gr_topic_config_validate("segment.bytes", "13", err, sizeof err), GR_ECONFIG);
    CHECK(strcmp(gr_topic_config_synonym("retention.ms"), "log.retention.ms") == 0);
    CHECK(gr_topic_config_is_list("cleanup.policy") && !gr_topic_config_is_list("retention.ms"));

    gr_broker_config_t c;
    const char *ov[] = {"message.max.bytes=2000", "log.flush.interval.messages=1", NULL};
    CHECK_EQ(load(NULL, ov, &c, err), 0);
    gr_topic_settings_t s;
    gr_topic_config_resolve(&c, NULL, 0, &s);
    CHECK_EQ(s.max_message_bytes, 2000);
    CHECK_EQ(s.log.flush_messages, 1);
    CHECK(!s.log_append_time && s.delete_policy && !s.compact);
    CHECK_EQ(s.compression, -1);
    CHECK_EQ(s.min_insync_replicas, 1);
    gr_config_kv_t over[] = {{"cleanup.policy", "compact"}, {"message.timestamp.type", "LogAppendTime"},
                             {"retention.ms", "-1"}, {"segment.bytes", "4096"}, {"compression.type", "zstd"},
                             {"max.message.bytes", "100"}};
    gr_topic_config_resolve(&c, over, 6, &s);
    CHECK(s.compact && !s.delete_policy && s.log_append_time);
    CHECK_EQ(s.log.retention_ms, -1);
    CHECK_EQ(s.log.segment_bytes, 4096);
    CHECK_EQ(s.compression, 4);
    CHECK_EQ(s.max_message_bytes, 100);
    gr_broker_config_free(&c);
}
