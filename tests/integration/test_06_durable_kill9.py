"""Durable mode (log.flush.interval.messages=1): a producer (acks=all) runs
flat out in a subprocess and records every acknowledged record; the broker is
killed with SIGKILL midway and restarted. Every acknowledged record must be
read back exactly, everything served must be valid, and every batch on disk
must pass framing/magic/CRC32C/offset checks."""

import os
import subprocess
import sys

from helpers import (consume_range, consumer, create_topic, partition_dirs, unique_topic,
                     validate_partition_dir, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from durable_producer import value_for  # noqa: E402

PARTITIONS = 3
ACKED_BEFORE_KILL = 10000


def read_acked(path):
    out = []
    data = path.read_bytes() if path.exists() else b""
    for line in data.split(b"\n"):
        parts = line.split(b" ")
        if len(parts) == 3:
            out.append((int(parts[0]), int(parts[1]), parts[2]))
    return out


def count_acked(path):
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_kill9_keeps_every_acknowledged_record(broker_factory, tmp_path):
    b = broker_factory({"log.flush.interval.messages": "1"}, name="durable")
    topic = create_topic(b.bootstrap, unique_topic("durable"), PARTITIONS)
    acked_path = tmp_path / "acked.txt"
    prod_log = open(tmp_path / "producer.log", "wb")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "durable_producer.py"),
                             b.bootstrap, topic, str(acked_path)],
                            stdout=prod_log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is None and count_acked(acked_path) >= ACKED_BEFORE_KILL
                   or proc.poll() is not None, 90,
                   "%d acknowledged records" % ACKED_BEFORE_KILL)
        assert proc.poll() is None, "producer exited early (%s): %s" % (
            proc.returncode, (tmp_path / "producer.log").read_text()[-3000:])
        b.kill9()
    finally:
        proc.kill()
        proc.wait(10)
        prod_log.close()

    acked = read_acked(acked_path)
    assert len(acked) >= ACKED_BEFORE_KILL

    b.start()  # recovery after the unclean stop
    from confluent_kafka import TopicPartition
    c = consumer(b.bootstrap)
    try:
        hw = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(PARTITIONS)}
    finally:
        c.close()
    for p, (lo, hi) in hw.items():
        assert lo == 0, "partition %d log start %d after recovery" % (p, lo)

    got = consume_range(b.bootstrap, topic, list(range(PARTITIONS)), 0,
                        end={p: hw[p][1] for p in hw}, check_crcs=True)
    stored = {}
    for p, msgs in got.items():
        assert [m.offset() for m in msgs] == list(range(hw[p][1])), "partition %d: offsets not contiguous" % p
        for m in msgs:
            assert m.value() == value_for(m.key()), "p%d@%d: value does not match its key %r" % (
                p, m.offset(), m.key())
            stored[(p, m.offset())] = m.key()

    lost = [(p, o, k) for p, o, k in acked if stored.get((p, o)) != k]
    assert not lost, "%d of %d acknowledged records missing or changed after kill -9, e.g. %r (stored: %r)" % (
        len(lost), len(acked), lost[:5], [stored.get((p, o)) for p, o, _ in lost[:5]])

    # The log keeps working after recovery.
    from helpers import produce_sync
    rep = produce_sync(b.bootstrap, topic, [(b"after-recovery", b"x", [])], partition=0, acks="all")
    assert rep == [(0, hw[0][1])]

    b.stop()
    dirs = partition_dirs(b.data_dir, topic)
    assert sorted(dirs) == list(range(PARTITIONS))
    for p, d in dirs.items():
        batches, next_off = validate_partition_dir(d)
        assert batches > 0 or hw[p][1] == 0, "partition %d: no batches on disk" % p
        want = hw[p][1] + (1 if p == 0 else 0)
        assert next_off == want or (want == 0 and next_off is None), \
            "partition %d: on-disk log ends at %r, high watermark was %d" % (p, next_off, want)
