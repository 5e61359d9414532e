"""100,000 keyed records with headers round-trip byte-exact across 4
partitions under every codec: produced with confluent-kafka (librdkafka),
consumed back with confluent-kafka (assign, no group) and kafka-python.

kafka-python reads with Fetch v4, and Kafka refuses zstd data to Fetch < 10
(KIP-110), so kafka-python reads the none/gzip/snappy/lz4 topics (it needs
python3-snappy and python3-lz4, see scripts/install-deps.sh)."""

import pytest

from helpers import (confluent_headers, consume_range, det_records, kp_consume_range, norm_headers, produce_sync,
                     create_topic, unique_topic)

N = 100_000
PARTITIONS = 4
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
KAFKA_PYTHON_CODECS = ["none", "gzip", "snappy", "lz4"]
SEEDS = {c: 1000 + i for i, c in enumerate(CODECS)}


@pytest.fixture(scope="module")
def produced(module_broker):
    """codec -> (topic, delivery reports [(partition, offset)] by record index);
    each codec's topic is produced once per module, on first use."""
    cache = {}

    def get(codec):
        if codec not in cache:
            topic = create_topic(module_broker.bootstrap, unique_topic("rt-" + codec), PARTITIONS)
            records = det_records(SEEDS[codec], N)
            reports = produce_sync(module_broker.bootstrap, topic, records,
                                   compression_codec=codec, linger_ms=20, batch_num_messages=5000,
                                   queue_buffering_max_messages=2 * N)
            cache[codec] = (topic, reports)
        return cache[codec]

    return get


def expected_by_partition(records, reports):
    """{p: [(offset, record)]} from the delivery reports; checks the producer
    side: offsets per partition are 0..n-1 in produce order."""
    exp = {p: [] for p in range(PARTITIONS)}
    for rec, (p, off) in zip(records, reports):
        exp[p].append((off, rec))
    for p, lst in exp.items():
        assert [o for o, _ in lst] == list(range(len(lst))), \
            "partition %d: acknowledged offsets are not 0..n-1 in produce order" % p
    assert all(exp[p] for p in exp), "keyed records did not spread over all %d partitions: %r" % (
        PARTITIONS, {p: len(v) for p, v in exp.items()})
    return exp


@pytest.mark.parametrize("codec", CODECS)
def test_roundtrip_confluent(module_broker, produced, codec):
    topic, reports = produced(codec)
    records = det_records(SEEDS[codec], N)
    exp = expected_by_partition(records, reports)
    end = {p: len(exp[p]) for p in exp}
    got = consume_range(module_broker.bootstrap, topic, list(range(PARTITIONS)), 0, end=end)
    for p in range(PARTITIONS):
        msgs = got[p]
        assert len(msgs) == len(exp[p]), "partition %d: %d records, want %d" % (p, len(msgs), len(exp[p]))
        for m, (off, (k, v, h)) in zip(msgs, exp[p]):
            assert m.partition() == p
            assert m.offset() == off, "partition %d: offset %d, want %d" % (p, m.offset(), off)
            assert m.key() == k, "p%d@%d key %r != %r" % (p, off, m.key(), k)
            assert m.value() == v, "p%d@%d value %r != %r" % (p, off, m.value(), v)
            hdrs = confluent_headers(m)
            assert hdrs == h, "p%d@%d headers %r != %r" % (p, off, hdrs, h)
    # Nothing beyond what was produced.
    from confluent_kafka import TopicPartition
    from helpers import consumer
    c = consumer(module_broker.bootstrap)
    try:
        for p in range(PARTITIONS):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert (lo, hi) == (0, end[p]), "partition %d watermarks %r, want (0, %d)" % (p, (lo, hi), end[p])
    finally:
        c.close()


@pytest.mark.parametrize("codec", KAFKA_PYTHON_CODECS)
def test_roundtrip_kafka_python(module_broker, produced, codec):
    topic, reports = produced(codec)
    records = det_records(SEEDS[codec], N)
    exp = expected_by_partition(records, reports)
    end = {p: len(exp[p]) for p in exp}
    got = kp_consume_range(module_broker.bootstrap, topic, list(range(PARTITIONS)), end)
    for p in range(PARTITIONS):
        recs = got[p]
        assert len(recs) == len(exp[p]), "partition %d: %d records, want %d" % (p, len(recs), len(exp[p]))
        for r, (off, (k, v, h)) in zip(recs, exp[p]):
            assert r.partition == p
            assert r.offset == off, "partition %d: offset %d, want %d" % (p, r.offset, off)
            assert r.key == k, "p%d@%d key %r != %r" % (p, off, r.key, k)
            assert r.value == v, "p%d@%d value %r != %r" % (p, off, r.value, v)
            assert norm_headers(r.headers) == h, "p%d@%d headers %r != %r" % (p, off, r.headers, h)
