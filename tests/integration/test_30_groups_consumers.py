"""Consumer groups with real clients: partitions split among members,
rebalances on join / clean leave / kill -9 (session timeout), commits
surviving a broker restart, static membership, admin APIs."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers import create_topic, produce_sync, unique_topic, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "test_30_groups_worker.py")
FAST = {"group.initial.rebalance.delay.ms": "0"}


class Events:
    """Lines from every worker, in the order the test saw them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.lines = []

    def add(self, who, line):
        with self.lock:
            self.lines.append((who, line))

    def snapshot(self):
        with self.lock:
            return list(self.lines)


class Worker:
    def __init__(self, events, name, bootstrap, topic, group, client="confluent", **conf):
        args = [sys.executable, WORKER, bootstrap, topic, group, client]
        args += ["%s=%s" % (k.replace("_", "."), v) for k, v in conf.items()]
        self.name = name
        self.events = events
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.add(self.name, line.strip())

    def lines(self, prefix):
        return [l for w, l in self.events.snapshot() if w == self.name and l.startswith(prefix)]

    def assignment(self):
        a = self.lines("A")
        return set(int(x) for x in a[-1].split()[1:]) if a else None

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        self.thread.join(5)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.thread.join(5)


def delivered(events):
    """{partition: set(offsets)} delivered to anyone."""
    got = {}
    for _, l in events.snapshot():
        if l.startswith("M "):
            _, p, o = l.split()
            got.setdefault(int(p), set()).add(int(o))
    return got


def check_no_skip_no_early_redelivery(events, ends):
    got = delivered(events)
    for p, end in ends.items():
        missing = set(range(end)) - got.get(p, set())
        assert not missing, "partition %d: offsets never delivered: %s" % (p, sorted(missing)[:20])
    # A record whose commit was acknowledged is never delivered again.
    committed = {}
    for who, l in events.snapshot():
        kind, rest = l[:2], l[2:]
        if kind == "C ":
            p, o = map(int, rest.split())
            committed[p] = max(committed.get(p, -1), o)
        elif kind == "M ":
            p, o = map(int, rest.split())
            assert o > committed.get(p, -1), \
                "partition %d offset %d redelivered (to %s) after offset %d was committed" % (p, o, who,
                                                                                            committed[p])


def produce_spread(bootstrap, topic, n, partitions=8, start=0):
    recs = [(b"k%d" % i, b"v%d" % i, None) for i in range(start, start + n)]
    for p in range(partitions):
        produce_sync(bootstrap, topic, recs[p::partitions], partition=p)


def ends_of(bootstrap, topic, partitions=8):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    finally:
        c.close()


def all_delivered(events, ends):
    got = delivered(events)
    return all(set(range(e)) <= got.get(p, set()) for p, e in ends.items())


def split_ok(workers, n=8):
    """Every live worker has some partitions and together exactly all."""
    parts = [w.assignment() for w in workers]
    if any(not a for a in parts):
        return False
    allp = [p for a in parts for p in a]
    return sorted(allp) == list(range(n))


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_group_split_join_leave_kill(broker_factory, assignor):
    b = broker_factory(FAST)
    topic = create_topic(b.bootstrap, unique_topic("grp"), partitions=8)
    group = unique_topic("g")
    ev = Events()
    produce_spread(b.bootstrap, topic, 400)
    conf = {"partition.assignment.strategy": assignor}
    w1 = Worker(ev, "w1", b.bootstrap, topic, group, **conf)
    w2 = Worker(ev, "w2", b.bootstrap, topic, group, **conf)
    workers = [w1, w2]
    try:
        wait_until(lambda: split_ok([w1, w2]), 60, "two consumers splitting 8 partitions")
        wait_until(lambda: all_delivered(ev, ends_of(b.bootstrap, topic)), 60, "first 400 records consumed")
        # A third joins: three-way split.
        w3 = Worker(ev, "w3", b.bootstrap, topic, group, **conf)
        workers.append(w3)
        wait_until(lambda: split_ok([w1, w2, w3]), 60, "three consumers splitting 8 partitions")
        produce_spread(b.bootstrap, topic, 200, start=400)
        # One leaves cleanly, one is killed: the survivor ends up with all.
        w2.stop()
        wait_until(lambda: split_ok([w1, w3]), 60, "two consumers after a clean leave")
        produce_spread(b.bootstrap, topic, 200, start=600)
        mark = b.log_size()
        w3.kill9()
        b.wait_for_log(r"session timeout expired", since=mark, timeout=30, what="session expiry of the killed member")
        wait_until(lambda: w1.assignment() == set(range(8)), 60, "the survivor owning all 8 partitions")
        produce_spread(b.bootstrap, topic, 200, start=800)
        ends = ends_of(b.bootstrap, topic)
        assert sum(ends.values()) == 1000
        wait_until(lambda: all_delivered(ev, ends), 60, "all 1000 records consumed")
        check_no_skip_no_early_redelivery(ev, ends)
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill9()


def test_group_kafka_python_split(broker_factory):
    b = broker_factory(FAST)
    topic = create_topic(b.bootstrap, unique_topic("grpkp"), partitions=8)
    group = unique_topic("g")
    ev = Events()
    ws = [Worker(ev, "k%d" % i, b.bootstrap, topic, group, client="kafka-python") for i in range(2)]
    try:
        # Records only once both are in, so both get some.
        b.wait_for_log(r"group %s: generation \d+ with 2 members" % group, timeout=60, what="two members")
        produce_spread(b.bootstrap, topic, 400)
        ends = ends_of(b.bootstrap, topic)
        wait_until(lambda: all_delivered(ev, ends), 90, "kafka-python consumers reading all records")
        ws[0].stop()
        produce_spread(b.bootstrap, topic, 160, start=400)
        ends = ends_of(b.bootstrap, topic)
        wait_until(lambda: all_delivered(ev, ends), 90, "the remaining kafka-python consumer taking over")
        check_no_skip_no_early_redelivery(ev, ends)
        got = {}
        for w, l in ev.snapshot():
            if l.startswith("M "):
                got.setdefault(w, set()).add(int(l.split()[1]))
        assert len(got) == 2, "both kafka-python members consumed: %r" % got
    finally:
        for w in ws:
            if w.proc.poll() is None:
                w.kill9()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_commit_restart_resume(broker_factory, client):
    b = broker_factory(FAST)
    topic = create_topic(b.bootstrap, unique_topic("resume"), partitions=2)
    group = unique_topic("g")
    produce_spread(b.bootstrap, topic, 100, partitions=2)
    commit_at = {0: 17, 1: 33}
    if client == "confluent":
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
        c.commit(offsets=[TopicPartition(topic, p, o) for p, o in commit_at.items()], asynchronous=False)
        c.close()
    else:
        from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
        c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, enable_auto_commit=False,
                          api_version=(2, 5, 0))
        c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in commit_at.items()})
        c.close()
    b.restart()
    ev = Events()
    w = Worker(ev, "r", b.bootstrap, topic, group, client=client)
    try:
        wait_until(lambda: all(any(l == "M %d %d" % (p, o) for _, l in ev.snapshot()) for p, o in commit_at.items()),
                   60, "consumption resuming at the committed offsets")
        first = {}
        for _, l in ev.snapshot():
            if l.startswith("M "):
                p, o = map(int, l.split()[1:])
                first.setdefault(p, o)
        assert first == commit_at
    finally:
        w.kill9()


def test_static_member_restart_without_rebalance(broker_factory):
    b = broker_factory(FAST)
    topic = create_topic(b.bootstrap, unique_topic("static"), partitions=8)
    group = unique_topic("g")
    ev = Events()
    conf = {"group.instance.id": "inst-a", "session.timeout.ms": 30000}
    wa = Worker(ev, "a", b.bootstrap, topic, group, **conf)
    wb = Worker(ev, "b", b.bootstrap, topic, group, **{"group.instance.id": "inst-b", "session.timeout.ms": 30000})
    try:
        wait_until(lambda: split_ok([wa, wb]), 60, "two static members splitting 8 partitions")
        before = wb.assignment()
        revokes = len(wb.lines("R"))
        mark = b.log_size()
        wa.stop()          # static members send no LeaveGroup
        wa = Worker(ev, "a2", b.bootstrap, topic, group, **conf)
        b.wait_for_log(r"static member inst-a rejoined", since=mark, timeout=30, what="the static rejoin")
        wait_until(lambda: wa.assignment(), 30, "the restarted static member getting its partitions")
        assert wa.assignment() | before == set(range(8))
        log = b.log_since(mark)
        assert "preparing to rebalance" not in log, log
        assert len(wb.lines("R")) == revokes, "the other member saw a revoke: %r" % wb.lines("R")
        assert wb.assignment() == before
    finally:
        wa.kill9()
        wb.kill9()


def test_initial_rebalance_delay_honoured(broker_factory):
    b = broker_factory({"group.initial.rebalance.delay.ms": "2000"})
    topic = create_topic(b.bootstrap, unique_topic("delay"), partitions=2)
    ev = Events()
    t0 = time.monotonic()
    w = Worker(ev, "d", b.bootstrap, topic, unique_topic("g"))
    try:
        wait_until(lambda: w.assignment(), 30, "the first assignment")
        assert time.monotonic() - t0 >= 2.0
    finally:
        w.kill9()
