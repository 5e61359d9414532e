"""Retention by time and by size deletes old segments: the segment files
disappear, the earliest offset (ListOffsets) advances, and reading below it
is OFFSET_OUT_OF_RANGE (auto.offset.reset=error -> consumer error)."""

import os
import time

from helpers import (consume_range, consumer, create_topic, log_segments, produce_sync, unique_topic,
                     wait_until)

BROKER_OVERRIDES = {"log.retention.check.interval.ms": "200"}
SEGMENT_BYTES = 16384


def records(n, tag):
    return [(b"k%d" % i, (b"%s-%06d-" % (tag, i)) * 10, []) for i in range(n)]


def produce_small_batches(bootstrap, topic, recs):
    # batches well below segment.bytes (Kafka rejects a batch larger than a segment)
    return produce_sync(bootstrap, topic, recs, partition=0, batch_num_messages=20, linger_ms=1)


def watermarks(bootstrap, topic):
    from confluent_kafka import TopicPartition
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def segment_bases(broker, topic):
    return [int(f.split(".")[0]) for f in log_segments(broker.partition_dir(topic, 0))]


def assert_out_of_range_from_zero(bootstrap, topic):
    from confluent_kafka import KafkaError, TopicPartition
    c = consumer(bootstrap, auto_offset_reset="error")
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is not None, "read offset %d below the log start offset" % m.offset()
            assert m.error().code() == KafkaError._AUTO_OFFSET_RESET, m.error()
            assert "out of range" in m.error().str().lower(), m.error()
            return
        raise AssertionError("no OFFSET_OUT_OF_RANGE error consuming %s from offset 0" % topic)
    finally:
        c.close()


def test_retention_ms_deletes_old_segments(module_broker):
    b = module_broker
    topic = create_topic(b.bootstrap, unique_topic("ret-ms"), 1,
                         {"segment.bytes": str(SEGMENT_BYTES), "retention.ms": "3000"})
    produce_small_batches(b.bootstrap, topic, records(1500, b"old"))
    first_segments = segment_bases(b, topic)
    assert len(first_segments) >= 5, "expected several %d-byte segments, got %r" % (SEGMENT_BYTES, first_segments)
    assert first_segments[0] == 0

    # Everything produced is older than retention.ms after 3 s; newer data keeps arriving.
    wait_until(lambda: watermarks(b.bootstrap, topic)[0] > 0, 30,
               "log start offset of %s to advance past 0 (retention.ms=3000)" % topic)
    wait_until(lambda: 0 not in segment_bases(b, topic), 10, "00000000000000000000.log to be deleted")
    wait_until(lambda: not any(f.endswith(".log") and int(f.split(".")[0]) in first_segments[:-1]
                               for f in os.listdir(b.partition_dir(topic, 0))), 30,
               "all old non-active segments of %s to be deleted" % topic)
    lo, hi = watermarks(b.bootstrap, topic)
    assert hi == 1500
    assert lo >= first_segments[-1], "log start %d, but segments below %d were deleted" % (lo, first_segments[-1])
    assert lo in segment_bases(b, topic) or lo == hi, (lo, segment_bases(b, topic))
    assert_out_of_range_from_zero(b.bootstrap, topic)
    # Reading from the new start works.
    got = consume_range(b.bootstrap, topic, [0], start=lo)[0]
    assert [m.offset() for m in got] == list(range(lo, hi))


def test_retention_bytes_deletes_old_segments(module_broker):
    b = module_broker
    topic = create_topic(b.bootstrap, unique_topic("ret-bytes"), 1,
                         {"segment.bytes": str(SEGMENT_BYTES), "retention.bytes": str(3 * SEGMENT_BYTES),
                          "retention.ms": "-1"})
    produce_small_batches(b.bootstrap, topic, records(3000, b"sz"))
    d = b.partition_dir(topic, 0)

    def log_bytes():
        return sum(os.path.getsize(os.path.join(d, f)) for f in log_segments(d))

    wait_until(lambda: log_bytes() <= 4 * SEGMENT_BYTES, 30,
               "retention.bytes=%d to shrink %s (now %d bytes in %r)" % (3 * SEGMENT_BYTES, topic, log_bytes(),
                                                                          log_segments(d)))
    lo, hi = watermarks(b.bootstrap, topic)
    assert hi == 3000
    assert lo > 0 and lo == segment_bases(b, topic)[0], (lo, segment_bases(b, topic))
    assert_out_of_range_from_zero(b.bootstrap, topic)
    got = consume_range(b.bootstrap, topic, [0], start=lo)[0]
    assert [m.offset() for m in got] == list(range(lo, hi))
    assert got[-1].key() == b"k2999"
