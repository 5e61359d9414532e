"""Consume from a chosen offset and from a timestamp (offsets_for_times) with
both confluent-kafka and kafka-python."""

import time

import pytest

from helpers import consume_range, consumer, create_topic, producer, unique_topic, wait_until

N = 500
STEP_MS = 1000


@pytest.fixture(scope="module")
def ts_topic(module_broker):
    """One partition, record i has CreateTime base + i*STEP_MS."""
    topic = create_topic(module_broker.bootstrap, unique_topic("ts"), 1)
    base = (int(time.time() * 1000) - 10 * 24 * 3600 * 1000) // 1000 * 1000  # ten days ago
    p = producer(module_broker.bootstrap, linger_ms=10)
    errors = []
    for i in range(N):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0, timestamp=base + i * STEP_MS,
                  on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(30) == 0 and not errors, errors
    return topic, base


def test_confluent_from_offset(module_broker, ts_topic):
    topic, base = ts_topic
    got = consume_range(module_broker.bootstrap, topic, [0], start=317)[0]
    assert [m.offset() for m in got] == list(range(317, N))
    assert [m.value() for m in got] == [b"v%d" % i for i in range(317, N)]
    assert all(m.timestamp() == (1, base + m.offset() * STEP_MS) for m in got), got[0].timestamp()


def test_confluent_offsets_for_times(module_broker, ts_topic):
    from confluent_kafka import TopicPartition
    topic, base = ts_topic
    c = consumer(module_broker.bootstrap)
    try:
        def lookup(ts):
            [r] = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert r.error is None, r.error
            return r.offset

        assert lookup(base - 5000) == 0
        assert lookup(base) == 0
        assert lookup(base + 123 * STEP_MS) == 123
        assert lookup(base + 123 * STEP_MS - 1) == 123
        assert lookup(base + 123 * STEP_MS + 1) == 124
        assert lookup(base + (N - 1) * STEP_MS) == N - 1
        assert lookup(base + N * STEP_MS) == -1  # past the last record: no offset
        start = lookup(base + 400 * STEP_MS - 300)
    finally:
        c.close()
    got = consume_range(module_broker.bootstrap, topic, [0], start=start)[0]
    assert got[0].offset() == 400 and got[0].value() == b"v400"
    assert got[0].timestamp() == (1, base + 400 * STEP_MS)
    assert len(got) == N - 400


def test_kafka_python_from_offset_and_time(module_broker, ts_topic):
    from kafka import KafkaConsumer, TopicPartition as KTP
    topic, base = ts_topic
    c = KafkaConsumer(bootstrap_servers=module_broker.bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="none")
    try:
        tp = KTP(topic, 0)
        c.assign([tp])
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: N}

        def read_from(off, count):
            c.seek(tp, off)
            out = []
            wait_until(lambda: out.extend(c.poll(timeout_ms=200).get(tp, [])) or len(out) >= count, 30,
                       "kafka-python to read %d records from offset %d" % (count, off))
            return out[:count]

        recs = read_from(250, 10)
        assert [r.offset for r in recs] == list(range(250, 260))
        assert [r.value for r in recs] == [b"v%d" % i for i in range(250, 260)]
        assert [r.timestamp for r in recs] == [base + i * STEP_MS for i in range(250, 260)]

        res = c.offsets_for_times({tp: base + 77 * STEP_MS - 10})
        assert res[tp] is not None and res[tp].offset == 77 and res[tp].timestamp == base + 77 * STEP_MS, res
        res = c.offsets_for_times({tp: base})
        assert res[tp].offset == 0 and res[tp].timestamp == base, res
        assert c.offsets_for_times({tp: base + N * STEP_MS})[tp] is None

        recs = read_from(c.offsets_for_times({tp: base + 450 * STEP_MS})[tp].offset, 5)
        assert [r.offset for r in recs] == list(range(450, 455))
        assert [r.key for r in recs] == [b"k%d" % i for i in range(450, 455)]
    finally:
        c.close()
