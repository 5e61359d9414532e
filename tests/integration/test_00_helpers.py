"""Self-checks of the test helpers (no broker): the hand-written CRC32C,
record batch builder and request/response codecs agree with kafka-python's
independent implementations, and the on-disk validator catches damage."""

import os
import struct

import pytest

import helpers as h


def enc(obj):
    """kafka-python's Struct.encode holds only a weak reference to its
    object, so keep the object alive while encoding."""
    return obj.encode()


def test_crc32c_matches_kafka_python():
    from kafka.record.util import calc_crc32c
    assert h.crc32c(b"123456789") == 0xE3069283
    for n in (0, 1, 7, 8, 9, 63, 64, 1000, 4099):
        data = os.urandom(n)
        assert h.crc32c(data) == calc_crc32c(data), n


def test_build_batch_decodes_with_kafka_python():
    from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
    recs = [(b"k1", b"v1", [("h", b"x"), ("n", None)]), (None, b"", []), (b"k3", None, [("d", b"")])]
    ts = 1700000000123
    raw = h.build_batch(recs, base_timestamp=ts)
    batch = DefaultRecordBatch(raw)
    assert batch.validate_crc()
    assert batch.magic == 2 and batch.last_offset_delta == 2
    got = [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in batch]
    assert got == [(i, ts, k, v, [tuple(x) for x in hd]) for i, (k, v, hd) in enumerate(recs)]
    assert not DefaultRecordBatch(h.build_batch(recs, base_timestamp=ts, corrupt_crc=True)).validate_crc()

    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=-1,
                                  producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i, (k, v, hd) in enumerate(recs):
        b.append(i, timestamp=ts, key=k, value=v, headers=hd)
    theirs = bytes(b.build())
    assert raw[:12] == theirs[:12] and raw[16:] == theirs[16:]


def test_request_encodings_match_kafka_python():
    from kafka.protocol.admin import CreateTopicsRequest
    from kafka.protocol.metadata import MetadataRequest
    from kafka.protocol.offset import OffsetRequest
    from kafka.protocol.produce import ProduceRequest
    assert h.metadata_v1_body(["a", "bc"]) == enc(MetadataRequest[1](topics=["a", "bc"]))
    assert h.metadata_v1_body(None) == enc(MetadataRequest[1](topics=None))
    batch = h.build_batch([(b"k", b"v", [])])
    assert h.produce_v3_body("t", 2, batch, acks=-1, timeout_ms=1234) == enc(ProduceRequest[3](
        transactional_id=None, required_acks=-1, timeout=1234, topics=[("t", [(2, batch)])]))
    assert h.create_topics_v0_body("t", 3, 1, {"retention.ms": "5"}, 999) == enc(CreateTopicsRequest[0](
        create_topic_requests=[("t", 3, 1, [], [("retention.ms", "5")])], timeout=999))
    assert h.create_topics_body(2, "t", 3, 1, {"a": "b"}, 999, validate_only=True) == enc(CreateTopicsRequest[2](
        create_topic_requests=[("t", 3, 1, [], [("a", "b")])], timeout=999, validate_only=True))
    assert h.list_offsets_v1_body("t", 1, -2) == enc(OffsetRequest[1](
        replica_id=-1, topics=[("t", [(1, -2)])]))
    frame = h.request_frame(18, 0, 5, b"", client_id="c")
    assert frame == struct.pack(">ihhih", 2 + 2 + 4 + 2 + 1, 18, 0, 5, 1) + b"c"


def test_response_decoders_match_kafka_python():
    from kafka.protocol.admin import ApiVersionResponse, CreateTopicsResponse
    from kafka.protocol.metadata import MetadataResponse
    from kafka.protocol.produce import ProduceResponse
    raw = enc(ApiVersionResponse[0](error_code=35, api_versions=[(18, 0, 3)]))
    assert h.decode_api_versions_v0(h.Reader(raw)) == (35, {18: (0, 3)})
    raw = enc(MetadataResponse[1](brokers=[(1, "h", 9, None)], controller_id=1,
                              topics=[(0, "t", False, [(0, 2, 1, [1], [1])])]))
    md = h.decode_metadata_v1(h.Reader(raw))
    assert md["controller"] == 1 and md["brokers"] == [(1, "h", 9, None)]
    assert md["topics"]["t"]["partitions"] == [{"error": 0, "partition": 2, "leader": 1, "replicas": [1], "isr": [1]}]
    raw = enc(ProduceResponse[3](topics=[("t", [(0, 2, 77, -1)])], throttle_time_ms=0))
    assert h.decode_produce_v3(h.Reader(raw)) == {("t", 0): (2, 77, -1)}
    raw = enc(CreateTopicsResponse[0](topic_errors=[("t", 17)]))
    assert h.decode_create_topics_v0(h.Reader(raw)) == {"t": 17}
    raw = enc(CreateTopicsResponse[2](throttle_time_ms=0, topic_errors=[("t", 17, "bad")]))
    assert h.decode_create_topics(h.Reader(raw), 2) == {"t": 17}


def test_log_validator(tmp_path):
    seg = tmp_path / ("%020d.log" % 10)

    def stamped(base, n):
        raw = bytearray(h.build_batch([(b"k%d" % i, b"v", []) for i in range(n)]))
        raw[0:8] = struct.pack(">q", base)  # baseOffset is outside the CRC
        return bytes(raw)

    good = stamped(10, 3) + stamped(13, 2)
    seg.write_bytes(good)
    assert h.validate_log_file(str(seg)) == (2, 15)
    seg.write_bytes(good[:-1])
    with pytest.raises(h.LogCorruption):
        h.validate_log_file(str(seg))
    bad = bytearray(good)
    bad[70] ^= 1
    seg.write_bytes(bytes(bad))
    with pytest.raises(h.LogCorruption, match="CRC"):
        h.validate_log_file(str(seg))
    seg.write_bytes(stamped(10, 3) + stamped(14, 2))
    with pytest.raises(h.LogCorruption, match="gap"):
        h.validate_log_file(str(seg))
