"""gregor dump-log on segments written by a real broker: batches, records
(compressed too), index and time-index entries; --verify passes on the real
files and fails (exit 1, one line per problem) on corrupted copies."""

import json
import shutil
import struct

import pytest

from helpers import unique_topic
from test_20_cli_util import gregor

SEG = "00000000000000000000"


@pytest.fixture(scope="module")
def segment(module_broker, tmp_path_factory):
    """A partition written through the broker in several batches (plain and
    compressed, keys, headers), with small index intervals; the broker is
    stopped so the files are final. Returns the partition dir."""
    b = module_broker.bootstrap
    t = unique_topic("cli-dump")
    gregor("topic", "create", t, "-c", "index.interval.bytes=100", brokers=b, check=0)
    gregor("produce", t, "-K", ":", "-H", "h1=v1", input="k0:v0\nk1:v1\n", brokers=b, check=0)
    # zstd: librdkafka 2.0.2 sends gzip, snappy and lz4 uncompressed to a
    # broker whose ApiVersions start at Produce v3 (it infers those codecs
    # from v0-v2 support), so zstd is the codec that really reaches the log.
    for codec in ("none", "zstd", "zstd"):
        lines = "".join("key-%s-%d:value-%s-%d\n" % (codec, i, codec, i) for i in range(50))
        gregor("produce", t, "-K", ":", "-z", codec, input=lines, brokers=b, check=0)
    module_broker.stop()
    d = module_broker.partition_dir(t, 0)
    out = tmp_path_factory.mktemp("dump") / "p0"
    shutil.copytree(d, out)
    module_broker.start()
    return out


def dump_json(*args):
    p = gregor("dump-log", "--json", *args, check=0)
    return json.loads(p.stdout)


def test_batches_and_records(segment):
    log = segment / (SEG + ".log")
    [f] = dump_json("--records", log)
    assert f["type"] == "log" and f["base_offset"] == 0 and f["problems"] == 0
    batches = f["batches"]
    assert batches[0]["base_offset"] == 0 and batches[0]["position"] == 0
    codecs = {x["compresscodec"] for x in batches}
    assert codecs == {"none", "zstd"}, codecs
    # batches follow each other in the file and in offsets
    for prev, cur in zip(batches, batches[1:]):
        assert cur["position"] == prev["position"] + prev["size"]
        assert cur["base_offset"] == prev["last_offset"] + 1
    assert sum(x["size"] for x in batches) == log.stat().st_size
    assert all(x["is_valid"] and x["magic"] == 2 for x in batches)
    recs = [r for x in batches for r in x["records"]]
    assert [r["offset"] for r in recs] == list(range(152))
    assert recs[0]["key"] == "k0" and recs[0]["value"] == "v0"
    assert recs[0]["headers"] == [{"key": "h1", "value": "v1"}]
    assert recs[2]["key"] == "key-none-0" and recs[52]["key"] == "key-zstd-0"
    assert recs[-1]["key"] == "key-zstd-49" and recs[-1]["value"] == "value-zstd-49"

    text = gregor("dump-log", "--records", log, check=0).stdout.splitlines()
    assert text[0] == "Dumping %s" % log
    assert text[1] == "Log starting offset: 0"
    assert text[2].startswith("baseOffset: 0 lastOffset: 1 count: 2 ")
    for word in ("position: 0", "CreateTime: ", "magic: 2", "compresscodec: none", "isvalid: true"):
        assert word in text[2]
    assert text[3].startswith("| offset: 0 CreateTime: ")
    assert text[3].endswith("headers: [h1=v1] key: k0 payload: v0")
    assert any("compresscodec: zstd" in line for line in text)


def test_indexes(segment):
    index, timeindex = segment / (SEG + ".index"), segment / (SEG + ".timeindex")
    [log] = dump_json(segment / (SEG + ".log"))
    by_pos = {x["position"]: x for x in log["batches"]}
    [f] = dump_json(index)
    assert f["type"] == "index" and f["entries"], "index.interval.bytes=100 should give entries"
    for e in f["entries"]:
        b = by_pos[e["position"]]
        assert b["base_offset"] <= e["offset"] <= b["last_offset"]
    [f] = dump_json(timeindex)
    assert f["type"] == "timeindex" and f["entries"]
    text = gregor("dump-log", index, timeindex, check=0).stdout.splitlines()
    assert text[0] == "Dumping %s" % index
    assert text[1].startswith("offset: ") and " position: " in text[1]
    assert "Dumping %s" % timeindex in text


def test_verify_passes_on_real_files(segment):
    files = [segment / (SEG + ext) for ext in (".log", ".index", ".timeindex")]
    p = gregor("dump-log", "--verify", "-q", *files, check=0)
    assert p.stderr == ""
    assert "CRCs and offsets ok" in p.stdout
    assert p.stdout.count("consistent with the .log") == 2


def corrupt_copy(segment, tmp_path, ext, mutate):
    d = tmp_path / "bad"
    shutil.copytree(segment, d)
    path = d / (SEG + ext)
    data = bytearray(path.read_bytes())
    mutate(data)
    path.write_bytes(bytes(data))
    return path


def test_verify_fails_on_flipped_byte(segment, tmp_path):
    def flip(data):
        data[80] ^= 0x55  # inside the first batch's records
    path = corrupt_copy(segment, tmp_path, ".log", flip)
    p = gregor("dump-log", "--verify", "-q", path, check=1)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "position 0" in lines[0] and "CRC mismatch" in lines[0], p.stderr
    # without --verify it is reported but not an error
    p = gregor("dump-log", path, check=0)
    assert "isvalid: false" in p.stdout and "CRC mismatch" in p.stderr


def test_verify_fails_on_truncation_and_offset_gap(segment, tmp_path):
    path = corrupt_copy(segment, tmp_path, ".log", lambda data: data.__delitem__(slice(len(data) - 10, None)))
    p = gregor("dump-log", "--verify", "-q", path, check=1)
    assert "truncated batch" in p.stderr

    def gap(data):
        # move the second batch's base offset forward (the CRC does not cover it)
        size0 = 12 + struct.unpack(">i", data[8:12])[0]
        base = struct.unpack(">q", data[size0:size0 + 8])[0]
        data[size0:size0 + 8] = struct.pack(">q", base + 5)
    path = corrupt_copy(segment, tmp_path / "g", ".log", gap)
    p = gregor("dump-log", "--verify", "-q", path, check=1)
    assert "are missing" in p.stderr, p.stderr


def test_verify_fails_on_bad_index_entry(segment, tmp_path):
    def shift(data):
        pos = struct.unpack(">I", data[4:8])[0]
        data[4:8] = struct.pack(">I", pos + 1)  # no batch starts there
    path = corrupt_copy(segment, tmp_path, ".index", shift)
    p = gregor("dump-log", "--verify", "-q", path, check=1)
    assert "is in the batch at position" in p.stderr, p.stderr

    def late(data):
        data[8:12] = struct.pack(">I", 10 ** 6)  # an offset in no batch
    path = corrupt_copy(segment, tmp_path / "t", ".timeindex", late)
    p = gregor("dump-log", "--verify", "-q", path, check=1)
    assert "is in no batch of the .log" in p.stderr, p.stderr


def test_bad_files(tmp_path):
    p = gregor("dump-log", tmp_path / "nothere.log", check=1)
    assert p.stderr.startswith("gregor dump-log: cannot open ")
    other = tmp_path / "x.txt"
    other.write_text("hi")
    p = gregor("dump-log", other, check=1)
    assert "not a .log, .index or .timeindex file" in p.stderr
    gregor("dump-log", check=2)
