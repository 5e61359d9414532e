"""Bad input over raw sockets with hand-built frames. Each case gets the
Kafka answer (an error code, or a closed connection), the broker logs it, and
keeps serving normal clients."""

import struct

import pytest

from helpers import (API_VERSIONS, CORRUPT_MESSAGE, CREATE_TOPICS, INVALID_TOPIC_EXCEPTION,
                     MESSAGE_TOO_LARGE, METADATA, NONE, PRODUCE, UNKNOWN_TOPIC_OR_PARTITION,
                     UNSUPPORTED_VERSION, RawConn, build_batch, create_topic, create_topics_body,
                     decode_api_versions_v0, decode_create_topics, decode_metadata_v1,
                     decode_produce_v3, metadata_v1_body, produce_sync, produce_v3_body, request_frame,
                     unique_topic)

BROKER_OVERRIDES = {"auto.create.topics.enable": "false"}
MAX_REQUEST = 100 * 1024 * 1024  # socket.request.max.bytes default
MAX_MESSAGE = 1048588  # max.message.bytes default


@pytest.fixture(scope="module")
def topic(module_broker):
    return create_topic(module_broker.bootstrap, unique_topic("bad-input"), 1)


@pytest.fixture
def b(module_broker, topic):
    """The shared broker; after each test it must still serve a normal client."""
    yield module_broker
    assert module_broker.alive(), "broker died (exit %s)" % module_broker.proc.poll()
    with RawConn(module_broker.bootstrap) as c:
        err, keys = decode_api_versions_v0(c.request(API_VERSIONS, 0, b""))
        assert err == 0 and PRODUCE in keys
    reports = produce_sync(module_broker.bootstrap, topic, [(b"health", b"check", [])], partition=0)
    assert reports[0][0] == 0 and reports[0][1] >= 0


def high_watermark(broker, topic):
    from helpers import consumer
    from confluent_kafka import TopicPartition
    c = consumer(broker.bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


def raw_produce(broker, topic, batch):
    with RawConn(broker.bootstrap) as c:
        out = decode_produce_v3(c.request(PRODUCE, 3, produce_v3_body(topic, 0, batch)))
    assert list(out) == [(topic, 0)], out
    return out[(topic, 0)]


# ---------------------------------------------------------------- framing


def test_frame_over_socket_request_max_bytes_closes(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.send_raw(struct.pack(">i", MAX_REQUEST + 1) + b"\0" * 64)
        assert c.wait_closed(5), "connection still open after a %d-byte frame header" % (MAX_REQUEST + 1)
    b.wait_for_log(r"size|large|max|exceed", mark, what="a log line about the oversized frame")


def test_truncated_frame_then_close(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.send_raw(struct.pack(">i", 100) + struct.pack(">hhi", API_VERSIONS, 0, 7) + b"\0\x03ab")
    b.wait_for_log(r"trunc|eof|clos|disconnect|incomplete|partial|reset", mark,
                   what="a log line about the connection closed mid-frame")


def test_garbage_bytes_close(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:  # an HTTP request: its "length" is 0x47455420
        c.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert c.wait_closed(5), "connection still open after HTTP garbage"
    with RawConn(b.bootstrap) as c:  # plausible length, nonsense header
        c.send_raw(struct.pack(">i", 16) + b"\xff\xfe\xfd\xfc" * 4)
        assert c.wait_closed(5), "connection still open after a garbage frame"
    b.wait_for_log(r"size|large|invalid|garbage|unknown|bad|malformed", mark, what="a log line about garbage input")


def test_negative_length_closes(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.send_raw(struct.pack(">i", -5) + b"abcdefgh")
        assert c.wait_closed(5), "connection still open after a negative frame length"
    b.wait_for_log(r"negative|invalid|size|length", mark, what="a log line about the negative frame length")


def test_unknown_api_key_closes(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.send_raw(request_frame(9999, 0, 1, b"\0\0\0\0"))
        assert c.wait_closed(5), "connection still open (or answered) after api key 9999"
    b.wait_for_log(r"9999|unknown|unsupported|invalid", mark, what="a log line about api key 9999")


def test_unsupported_version_of_other_api_closes(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.send_raw(request_frame(METADATA, 99, 1, b"", flexible=True))
        assert c.wait_closed(5), "connection still open (or answered) after Metadata v99"
    b.wait_for_log(r"99|unknown|unsupported|invalid|version", mark, what="a log line about Metadata v99")


def test_api_versions_unsupported_version_answers_v0_body(b):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        c.corr = 41
        r = c.request(API_VERSIONS, 99, b"\x00\x00\x00", flexible=True, flexible_response=False)
        err, keys = decode_api_versions_v0(r)
        assert err == UNSUPPORTED_VERSION, err
        assert API_VERSIONS in keys, keys
        lo, hi = keys[API_VERSIONS]
        assert lo == 0 and hi >= 3, (lo, hi)
        assert r.remaining() == 0, "v0 body expected (no throttle_time_ms), %d extra bytes" % r.remaining()
        # The connection stays usable: a proper v0 request now succeeds.
        err, keys = decode_api_versions_v0(c.request(API_VERSIONS, 0, b""))
        assert err == NONE and len(keys) > 5
    b.wait_for_log(r"ApiVersions.*99|99.*ApiVersions", mark, what="a log line about ApiVersions v99")


# ---------------------------------------------------------------- produce / topics


def test_raw_produce_control(b, topic):
    """Control case: the hand-built Produce v3 with a valid batch is accepted,
    so the failures below are about what they change."""
    hw = high_watermark(b, topic)
    err, base, _ = raw_produce(b, topic, build_batch([(b"k", b"v", [("h", b"1")]), (None, b"w", [])]))
    assert (err, base) == (NONE, hw)
    assert high_watermark(b, topic) == hw + 2


def test_produce_bad_crc_corrupt_message(b, topic):
    hw = high_watermark(b, topic)
    mark = b.log_size()
    err, _, _ = raw_produce(b, topic, build_batch([(b"k", b"v", [])], corrupt_crc=True))
    assert err == CORRUPT_MESSAGE, err
    assert high_watermark(b, topic) == hw, "a corrupt batch was appended"
    b.wait_for_log(r"crc|corrupt", mark, what="a log line about the CRC mismatch")


def test_produce_batch_over_max_message_bytes(b, topic):
    hw = high_watermark(b, topic)
    mark = b.log_size()
    batch = build_batch([(b"big", b"x" * (MAX_MESSAGE + 1000), [])])
    err, _, _ = raw_produce(b, topic, batch)
    assert err == MESSAGE_TOO_LARGE, err
    assert high_watermark(b, topic) == hw, "an oversized batch was appended"
    b.wait_for_log(r"too.large|max.message.bytes|size", mark, what="a log line about the oversized batch")


def test_unknown_topic_with_auto_create_off(b):
    missing = unique_topic("no-such-topic")
    mark = b.log_size()
    err, _, _ = raw_produce(b, missing, build_batch([(b"k", b"v", [])]))
    assert err == UNKNOWN_TOPIC_OR_PARTITION, err
    with RawConn(b.bootstrap) as c:
        md = decode_metadata_v1(c.request(METADATA, 1, metadata_v1_body([missing])))
    assert md["topics"][missing]["error"] == UNKNOWN_TOPIC_OR_PARTITION, md
    with RawConn(b.bootstrap) as c:
        md = decode_metadata_v1(c.request(METADATA, 1, metadata_v1_body(None)))
    assert missing not in md["topics"], "topic was auto-created with auto.create.topics.enable=false"
    assert not b.partition_dir(missing, 0).exists()
    b.wait_for_log(r"%s|unknown" % missing, mark, what="a log line about the unknown topic")


@pytest.mark.parametrize("bad", ["bad topic name!", "x" * 250, "..", "a/b"], ids=["space", "250-chars", "dotdot", "slash"])
def test_invalid_topic_name(b, bad):
    mark = b.log_size()
    with RawConn(b.bootstrap) as c:
        md = decode_metadata_v1(c.request(METADATA, 1, metadata_v1_body([bad])))
        assert md["topics"][bad]["error"] == INVALID_TOPIC_EXCEPTION, md["topics"]
        # CreateTopics v2: the lowest version librdkafka/kafka-python would pick that this broker serves
        res = decode_create_topics(c.request(CREATE_TOPICS, 2, create_topics_body(2, bad)), 2)
        assert res == {bad: INVALID_TOPIC_EXCEPTION}, res
    b.wait_for_log(r"invalid|illegal", mark, what="a log line about the invalid topic name %r" % bad[:20])
