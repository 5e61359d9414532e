"""Topics, their ids and configs, and their data survive a clean restart
(SIGTERM, exit 0, start again on the same data dir)."""

import os

from helpers import (admin_client, confluent_headers, consume_range, create_topic, det_records, produce_sync,
                     raw_topic_ids, topic_partition_count, unique_topic)


def topic_configs(bootstrap, topic):
    from confluent_kafka.admin import ConfigResource
    admin = admin_client(bootstrap)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([res], request_timeout=15)[res].result(20)
    return {k: e.value for k, e in entries.items()}


def topic_ids_on_disk(broker, topic, partitions):
    """Kafka's partition.metadata files ('topic_id: <uuid>'), if present."""
    ids = set()
    for p in range(partitions):
        path = broker.partition_dir(topic, p) / "partition.metadata"
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith("topic_id:"):
                    ids.add(line.split(":", 1)[1].strip())
    return ids


def snapshot(broker, topics):
    bs = broker.bootstrap
    state = {}
    ids = raw_topic_ids(bs, [t for t, _ in topics])
    for topic, parts in topics:
        msgs = consume_range(bs, topic, list(range(parts)), 0)
        state[topic] = {
            "partitions": topic_partition_count(bs, topic),
            "records": {p: [(m.offset(), m.key(), m.value(), confluent_headers(m), m.timestamp()) for m in ms]
                        for p, ms in msgs.items()},
            "configs": topic_configs(bs, topic),
            "topic_id_metadata": None if ids is None else ids.get(topic),
            "topic_id_disk": topic_ids_on_disk(broker, topic, parts),
        }
    return state


def test_restart_keeps_topics_data_ids_configs(broker):
    t1 = create_topic(broker.bootstrap, unique_topic("rs-a"), 3,
                      {"retention.ms": "987654321", "segment.bytes": "1048576", "cleanup.policy": "delete"})
    t2 = create_topic(broker.bootstrap, unique_topic("rs-b"), 1, {"max.message.bytes": "200000"})
    produce_sync(broker.bootstrap, t1, det_records(5, 5000), compression_codec="lz4")
    produce_sync(broker.bootstrap, t2, det_records(6, 700))
    topics = [(t1, 3), (t2, 1)]

    before = snapshot(broker, topics)
    assert before[t1]["configs"]["retention.ms"] == "987654321"
    assert before[t1]["configs"]["segment.bytes"] == "1048576"
    assert before[t2]["configs"]["max.message.bytes"] == "200000"
    assert sum(len(v) for v in before[t1]["records"].values()) == 5000
    assert sum(len(v) for v in before[t2]["records"].values()) == 700
    have_ids = bool(before[t1]["topic_id_metadata"] or before[t1]["topic_id_disk"])
    assert have_ids, ("no topic id observable: neither Metadata v10+ (ApiVersions advertises it?) "
                      "nor partition.metadata files in %s" % broker.partition_dir(t1, 0))
    if before[t1]["topic_id_metadata"] is not None:
        assert before[t1]["topic_id_metadata"].int != 0
        assert before[t1]["topic_id_metadata"] != before[t2]["topic_id_metadata"]

    broker.restart()
    after = snapshot(broker, topics)
    for t, _ in topics:
        for field in ("partitions", "configs", "topic_id_metadata", "topic_id_disk"):
            assert after[t][field] == before[t][field], "%s %s changed across restart: %r -> %r" % (
                t, field, before[t][field], after[t][field])
        for p in before[t]["records"]:
            assert after[t]["records"][p] == before[t]["records"][p], "%s-%d records changed across restart" % (t, p)

    # Still writable after the restart: offsets continue.
    reports = produce_sync(broker.bootstrap, t2, [(b"after", b"restart", [])])
    assert reports == [(0, 700)]
    broker.stop()


def test_restart_twice_empty_and_new_topic(broker):
    """A topic created but never written survives too, and a restart with no
    changes in between is harmless."""
    t = create_topic(broker.bootstrap, unique_topic("rs-empty"), 2)
    broker.restart()
    broker.restart()
    assert topic_partition_count(broker.bootstrap, t) == 2
    assert os.path.isdir(broker.partition_dir(t, 1))
    assert consume_range(broker.bootstrap, t, [0, 1], 0) == {0: [], 1: []}
    broker.stop()
