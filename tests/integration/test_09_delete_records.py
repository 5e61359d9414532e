"""DeleteRecords advances the log start offset. Neither confluent-kafka 1.7.0
nor kafka-python 2.0.2 has delete_records, so a hand-encoded DeleteRecords
v0 request is sent over a socket."""

from helpers import (DELETE_RECORDS, NONE, OFFSET_OUT_OF_RANGE, RawConn, consume_range, consumer,
                     create_topic, decode_delete_records_v0, delete_records_v0_body, produce_sync,
                     unique_topic)


def delete_records(bootstrap, topic, partition_offsets):
    with RawConn(bootstrap) as c:
        r = c.request(DELETE_RECORDS, 0, delete_records_v0_body({topic: partition_offsets}))
        return decode_delete_records_v0(r)


def watermarks(bootstrap, topic, p):
    from confluent_kafka import TopicPartition
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
    finally:
        c.close()


def assert_out_of_range(bootstrap, topic, p, offset):
    from confluent_kafka import KafkaError, TopicPartition
    c = consumer(bootstrap, auto_offset_reset="error")
    try:
        c.assign([TopicPartition(topic, p, offset)])
        for _ in range(40):
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is not None, "read offset %d below the log start offset" % m.offset()
            assert m.error().code() == KafkaError._AUTO_OFFSET_RESET, m.error()
            return
        raise AssertionError("no offset-out-of-range error reading %s [%d] at %d" % (topic, p, offset))
    finally:
        c.close()


def test_delete_records_advances_log_start(broker):
    b = broker
    t = create_topic(b.bootstrap, unique_topic("delrec"), 2)
    produce_sync(b.bootstrap, t, [(b"k%d" % i, b"v%d" % i, []) for i in range(100)], partition=0)
    produce_sync(b.bootstrap, t, [(b"k%d" % i, b"w%d" % i, []) for i in range(50)], partition=1)

    res = delete_records(b.bootstrap, t, [(0, 40)])
    assert res == {(t, 0): (40, NONE)}, res
    assert watermarks(b.bootstrap, t, 0) == (40, 100)
    assert watermarks(b.bootstrap, t, 1) == (0, 50), "the other partition was touched"
    got = consume_range(b.bootstrap, t, [0], start=40)[0]
    assert [m.offset() for m in got] == list(range(40, 100))
    assert got[0].value() == b"v40"
    assert_out_of_range(b.bootstrap, t, 0, 39)

    # -1 means "up to the high watermark"; an offset beyond it is out of range.
    res = delete_records(b.bootstrap, t, [(1, -1)])
    assert res == {(t, 1): (50, NONE)}, res
    assert watermarks(b.bootstrap, t, 1) == (50, 50)
    res = delete_records(b.bootstrap, t, [(0, 101)])
    assert res[(t, 0)][1] == OFFSET_OUT_OF_RANGE, res
    assert watermarks(b.bootstrap, t, 0) == (40, 100)
    # A lower offset than the current start does not move it back.
    res = delete_records(b.bootstrap, t, [(0, 10)])
    assert res == {(t, 0): (40, NONE)}, res

    # Produce continues at the end; the start survives a restart.
    assert produce_sync(b.bootstrap, t, [(b"x", b"y", [])], partition=1) == [(1, 50)]
    b.restart()
    assert watermarks(b.bootstrap, t, 0) == (40, 100)
    assert watermarks(b.bootstrap, t, 1) == (50, 51)
    b.stop()
