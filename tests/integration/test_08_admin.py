"""Admin APIs through both Python clients: create (incl. validate_only and
errors), delete (data removed from disk), create partitions, describe and
alter configs (topic and broker), list/describe topics; effects are visible."""

import os

import pytest

from helpers import (admin_client, create_topic, consume_range, partition_dirs, produce_sync,
                     topic_partition_count, unique_topic, wait_until)


def broker_id(bootstrap):
    md = admin_client(bootstrap).list_topics(timeout=10)
    [bid] = list(md.brokers)
    return bid


def kafka_error_code(excinfo):
    err = excinfo.value.args[0]
    return err.code()


def source_of(entry):
    return getattr(entry.source, "value", entry.source)


def describe_topic_configs(admin, topic):
    from confluent_kafka.admin import ConfigResource
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin.describe_configs([res], request_timeout=15)[res].result(20)


def assert_topic_gone_from_disk(broker, topic, partitions):
    def gone():
        names = os.listdir(broker.data_dir)
        left = [n for n in names if n in {"%s-%d" % (topic, p) for p in range(partitions)}]
        # Kafka renames a deleted partition to <topic>-<p>.<id>-delete before removing it.
        odd = [n for n in names if n.startswith(topic + "-") and n not in left and not n.endswith("-delete")]
        return not left and not odd

    wait_until(gone, 15, "data dirs of deleted topic %s to leave %s (have %r)" % (
        topic, broker.data_dir, [n for n in os.listdir(broker.data_dir) if n.startswith(topic)]))


# ---------------------------------------------------------------- confluent-kafka


def test_confluent_create_validate_only(module_broker):
    from confluent_kafka.admin import NewTopic
    b = module_broker
    admin = admin_client(b.bootstrap)
    t = unique_topic("adm-validate")
    fs = admin.create_topics([NewTopic(t, 2, 1)], validate_only=True, request_timeout=15)
    assert fs[t].result(20) is None
    md = admin.list_topics(timeout=10)
    assert t not in md.topics, "validate_only created the topic"
    assert not partition_dirs(b.data_dir, t), "validate_only created data dirs"
    # and it can really be created afterwards
    create_topic(b.bootstrap, t, 2)


def test_confluent_create_errors(module_broker):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic
    b = module_broker
    admin = admin_client(b.bootstrap)
    t = create_topic(b.bootstrap, unique_topic("adm-exists"), 1)
    fs = admin.create_topics([NewTopic(t, 3, 1)], request_timeout=15)
    with pytest.raises(KafkaException) as ei:
        fs[t].result(20)
    assert kafka_error_code(ei) == KafkaError.TOPIC_ALREADY_EXISTS, ei.value
    assert topic_partition_count(b.bootstrap, t) == 1, "existing topic changed"

    for bad in ["bad name!", "x" * 250, "..", "slash/topic"]:
        fs = admin.create_topics([NewTopic(bad, 1, 1)], request_timeout=15)
        with pytest.raises(KafkaException) as ei:
            fs[bad].result(20)
        assert kafka_error_code(ei) == KafkaError.TOPIC_EXCEPTION, (bad, ei.value)
    names = os.listdir(b.data_dir)
    assert not [n for n in names if n.startswith("bad name") or n.startswith("x" * 50) or n.startswith("slash")], names


def test_confluent_describe_alter_topic_configs(module_broker):
    from confluent_kafka.admin import ConfigResource, ConfigSource
    b = module_broker
    admin = admin_client(b.bootstrap)
    t = create_topic(b.bootstrap, unique_topic("adm-cfg"), 2,
                     {"retention.ms": "3600000", "max.message.bytes": "500000"})
    cfg = describe_topic_configs(admin, t)
    assert cfg["retention.ms"].value == "3600000"
    assert source_of(cfg["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["max.message.bytes"].value == "500000"
    assert cfg["cleanup.policy"].value == "delete"
    assert source_of(cfg["cleanup.policy"]) != ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["segment.bytes"].value == "1073741824"

    res = ConfigResource(ConfigResource.Type.TOPIC, t, set_config={"retention.ms": "7200000"})
    assert admin.alter_configs([res], request_timeout=15)[res].result(20) is None
    cfg = describe_topic_configs(admin, t)
    assert cfg["retention.ms"].value == "7200000"
    # AlterConfigs (not incremental) replaces the topic's whole override set.
    assert cfg["max.message.bytes"].value == "1048588", cfg["max.message.bytes"]

    # The new limit is enforced: a record above max.message.bytes after altering it down is refused.
    res = ConfigResource(ConfigResource.Type.TOPIC, t, set_config={"max.message.bytes": "2000"})
    admin.alter_configs([res], request_timeout=15)[res].result(20)
    assert describe_topic_configs(admin, t)["max.message.bytes"].value == "2000"
    from confluent_kafka import KafkaError
    from helpers import producer
    p = producer(b.bootstrap, message_send_max_retries=0, message_max_bytes=100000)
    errs = []
    p.produce(t, value=b"z" * 5000, partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(20)
    assert len(errs) == 1 and errs[0] is not None and errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errs


def test_confluent_describe_broker_configs(module_broker):
    from confluent_kafka.admin import ConfigResource
    b = module_broker
    admin = admin_client(b.bootstrap)
    res = ConfigResource(ConfigResource.Type.BROKER, str(broker_id(b.bootstrap)))
    cfg = admin.describe_configs([res], request_timeout=15)[res].result(20)
    assert cfg["log.dirs"].value == str(b.data_dir), cfg.get("log.dirs")
    assert cfg["num.partitions"].value == "1"
    assert cfg["auto.create.topics.enable"].value == "true"
    assert cfg["log.retention.hours"].value == "168"


def test_confluent_create_partitions(module_broker):
    from confluent_kafka.admin import NewPartitions
    b = module_broker
    admin = admin_client(b.bootstrap)
    t = create_topic(b.bootstrap, unique_topic("adm-parts"), 2)
    fs = admin.create_partitions([NewPartitions(t, 5)], request_timeout=15)
    assert fs[t].result(20) is None
    wait_until(lambda: topic_partition_count(b.bootstrap, t) == 5, 10, "5 partitions of %s in metadata" % t)
    assert sorted(partition_dirs(b.data_dir, t)) == [0, 1, 2, 3, 4]
    assert produce_sync(b.bootstrap, t, [(b"k", b"to-p4", [])], partition=4) == [(4, 0)]
    [m] = consume_range(b.bootstrap, t, [4], 0)[4]
    assert m.value() == b"to-p4"


def test_confluent_delete_topic(module_broker):
    b = module_broker
    admin = admin_client(b.bootstrap)
    t = create_topic(b.bootstrap, unique_topic("adm-del"), 3)
    produce_sync(b.bootstrap, t, [(b"k%d" % i, b"v", []) for i in range(300)])
    assert sorted(partition_dirs(b.data_dir, t)) == [0, 1, 2]
    fs = admin.delete_topics([t], operation_timeout=10, request_timeout=15)
    assert fs[t].result(20) is None
    wait_until(lambda: t not in admin.list_topics(timeout=5).topics, 10, "%s to leave metadata" % t)
    assert_topic_gone_from_disk(b, t, 3)
    # Same name again: a new, empty topic.
    create_topic(b.bootstrap, t, 1)
    assert consume_range(b.bootstrap, t, [0], 0) == {0: []}


# ---------------------------------------------------------------- kafka-python


@pytest.fixture
def kadmin(module_broker):
    from kafka.admin import KafkaAdminClient
    a = KafkaAdminClient(bootstrap_servers=module_broker.bootstrap, client_id="it-kadmin")
    yield a
    a.close()


def kp_configs(kadmin, rtype, name):
    from kafka.admin import ConfigResource
    [resp] = kadmin.describe_configs([ConfigResource(rtype, name)])
    [res] = resp.resources
    err, msg, _rt, rname, entries = res[:5]
    assert err == 0, (err, msg)
    assert rname == name
    return {e[0]: e[1] for e in entries}


def test_kafka_python_topic_lifecycle(module_broker, kadmin):
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
    from kafka.errors import InvalidTopicError, TopicAlreadyExistsError
    b = module_broker
    t = unique_topic("kpadm")
    resp = kadmin.create_topics([NewTopic(t, 2, 1, topic_configs={"retention.ms": "1234567"})])
    assert [tuple(e[:2]) for e in resp.topic_errors] == [(t, 0)]
    wait_until(lambda: t in kadmin.list_topics(), 10, "%s in kafka-python list_topics" % t)
    [desc] = kadmin.describe_topics([t])
    assert desc["error_code"] == 0 and desc["topic"] == t
    assert sorted(p["partition"] for p in desc["partitions"]) == [0, 1]
    assert sorted(partition_dirs(b.data_dir, t)) == [0, 1]

    with pytest.raises(TopicAlreadyExistsError):
        kadmin.create_topics([NewTopic(t, 1, 1)])
    with pytest.raises(InvalidTopicError):
        kadmin.create_topics([NewTopic("no way!", 1, 1)])

    cfg = kp_configs(kadmin, ConfigResourceType.TOPIC, t)
    assert cfg["retention.ms"] == "1234567"
    assert cfg["cleanup.policy"] == "delete"

    resp = kadmin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t, configs={"retention.ms": "7654321"})])
    assert [tuple(r[:1]) for r in resp.resources] == [(0,)], resp
    assert kp_configs(kadmin, ConfigResourceType.TOPIC, t)["retention.ms"] == "7654321"
    # visible to the other client too
    assert describe_topic_configs(admin_client(b.bootstrap), t)["retention.ms"].value == "7654321"

    resp = kadmin.create_partitions({t: NewPartitions(4)})
    assert [tuple(e[:2]) for e in resp.topic_errors] == [(t, 0)]
    wait_until(lambda: topic_partition_count(b.bootstrap, t) == 4, 10, "4 partitions of %s" % t)
    [desc] = kadmin.describe_topics([t])
    assert sorted(p["partition"] for p in desc["partitions"]) == [0, 1, 2, 3]
    assert produce_sync(b.bootstrap, t, [(b"k", b"p3", [])], partition=3) == [(3, 0)]

    resp = kadmin.delete_topics([t])
    assert [tuple(e[:2]) for e in resp.topic_error_codes] == [(t, 0)]
    wait_until(lambda: t not in kadmin.list_topics(), 10, "%s to leave kafka-python list_topics" % t)
    assert_topic_gone_from_disk(b, t, 4)


def test_kafka_python_broker_configs(module_broker, kadmin):
    from kafka.admin import ConfigResourceType
    bid = broker_id(module_broker.bootstrap)
    cfg = kp_configs(kadmin, ConfigResourceType.BROKER, str(bid))
    assert cfg["log.dirs"] == str(module_broker.data_dir)
    assert cfg["num.partitions"] == "1"
