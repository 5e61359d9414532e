"""What an operator meets first: the README's API table is what the broker
serves, bad configuration stops startup with a message naming the key, and
message.timestamp.type=LogAppendTime stamps the broker's clock."""
import re
import subprocess
import time
from pathlib import Path

from conftest import GREGORD
from helpers import consume_range, create_topic, produce_sync, raw_api_versions, unique_topic

ROOT = Path(__file__).resolve().parents[2]


def test_readme_api_table_is_what_the_broker_serves(module_broker):
    printed = subprocess.run([str(GREGORD), "--print-apis"], check=True, capture_output=True, text=True).stdout
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- apis:begin -->\n(.*?)<!-- apis:end -->", readme, re.S)
    assert table, "README.md has no apis:begin/apis:end section"
    assert table.group(1) == printed, "README's API table is stale: paste `bin/gregord --print-apis`"
    # ... and the running broker advertises exactly those rows.
    rows = {int(m.group(1)): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^\| (\d+) \| \w+ \| (\d+)-(\d+) \|", printed, re.M)}
    advertised = raw_api_versions(module_broker.bootstrap)
    assert advertised == rows


def _start_fails(tmp_path, *args):
    r = subprocess.run([str(GREGORD), "--override", "log.dirs=%s" % tmp_path,
                        "--override", "listeners=PLAINTEXT://127.0.0.1:0", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    return r.stderr


def test_unknown_key_stops_startup(tmp_path):
    err = _start_fails(tmp_path, "--override", "log.segment.bytez=100")
    assert "log.segment.bytez" in err


def test_bad_value_stops_startup(tmp_path):
    err = _start_fails(tmp_path, "--override", "num.partitions=lots")
    assert "num.partitions" in err


def test_bad_value_in_properties_file_stops_startup(tmp_path):
    props = tmp_path / "server.properties"
    props.write_text("# a Kafka-style file\nnum.partitions=3\nlog.retention.hours = never\n")
    err = _start_fails(tmp_path / "d", str(props))
    assert "log.retention.hours" in err


def test_properties_file_with_override_winning(tmp_path):
    props = tmp_path / "server.properties"
    props.write_text("num.partitions=3\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\n" % (tmp_path / "d"))
    log = open(tmp_path / "broker.log", "w+")
    proc = subprocess.Popen([str(GREGORD), str(props), "--override", "num.partitions=2"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        from helpers import topic_partition_count, wait_until
        from conftest import READY_RE
        port = wait_until(lambda: READY_RE.search(open(tmp_path / "broker.log").read()), 10,
                          "the broker to listen").group(2)
        bootstrap = "127.0.0.1:%s" % port
        produce_sync(bootstrap, "auto-np", [(b"k", b"v", None)])
        assert topic_partition_count(bootstrap, "auto-np") == 2
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def test_log_append_time_stamps_broker_clock(module_broker):
    topic = create_topic(module_broker.bootstrap, unique_topic("lat"), 1,
                         {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    old = 1_000_000_000_000  # 2001: far from now, so the stamp is visible
    p_reports = produce_sync(module_broker.bootstrap, topic,
                             [(b"k%d" % i, b"v", None) for i in range(10)], partition=0,
                             **{"message.timeout.ms": 20000})
    assert [o for _, o in p_reports] == list(range(10))
    after = int(time.time() * 1000)
    from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME
    msgs = consume_range(module_broker.bootstrap, topic, [0])[0]
    assert len(msgs) == 10
    for m in msgs:
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME
        assert before - 1000 <= ts <= after + 1000 and ts != old


def test_create_time_is_kept(module_broker):
    topic = create_topic(module_broker.bootstrap, unique_topic("ct"), 1)
    from confluent_kafka import Producer, TIMESTAMP_CREATE_TIME
    p = Producer({"bootstrap.servers": module_broker.bootstrap})
    p.produce(topic, key=b"k", value=b"v", partition=0, timestamp=1_000_000_000_123)
    assert p.flush(20) == 0
    [m] = consume_range(module_broker.bootstrap, topic, [0])[0]
    assert m.timestamp() == (TIMESTAMP_CREATE_TIME, 1_000_000_000_123)
