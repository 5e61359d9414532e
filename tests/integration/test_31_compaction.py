"""Log compaction (cleanup.policy=compact): the cleaner keeps the latest
record per key with its original offset, segment files shrink, tombstones
stay until delete.retention.ms after cleaning and then disappear; produce
without a key to a compacted topic is INVALID_RECORD.

(__consumer_offsets shrinking to the latest commit per group and partition
is tested once the group coordinator writes it.)"""

import os

import pytest

from helpers import consume_range, create_topic, log_segments, produce_sync, unique_topic, wait_until

BROKER_OVERRIDES = {"log.cleaner.backoff.ms": "100"}
SEGMENT_BYTES = 8192
DELETE_RETENTION_MS = 4000
KEYS = 60


def log_bytes(broker, topic):
    d = broker.partition_dir(topic, 0)
    return sum(os.path.getsize(os.path.join(d, f)) for f in log_segments(d))


def produce(bootstrap, topic, recs, codec):
    return produce_sync(bootstrap, topic, recs, partition=0, batch_num_messages=10, linger_ms=1,
                        compression_type=codec)


def read_all(bootstrap, topic):
    msgs = consume_range(bootstrap, topic, [0], start=0)[0]
    return [(m.offset(), m.key(), m.value()) for m in msgs]


def cleaner_checkpoint(broker, topic):
    """The first dirty offset the cleaner recorded for partition 0 (Kafka's
    checkpoint format: version, count, then "topic partition offset")."""
    try:
        lines = (broker.data_dir / "cleaner-offset-checkpoint").read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in lines[2:]:
        t, p, off = line.split()
        if t == topic and p == "0":
            return int(off)
    return 0


def check_compacted(got, produced, cp):
    """Every record read is the one produced at that offset (offsets never
    change, order kept); below the cleaner checkpoint each key appears at
    most once, as the latest version produced below it."""
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(offsets), "records out of order"
    for off, k, v in got:
        assert produced[off] == (k, v), "offset %d: got %r, produced %r" % (off, (k, v), produced[off])
    latest_below = {}
    for off in sorted(produced):
        if off < cp:
            latest_below[produced[off][0]] = off
    seen = set()
    for off, k, v in got:
        if off >= cp:
            continue
        assert k not in seen, "key %r twice below the cleaner checkpoint %d" % (k, cp)
        seen.add(k)
        assert latest_below[k] == off, "key %r: offset %d kept, latest below %d is %d" % (k, off, cp, latest_below[k])


@pytest.mark.parametrize("codec", ["none", "lz4"])
def test_compaction_keeps_latest_per_key(module_broker, codec):
    b = module_broker
    topic = create_topic(b.bootstrap, unique_topic("compact-" + codec), 1,
                         {"cleanup.policy": "compact", "segment.bytes": str(SEGMENT_BYTES),
                          "min.cleanable.dirty.ratio": "0.01",
                          "delete.retention.ms": str(DELETE_RETENTION_MS)})
    recs = []
    for version in range(25):
        for i in range(KEYS):
            recs.append((b"key-%03d" % i, b"value-%03d-v%02d-" % (i, version) * 4, []))
    # tombstones for the first ten keys, then other keys so that they leave
    # the active segment (which is never cleaned)
    recs += [(b"key-%03d" % i, None, []) for i in range(10)]
    recs += [(b"tail-%03d" % i, os.urandom(80), []) for i in range(200)]
    reports = produce(b.bootstrap, topic, recs, codec)
    produced = {off: (k, v) for (k, v, _), (_, off) in zip(recs, reports)}
    tombstones = [off for off, (k, v) in produced.items() if v is None]

    produced_bytes = sum(len(k) + len(v or b"") for k, v, _ in recs)
    # A pass may run while the records are still arriving; wait for one that
    # reached past a tombstone (the tail pushes them out of the active segment).
    wait_until(lambda: log_bytes(b, topic) < produced_bytes // 3 and cleaner_checkpoint(b, topic) > min(tombstones),
               30, "the cleaner to shrink %s's segments past the tombstones" % topic)
    cp = cleaner_checkpoint(b, topic)
    got = read_all(b.bootstrap, topic)
    check_compacted(got, produced, cp)
    assert len(got) < len(recs) // 4
    # Nothing supersedes the tombstones: they stay until delete.retention.ms.
    got_offsets = {o for o, _, _ in got}
    assert all(t in got_offsets for t in tombstones), "a tombstone vanished before delete.retention.ms"
    assert any(t < cp for t in tombstones), "no tombstone was cleaned"

    # After delete.retention.ms the cleaner drops the tombstones it cleaned
    # on its own, with no new writes to bring on a pass (a tombstone-only
    # pass); kept records keep their offsets.
    def tombstones_gone():
        offs = {o for o, _, _ in read_all(b.bootstrap, topic)}
        return not any(t in offs for t in tombstones)
    wait_until(tombstones_gone, 30, "the tombstones of %s to be removed" % topic)
    cp = cleaner_checkpoint(b, topic)
    got = read_all(b.bootstrap, topic)
    check_compacted(got, produced, cp)
    # Every key that is not deleted is still there with its latest value
    # (below the checkpoint) or some version (above it).
    latest = {}
    for off in sorted(produced):
        latest[produced[off][0]] = off
    got_keys = {k for _, k, _ in got}
    for k, off in latest.items():
        if produced[off][1] is not None:
            assert k in got_keys, "key %r lost" % k
    assert "cleaner:" in b.log_text()


def test_produce_without_key_to_compacted_topic_is_invalid_record(module_broker):
    from confluent_kafka import KafkaError
    b = module_broker
    topic = create_topic(b.bootstrap, unique_topic("compact-nokey"), 1, {"cleanup.policy": "compact"})
    with pytest.raises(AssertionError) as e:
        produce_sync(b.bootstrap, topic, [(None, b"no key", [])], partition=0, message_send_max_retries=0)
    assert "INVALID_RECORD" in str(e.value) or str(KafkaError.INVALID_RECORD) in str(e.value)
    # with a key it is fine
    produce_sync(b.bootstrap, topic, [(b"k", b"v", [])], partition=0)
    b.wait_for_log(r"compacted topic cannot accept message without key")
