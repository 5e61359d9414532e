"""gregor mirror between two brokers (two independent clusters): every record
arrives with its partition, key, value, headers and timestamp, in order and
without gaps, across a kill -9 of the mirror and a restart of the target
broker; duplicates come only from the kill window; target topics are
created like the source ones; later topics are picked up; --rename-prefix;
several producers (the default is 4) keep each partition's order; SIGTERM
exits 0 with everything committed."""

import os
import signal
import subprocess
import threading
import time

import pytest

from helpers import (confluent_headers, consume_range, create_topic, unique_topic, wait_until)
from test_20_cli_util import GREGOR, gregor, one_error_line

SOURCE_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


class Mirror:
    """bin/gregor mirror as a subprocess; stderr goes to a file (its reports)."""

    def __init__(self, tmp_path, name, source, target, regex, group, *extra):
        self.err_path = tmp_path / ("%s.stderr" % name)
        argv = [str(GREGOR), "mirror", "--source", source, "--target", target, "--topics", regex,
                "--group", group, "--report-interval", "1", "--commit-interval", "200",
                # A killed member holds its partitions until its session expires.
                "-X", "source.session.timeout.ms=6000"] + list(extra)
        self.errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errf,
                                     env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.errf.close()

    def term(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.errf.close()
        return rc

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
        if not self.errf.closed:
            self.errf.close()


@pytest.fixture
def mirrors():
    made = []
    yield made
    for m in made:
        m.cleanup()


def pin_port(b):
    """A restarted broker listens where it did, so the mirror finds it again."""
    b.overrides["listeners"] = "PLAINTEXT://127.0.0.1:%d" % b.port


def high_watermarks(bootstrap, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in partitions}
    finally:
        c.close()


def total_on(bootstrap, topic, partitions):
    try:
        return sum(high_watermarks(bootstrap, topic, partitions).values())
    except Exception:  # noqa: BLE001 - the topic may not exist yet, or the broker is restarting
        return 0


def committed(bootstrap, group, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def record(i, partitions):
    """Record i: keyed, with headers (one with a null value now and then),
    a null or empty value now and then, and a timestamp of its own."""
    value = None if i % 1000 == 0 else b"" if i % 1000 == 1 else b"value-%d-" % i + b"x" * (i % 97)
    headers = [("seq", b"%d" % i), ("n", None if i % 5 == 0 else b"h")]
    return dict(key=b"key-%d" % i, value=value, partition=i % partitions, timestamp=1600000000000 + i,
                headers=headers)


class SlowProducer(threading.Thread):
    """Produces records [start, end) to the source at about `rate`/s, so the
    mirror is busy when it is killed and when the target restarts."""

    def __init__(self, bootstrap, topic, start, end, partitions, rate):
        super().__init__(daemon=True)
        self.args = (bootstrap, topic, start, end, partitions, rate)
        self.error = None

    def run(self):
        from confluent_kafka import Producer
        bootstrap, topic, start, end, partitions, rate = self.args
        try:
            p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
            errors = []
            t0 = time.monotonic()
            for i in range(start, end):
                p.produce(topic, on_delivery=lambda err, m: err and errors.append(err), **record(i, partitions))
                if i % 1000 == 999:
                    p.poll(0)
                    ahead = (i - start + 1) / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            assert p.flush(60) == 0, "source records undelivered"
            assert not errors, errors[:3]
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def source_records(bootstrap, topic, partitions):
    return {p: [(m.key(), m.value(), confluent_headers(m), m.timestamp()[1]) for m in msgs]
            for p, msgs in consume_range(bootstrap, topic, partitions).items()}


def check_mirrored(src, dst, topic, dst_topic, partitions, resumed_at=None):
    """Every source record is on the target in its partition, in order, with
    key, value, headers and timestamp; a duplicate is only a re-sent run
    that starts at the offset the mirror resumed from (resumed_at[p], the
    committed offset at the kill), at most once per partition."""
    want = source_records(src.bootstrap, topic, partitions)
    got = consume_range(dst.bootstrap, dst_topic, partitions)
    dups = 0
    for p in partitions:
        index = {r[0]: off for off, r in enumerate(want[p])}
        nxt, rewinds = 0, []
        for m in got[p]:
            rec = (m.key(), m.value(), confluent_headers(m), m.timestamp()[1])
            off = index.get(rec[0])
            assert off is not None, "partition %d: a record the source does not have there: %r" % (p, rec[:2])
            assert rec == want[p][off], "partition %d offset %d differs: %r != %r" % (p, off, rec, want[p][off])
            if off != nxt:
                assert off < nxt, "partition %d: gap, source offsets %d..%d missing" % (p, nxt, off - 1)
                rewinds.append((nxt, off))
            nxt = off + 1
        assert nxt == len(want[p]), "partition %d: target ends at source offset %d of %d" % (p, nxt, len(want[p]))
        assert len(got[p]) - len(want[p]) == sum(at - to for at, to in rewinds)
        if resumed_at is None:
            assert not rewinds, "partition %d: duplicates without a kill: %r" % (p, rewinds)
        else:
            assert len(rewinds) <= 1, "partition %d: several re-sent runs %r" % (p, rewinds)
            for at, to in rewinds:
                assert to >= resumed_at[p], "partition %d: re-sent from %d, before the commit %d" % (
                    p, to, resumed_at[p])
        dups += len(got[p]) - len(want[p])
    return dups


def topic_configs(bootstrap, topic):
    from confluent_kafka.admin import AdminClient, ConfigResource
    a = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    cfg = a.describe_configs([res])[res].result(15)
    return {k: v.value for k, v in cfg.items()}


def test_mirror_kill9_and_target_restart(broker_factory, mirrors, tmp_path):
    src = broker_factory(SOURCE_OVERRIDES, name="source")
    dst = broker_factory(name="target")
    pin_port(dst)
    parts = range(4)
    topic = create_topic(src.bootstrap, unique_topic("mirror"), partitions=4,
                         config={"cleanup.policy": "delete", "retention.ms": "86400000",
                                 "retention.bytes": "1073741824", "max.message.bytes": "2000000"})
    group = unique_topic("mirror-g")
    n = 100000
    prod = SlowProducer(src.bootstrap, topic, 0, n, 4, rate=12000)
    prod.start()
    # The default --producers 4: each partition has a producer of its own,
    # so order across the kill and the restart rests on p % 4 routing.
    m1 = Mirror(tmp_path, "m1", src.bootstrap, dst.bootstrap, topic.replace("-", "[-]"), group)
    mirrors.append(m1)
    wait_until(lambda: total_on(dst.bootstrap, topic, parts) >= 20000 or not m1.alive(), 60,
               "20000 records on the target", interval=0.3)
    assert m1.alive(), m1.stderr()
    m1.kill9()
    resumed_at = committed(src.bootstrap, group, topic, parts)
    assert all(o >= 0 for o in resumed_at.values()), "nothing committed before the kill: %r\n%s" % (
        resumed_at, m1.stderr())
    on_target = total_on(dst.bootstrap, topic, parts)
    assert sum(resumed_at.values()) <= on_target

    m2 = Mirror(tmp_path, "m2", src.bootstrap, dst.bootstrap, topic.replace("-", "[-]"), group)
    mirrors.append(m2)
    wait_until(lambda: total_on(dst.bootstrap, topic, parts) >= on_target + 20000 or not m2.alive(), 60,
               "20000 more records on the target", interval=0.3)
    assert m2.alive(), m2.stderr()
    dst.restart()  # while the mirror is copying
    prod.join(120)
    assert not prod.is_alive() and prod.error is None, prod.error
    end = high_watermarks(src.bootstrap, topic, parts)
    assert sum(end.values()) == n
    wait_until(lambda: committed(src.bootstrap, group, topic, parts) == end or not m2.alive(), 120,
               "the mirror committing the source's end offsets", interval=0.3)
    assert m2.alive(), m2.stderr()
    assert m2.term() == 0, m2.stderr()
    assert committed(src.bootstrap, group, topic, parts) == end  # no lag left
    err = m2.stderr()
    assert "records mirrored" in err and "stopped:" in err, err

    dups = check_mirrored(src, dst, topic, topic, parts, resumed_at)
    print("committed at the kill %r, %d on the target then, %d duplicates" % (resumed_at, on_target, dups))
    print(m1.stderr() + m2.stderr())
    assert dups <= on_target - sum(resumed_at.values()), "more duplicates than the kill window held"

    from helpers import topic_partition_count
    assert topic_partition_count(dst.bootstrap, topic) == 4
    cfg = topic_configs(dst.bootstrap, topic)
    for k, v in {"cleanup.policy": "delete", "retention.ms": "86400000", "retention.bytes": "1073741824",
                 "max.message.bytes": "2000000"}.items():
        assert cfg[k] == v, "target %s=%s, want %s" % (k, cfg[k], v)
    assert "created topic %s on the target with 4 partitions" % topic in m1.stderr()


def test_mirror_rename_prefix_and_later_topics(broker_factory, mirrors, tmp_path):
    src = broker_factory(SOURCE_OVERRIDES, name="source")
    dst = broker_factory(name="target")
    base = unique_topic("app")
    first = create_topic(src.bootstrap, base + ".orders", partitions=3, config={"cleanup.policy": "compact"})
    other = create_topic(src.bootstrap, "other-" + base, partitions=1)
    from helpers import produce_sync
    produce_sync(src.bootstrap, first, [(b"k%d" % i, b"v%d" % i, [("h", b"%d" % i)]) for i in range(300)])
    produce_sync(src.bootstrap, other, [(b"k", b"v", [])])
    group = unique_topic("mirror-g")
    m = Mirror(tmp_path, "m", src.bootstrap, dst.bootstrap, base.replace("-", "[-]") + r"\..*", group,
               "--rename-prefix", "dr.")
    mirrors.append(m)
    wait_until(lambda: total_on(dst.bootstrap, "dr." + first, range(3)) == 300 or not m.alive(), 60,
               "dr.%s with 300 records" % first, interval=0.3)
    assert m.alive(), m.stderr()
    # A matching topic created later is found by the regex subscription.
    later = create_topic(src.bootstrap, base + ".payments", partitions=2, config={"retention.ms": "3600000"})
    produce_sync(src.bootstrap, later, [(b"p%d" % i, b"x%d" % i, []) for i in range(50)], partition=1)
    wait_until(lambda: total_on(dst.bootstrap, "dr." + later, range(2)) == 50 or not m.alive(), 60,
               "dr.%s with 50 records" % later, interval=0.3)
    assert m.term() == 0, m.stderr()
    check_mirrored(src, dst, first, "dr." + first, range(3))
    check_mirrored(src, dst, later, "dr." + later, range(2))
    assert topic_configs(dst.bootstrap, "dr." + first)["cleanup.policy"] == "compact"
    assert topic_configs(dst.bootstrap, "dr." + later)["retention.ms"] == "3600000"
    from confluent_kafka.admin import AdminClient
    names = AdminClient({"bootstrap.servers": dst.bootstrap}).list_topics(timeout=10).topics
    assert "dr." + other not in names and other not in names and first not in names
    # Partition 0 of the later topic is empty: nothing was delivered, so nothing is committed.
    assert committed(src.bootstrap, group, later, [1]) == {1: 50}


def test_mirror_several_producers_keep_order(broker_factory, mirrors, tmp_path):
    """--producers 3 over 6 partitions: each producer carries two partitions
    (p and p+3), their requests travel in parallel, and every partition
    still arrives complete and in order, without duplicates."""
    src = broker_factory(SOURCE_OVERRIDES, name="source")
    dst = broker_factory(name="target")
    parts = range(6)
    topic = create_topic(src.bootstrap, unique_topic("mirror-np"), partitions=6)
    n = 60000
    prod = SlowProducer(src.bootstrap, topic, 0, n // 2, 6, rate=10 ** 9)
    prod.run()  # half before the mirror starts: a backlog to copy at full speed
    assert prod.error is None, prod.error
    group = unique_topic("mirror-g")
    m = Mirror(tmp_path, "m", src.bootstrap, dst.bootstrap, topic.replace("-", "[-]"), group, "--producers", "3")
    mirrors.append(m)
    prod = SlowProducer(src.bootstrap, topic, n // 2, n, 6, rate=20000)
    prod.run()  # the other half while it copies
    assert prod.error is None, prod.error
    end = high_watermarks(src.bootstrap, topic, parts)
    assert sum(end.values()) == n
    wait_until(lambda: committed(src.bootstrap, group, topic, parts) == end or not m.alive(), 60,
               "the mirror committing the source's end offsets", interval=0.3)
    assert m.term() == 0, m.stderr()
    assert check_mirrored(src, dst, topic, topic, parts) == 0


def test_mirror_usage_and_unreachable(broker):
    p = gregor("mirror", "--target", broker.bootstrap, "--topics", "x", check=2)
    one_error_line(p, "gregor mirror: --source, --target and --topics are required")
    p = gregor("mirror", "--source", broker.bootstrap, "--target", broker.bootstrap, "--topics", "x",
               "-b", broker.bootstrap, check=2)
    one_error_line(p, "gregor mirror: -b/--brokers: give --source and --target instead")
    p = gregor("mirror", "--source", broker.bootstrap, "--target", broker.bootstrap, "--topics", "x",
               "--report-interval", "soon", check=2)
    one_error_line(p, "gregor mirror: --report-interval soon: expected a number")
    for bad in ("0", "17"):
        p = gregor("mirror", "--source", broker.bootstrap, "--target", broker.bootstrap, "--topics", "x",
                   "--producers", bad, check=2)
        assert p.stderr.startswith("gregor mirror: --producers %s" % bad), p.stderr
    p = gregor("mirror", "--source", "127.0.0.1:1", "--target", broker.bootstrap, "--topics", "x",
               "--timeout", "1000", check=1)
    one_error_line(p, "gregor mirror: cannot reach the broker(s) at 127.0.0.1:1")
    p = gregor("mirror", "--help", check=0)
    assert "--rename-prefix" in p.stdout and "examples:" in p.stdout
