"""100,000 keyed records with headers in compressed batches over 4 partitions are
stored and served unchanged, byte-exact.

librdkafka 2.0.2 only compresses gzip, snappy and lz4 for brokers that serve
Produce v0 (it checks the range [0, 0]); like Kafka 4.0, Gregor serves
Produce 3+ only, so librdkafka sends those codecs uncompressed and only zstd
compressed.  kafka-python compresses every codec it is given, so it is the
producer here: every batch on disk must carry the producer's codec, and both
clients must read the records back byte-exact."""
import os
import struct

import pytest

from helpers import (confluent_headers, consume_range, create_topic, kp_consume_range, log_segments, norm_headers,
                     partition_dirs, unique_topic)

N = 100_000
PARTITIONS = 4
CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(part_dir):
    """The codec (attributes bits 0-2) of every batch in a partition's segments."""
    codecs = []
    for seg in log_segments(part_dir):
        with open(os.path.join(part_dir, seg), "rb") as f:
            data = f.read()
        pos = 0
        while pos + 61 <= len(data):
            length, = struct.unpack_from(">i", data, pos + 8)
            attributes, = struct.unpack_from(">h", data, pos + 21)
            codecs.append(attributes & 7)
            pos += 12 + length
    return codecs


def records(codec):
    return [(b"k-%s-%d" % (codec.encode(), i), b"value %d " % i * (1 + i % 7),
             [("h", b"%d" % i), ("e", b"")] if i % 3 else []) for i in range(N)]


def produce_kafka_python(bootstrap, topic, codec):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20, acks="all",
                      batch_size=256 * 1024)
    futures = [p.send(topic, key=k, value=v, headers=h, partition=i % PARTITIONS)
               for i, (k, v, h) in enumerate(records(codec))]
    p.flush(60)
    for f in futures:
        f.get(timeout=60)
    p.close()


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_kept_and_read_back(module_broker, codec):
    if codec == "zstd":
        pytest.importorskip("zstandard")
    topic = create_topic(module_broker.bootstrap, unique_topic("cb-" + codec), PARTITIONS)
    produce_kafka_python(module_broker.bootstrap, topic, codec)

    dirs = partition_dirs(module_broker.data_dir, topic)
    assert sorted(dirs) == list(range(PARTITIONS))
    for p, d in dirs.items():
        codecs = batch_codecs(d)
        assert codecs and set(codecs) == {CODEC_IDS[codec]}, \
            "partition %d: stored batch codecs %r, produced %s" % (p, sorted(set(codecs)), codec)

    want = {p: [r for i, r in enumerate(records(codec)) if i % PARTITIONS == p] for p in range(PARTITIONS)}
    end = {p: len(want[p]) for p in want}
    got = consume_range(module_broker.bootstrap, topic, list(range(PARTITIONS)), 0, end=end)
    for p in range(PARTITIONS):
        assert [(m.key(), m.value(), norm_headers(confluent_headers(m))) for m in got[p]] == \
               [(k, v, norm_headers(h)) for k, v, h in want[p]]
    if codec != "zstd":  # kafka-python fetches with v4; zstd needs Fetch v10 (KIP-110)
        kgot = kp_consume_range(module_broker.bootstrap, topic, list(range(PARTITIONS)), end)
        for p in range(PARTITIONS):
            assert [(m.key, m.value, norm_headers(m.headers)) for m in kgot[p]] == \
                   [(k, v, norm_headers(h)) for k, v, h in want[p]]


def test_librdkafka_zstd_batches_kept(module_broker):
    from helpers import produce_sync
    topic = create_topic(module_broker.bootstrap, unique_topic("cb-rdk-zstd"), 1)
    produce_sync(module_broker.bootstrap, topic, [(b"k%d" % i, b"v" * 50, None) for i in range(2000)],
                 partition=0, compression_codec="zstd")
    codecs = batch_codecs(partition_dirs(module_broker.data_dir, topic)[0])
    assert codecs and set(codecs) == {CODEC_IDS["zstd"]}
