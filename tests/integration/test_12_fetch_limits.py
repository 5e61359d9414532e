"""Fetch at the wire: max_bytes and partition max_bytes with the first batch
always returned whole (KIP-74), whole batches only, and long polling woken by
an append rather than by max_wait_ms."""
import threading

from helpers import FETCH, RawConn, Writer, create_topic, produce_sync, unique_topic

VALUE = b"x" * 1000


def fetch_v4_body(topic, partition, offset, max_bytes, partition_max_bytes, max_wait_ms=0, min_bytes=0):
    w = Writer().i32(-1).i32(max_wait_ms).i32(min_bytes).i32(max_bytes).i8(0)
    w.array([topic], lambda w, t: (w.string(t),
                                   w.array([partition], lambda w, p: w.i32(p).i64(offset).i32(partition_max_bytes))))
    return w.bytes()


def fetch(conn, topic, offset, max_bytes, partition_max_bytes, max_wait_ms=0, min_bytes=0):
    r = conn.request(FETCH, 4, fetch_v4_body(topic, 0, offset, max_bytes, partition_max_bytes, max_wait_ms, min_bytes))
    r.i32()  # throttle
    topics = r.array(lambda r: (r.string(), r.array(lambda r: (
        r.i32(), r.i16(), r.i64(), r.i64(), r.array(lambda r: (r.i64(), r.i64())), r.bytes_()))))
    [(_, [(_, err, hw, _, _, records)])] = topics
    batches, pos = [], 0
    records = records or b""
    while pos + 61 <= len(records):
        base = int.from_bytes(records[pos:pos + 8], "big", signed=True)
        length = int.from_bytes(records[pos + 8:pos + 12], "big", signed=True)
        last_delta = int.from_bytes(records[pos + 23:pos + 27], "big", signed=True)
        assert pos + 12 + length <= len(records), "the broker sent a partial batch"
        batches.append((base, base + last_delta, 12 + length))
        pos += 12 + length
    assert pos == len(records), "trailing bytes after the last whole batch"
    return err, hw, batches


def produce_batches(bootstrap, topic, n_batches, per_batch):
    """n_batches separate batches of per_batch records (one flush each)."""
    for b in range(n_batches):
        produce_sync(bootstrap, topic, [(b"k%d" % i, VALUE, None) for i in range(per_batch)], partition=0)


def test_first_batch_is_returned_whole_even_if_larger_than_max_bytes(module_broker):
    topic = create_topic(module_broker.bootstrap, unique_topic("kip74"), 1)
    produce_batches(module_broker.bootstrap, topic, 3, 20)      # three ~20 KB batches
    with RawConn(module_broker.bootstrap) as c:
        err, hw, batches = fetch(c, topic, 0, max_bytes=100, partition_max_bytes=100)
        assert err == 0 and hw == 60
        assert len(batches) == 1 and batches[0][:2] == (0, 19) and batches[0][2] > 100
        # From the middle of a batch: the batch holding the offset, whole.
        err, _, batches = fetch(c, topic, 25, max_bytes=100, partition_max_bytes=100)
        assert err == 0 and len(batches) == 1 and batches[0][:2] == (20, 39)
        # A limit that fits two batches returns two, never a partial third.
        two = 2 * batches[0][2] + 10
        err, _, batches = fetch(c, topic, 0, max_bytes=10 ** 6, partition_max_bytes=two)
        assert err == 0 and [b[:2] for b in batches] == [(0, 19), (20, 39)]
        # The response-wide max_bytes limits too.
        err, _, batches = fetch(c, topic, 0, max_bytes=two, partition_max_bytes=10 ** 6)
        assert err == 0 and [b[:2] for b in batches] == [(0, 19), (20, 39)]
        # At the end of the log: nothing, no error; past it: OFFSET_OUT_OF_RANGE.
        assert fetch(c, topic, 60, 10 ** 6, 10 ** 6)[::2] == (0, [])
        assert fetch(c, topic, 61, 10 ** 6, 10 ** 6)[0] == 1


def test_long_poll_is_woken_by_an_append(module_broker):
    topic = create_topic(module_broker.bootstrap, unique_topic("longpoll"), 1)
    produce_batches(module_broker.bootstrap, topic, 1, 5)
    # max_wait_ms is far longer than the socket timeout: the fetch can only
    # return in time if the append wakes it.
    with RawConn(module_broker.bootstrap, timeout=20.0) as c:
        producer = threading.Timer(0.5, produce_batches, (module_broker.bootstrap, topic, 1, 5))
        producer.start()
        try:
            err, hw, batches = fetch(c, topic, 5, 10 ** 6, 10 ** 6, max_wait_ms=120_000, min_bytes=1)
        finally:
            producer.join()
        assert err == 0 and hw == 10 and [b[:2] for b in batches] == [(5, 9)]
