"""__consumer_offsets is compacted: after the cleaner ran, below its
checkpoint there is at most one record per (group, topic, partition) and it
is the latest commit; after a restart OffsetFetch still returns the latest
commits (kafka-python and confluent-kafka).

Commits come from raw OffsetCommit frames (standalone groups), from
kafka-python (a standalone consumer) and from confluent-kafka (a subscribed
group, so group metadata records are written and compacted too)."""

import struct

from helpers import RawConn, Reader, Writer, create_topic, produce_sync, unique_topic, wait_until

OFFSETS = "__consumer_offsets"
OFFSET_COMMIT = 8
NPART = 3           # offsets.topic.num.partitions
OVERRIDES = {
    "offsets.topic.num.partitions": str(NPART),
    "offsets.topic.segment.bytes": "16384",
    "log.cleaner.backoff.ms": "100",
    # The topic's min.cleanable.dirty.ratio is the broker default.
    "log.cleaner.min.cleanable.ratio": "0.01",
    "group.initial.rebalance.delay.ms": "0",
}


def raw_commit(rc, group, topic, offsets, generation=-1, member=""):
    """OffsetCommit v2: {partition: offset}; returns {partition: error}."""
    w = Writer().string(group).i32(generation).string(member).i64(-1)
    items = sorted(offsets.items())
    w.array([0], lambda w, _: w.string(topic).array(items, lambda w, po: w.i32(po[0]).i64(po[1]).string("")))
    r = rc.request(OFFSET_COMMIT, 2, w.bytes())
    [(_, parts)] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
    return dict(parts)


def java_hash(s):
    h = 0
    for unit in struct.unpack("<%dH" % (len(s.encode("utf-16-le")) // 2), s.encode("utf-16-le")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % NPART


def decode_key(k):
    r = Reader(k)
    version = r.i16()
    if version in (0, 1):
        return ("offset", r.string(), r.string(), r.i32())
    if version == 2:
        return ("group", r.string())
    raise AssertionError("unknown key version %d" % version)


def decode_commit_value(v):
    r = Reader(v)
    version = r.i16()
    offset = r.i64()
    if version == 3:
        r.i32()  # leader epoch
    metadata = r.string()
    return offset, metadata


def read_offsets_topic(bs):
    """Every record of every __consumer_offsets partition: {p: [(offset, key, value)]}."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bs, "group.id": "raw-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    out = {}
    try:
        for p in range(NPART):
            lo, hi = c.get_watermark_offsets(TopicPartition(OFFSETS, p), timeout=10)
            out[p] = []
            if hi <= lo:
                continue
            c.assign([TopicPartition(OFFSETS, p, OFFSET_BEGINNING)])
            done = [False]

            def poll():
                for m in c.consume(500, 0.2):
                    if m.error():
                        if m.error().code() == -191:  # _PARTITION_EOF
                            done[0] = True
                        continue
                    out[p].append((m.offset(), m.key(), m.value()))
                return done[0] or (out[p] and out[p][-1][0] >= hi - 1)

            wait_until(poll, 30, "reading %s-%d to its end" % (OFFSETS, p))
            c.unassign()
    finally:
        c.close()
    return out


def cleaner_checkpoint(data_dir):
    path = data_dir / "cleaner-offset-checkpoint"
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    got = {}
    for line in lines[2:]:
        topic, part, off = line.split()
        if topic == OFFSETS:
            got[int(part)] = int(off)
    return got


def active_segment_base(data_dir, p):
    bases = [int(f.name.split(".")[0]) for f in (data_dir / ("%s-%d" % (OFFSETS, p))).glob("*.log")]
    return max(bases) if bases else 0


def test_offsets_topic_shrinks_to_latest_commits(broker_factory):
    b = broker_factory(OVERRIDES)
    bs = b.bootstrap
    topic = create_topic(bs, unique_topic("cmp"), partitions=4)
    filler = create_topic(bs, unique_topic("fill"), partitions=1)
    for p in range(4):
        produce_sync(bs, topic, [(b"k", b"v%d" % i, None) for i in range(5)], partition=p)

    raw_groups = [unique_topic("raw") for _ in range(3)]
    latest = {}  # (group, topic, partition) -> offset
    rounds = 150
    with RawConn(bs) as rc:
        for i in range(rounds):
            for g in raw_groups:
                offs = {p: 1000 * p + i for p in range(4)}
                assert raw_commit(rc, g, topic, offs) == {p: 0 for p in range(4)}
                for p, o in offs.items():
                    latest[(g, topic, p)] = o

    # kafka-python: a standalone consumer committing in a loop.
    from kafka import KafkaConsumer, TopicPartition as KTP, OffsetAndMetadata
    kp_group = unique_topic("kp")
    kc = KafkaConsumer(bootstrap_servers=bs, group_id=kp_group, enable_auto_commit=False, api_version=(2, 5, 0))
    for i in range(60):
        kc.commit({KTP(topic, 0): OffsetAndMetadata(i, "kp"), KTP(topic, 1): OffsetAndMetadata(2 * i, "kp")})
    kc.close()
    latest[(kp_group, topic, 0)] = 59
    latest[(kp_group, topic, 1)] = 118

    # confluent-kafka: a subscribed member committing in a loop (group
    # metadata records too).
    from confluent_kafka import Consumer, TopicPartition
    ck_group = unique_topic("ck")
    c = Consumer({"bootstrap.servers": bs, "group.id": ck_group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    wait_until(lambda: (c.poll(0.2), len(c.assignment()) == 4)[1], 30, "the confluent consumer's assignment")
    for i in range(60):
        c.commit(offsets=[TopicPartition(topic, p, 3 * i + p) for p in range(4)], asynchronous=False)
    c.close()
    for p in range(4):
        latest[(ck_group, topic, p)] = 3 * 59 + p
    groups = raw_groups + [kp_group, ck_group]

    # Push every group's last commits out of the active segment, so that
    # the cleaner can reach them: commits of another topic, same groups.
    with RawConn(bs) as rc:
        for i in range(250):
            for g in groups:
                assert raw_commit(rc, g, filler, {0: i}) == {0: 0}
    used = sorted({partition_for(g) for g in groups})

    # Bounded polling: until the cleaner's checkpoint reached the active
    # segment of every partition the groups use.
    def cleaned():
        cp = cleaner_checkpoint(b.data_dir)
        return all(cp.get(p, -1) >= active_segment_base(b.data_dir, p) > 0 for p in used)
    wait_until(cleaned, 60, "the cleaner to clean %s up to its active segments" % OFFSETS, interval=0.2)
    cp = cleaner_checkpoint(b.data_dir)

    records = read_offsets_topic(bs)
    total_written = rounds * 3 * 4 + 60 * 2 + 60 * 4 + 250 * len(groups)
    assert sum(len(v) for v in records.values()) < total_written / 2, "the topic did not shrink"
    for p in used:
        below = {}
        last = {}
        for off, k, v in records[p]:
            key = decode_key(k)
            last[key] = (off, v)
            if off < cp[p]:
                below.setdefault(key, []).append((off, v))
        for key, recs in below.items():
            assert len(recs) == 1, "%s-%d: %d records below the checkpoint %d for %r" % (
                OFFSETS, p, len(recs), cp[p], key)
            # ... and, when the key's latest record is cleanable too, it is
            # that one (a newer one still in the active segment was not in
            # the cleaner's map: Kafka keeps the older one then as well).
            if last[key][0] < cp[p]:
                assert recs[0][0] == last[key][0], (key, recs, last[key][0])
        for (g, t, part), o in latest.items():
            if partition_for(g) != p:
                continue
            key = ("offset", g, t, part)
            assert key in below, "%r: its latest commit is not below the checkpoint" % (key,)
            assert below[key][0][1] is not None
            assert decode_commit_value(below[key][0][1])[0] == o, key

    # A restart rebuilds the latest commits from the compacted topic.
    b.restart()
    bs = b.bootstrap
    kc = KafkaConsumer(bootstrap_servers=bs, enable_auto_commit=False, api_version=(2, 5, 0))
    for g in groups:
        kc2 = KafkaConsumer(bootstrap_servers=bs, group_id=g, enable_auto_commit=False, api_version=(2, 5, 0))
        for (gg, t, part), o in latest.items():
            if gg == g:
                assert kc2.committed(KTP(t, part)) == o, (g, t, part)
        kc2.close()
    kc.close()
    for g in groups:
        cc = Consumer({"bootstrap.servers": bs, "group.id": g, "enable.auto.commit": False})
        parts = [TopicPartition(t, part) for (gg, t, part) in latest if gg == g]
        got = {(tp.topic, tp.partition): tp.offset for tp in cc.committed(parts, timeout=10)}
        cc.close()
        for (gg, t, part), o in latest.items():
            if gg == g:
                assert got[(t, part)] == o, (g, t, part, got)
