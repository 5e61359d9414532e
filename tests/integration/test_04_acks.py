"""acks=0, 1 and all with both producers; every record is readable."""

import pytest

from helpers import consume_range, consumer, create_topic, produce_sync, unique_topic, wait_until

N = 3000
PARTITIONS = 2


def high_watermarks(bootstrap, topic):
    from confluent_kafka import TopicPartition
    c = consumer(bootstrap)
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)]
    finally:
        c.close()


def check_readback(bootstrap, topic, expected):
    """expected: {value: key}; waits (bounded) until the topic holds len(expected)
    records (acks=0 gives no completion signal), then reads all back."""
    wait_until(lambda: sum(high_watermarks(bootstrap, topic)) >= len(expected), 20,
               "%d records in %s" % (len(expected), topic))
    assert sum(high_watermarks(bootstrap, topic)) == len(expected)
    got = consume_range(bootstrap, topic, list(range(PARTITIONS)), 0)
    seen = {}
    for p, msgs in got.items():
        assert [m.offset() for m in msgs] == list(range(len(msgs)))
        for m in msgs:
            seen[m.value()] = m.key()
    assert seen == expected


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks_confluent(module_broker, acks):
    topic = create_topic(module_broker.bootstrap, unique_topic("acks-rdk-" + acks), PARTITIONS)
    records = [(b"key-%d" % (i % 97), b"rdk-%s-%d" % (acks.encode(), i), []) for i in range(N)]
    reports = produce_sync(module_broker.bootstrap, topic, records, acks=acks)
    if acks != "0":
        for p in range(PARTITIONS):
            offs = [o for (pp, o) in reports if pp == p]
            assert offs == list(range(len(offs))), "partition %d: acknowledged offsets %r..." % (p, offs[:10])
    check_readback(module_broker.bootstrap, topic, {v: k for k, v, _ in records})


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_acks_kafka_python(module_broker, acks):
    from kafka import KafkaProducer
    topic = create_topic(module_broker.bootstrap, unique_topic("acks-kpy-%s" % acks), PARTITIONS)
    p = KafkaProducer(bootstrap_servers=module_broker.bootstrap, acks=acks, linger_ms=5)
    try:
        futures = []
        expected = {}
        for i in range(N):
            k, v = b"key-%d" % (i % 89), b"kpy-%s-%d" % (str(acks).encode(), i)
            expected[v] = k
            futures.append(p.send(topic, key=k, value=v, headers=[("i", b"%d" % i)]))
        p.flush(60)
        metas = [f.get(timeout=30) for f in futures]
        if acks != 0:
            for part in range(PARTITIONS):
                offs = [m.offset for m in metas if m.partition == part]
                assert offs == list(range(len(offs))), "partition %d: acknowledged offsets %r..." % (part, offs[:10])
    finally:
        p.close(10)
    check_readback(module_broker.bootstrap, topic, expected)
