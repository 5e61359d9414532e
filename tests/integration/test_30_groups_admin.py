"""Consumer-group administration through both clients' admin APIs (list,
describe, offsets, delete, offset reset), and Kafka's error codes for bad
group requests sent as raw frames."""

from helpers import RawConn, Writer, create_topic, produce_sync, unique_topic, wait_until

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, SYNC_GROUP = 10, 11, 12, 14
OFFSET_COMMIT, OFFSET_FETCH, DELETE_GROUPS, OFFSET_DELETE = 8, 9, 42, 47


def kp_admin(bootstrap):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, api_version=(2, 5, 0))


def subscribed_consumer(bootstrap, topic, group, n_records):
    """A confluent consumer that joined, consumed n_records and committed."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "client.id": "admin-it"})
    c.subscribe([topic])
    got = []
    wait_until(lambda: (got.extend(m for m in c.consume(100, 0.2) if m.error() is None), len(got) >= n_records)[1],
               30, "consumer reading %d records" % n_records)
    c.commit(asynchronous=False)
    return c


def test_list_describe_offsets_delete(module_broker):
    bs = module_broker.bootstrap
    topic = create_topic(bs, unique_topic("adm"), partitions=3)
    produce_sync(bs, topic, [(b"k", b"v%d" % i, None) for i in range(30)])
    group = unique_topic("g")
    c = subscribed_consumer(bs, topic, group, 30)
    try:
        admin = kp_admin(bs)
        # kafka-python: list, describe, offsets.
        wait_until(lambda: (group, "consumer") in admin.list_consumer_groups(), 10, "the group in ListGroups")
        [d] = admin.describe_consumer_groups([group])
        assert d.group == group and d.state == "Stable" and d.protocol_type == "consumer"
        assert d.protocol == "range"
        assert len(d.members) == 1
        m = d.members[0]
        assert m.client_id == "admin-it" and m.client_host.startswith("/127.0.0.1")
        assert sorted(m.member_assignment.assignment[0][1]) == [0, 1, 2]
        offs = admin.list_consumer_group_offsets(group)
        assert sum(o.offset for o in offs.values()) == 30
        # confluent_kafka 1.7: list_groups (ListGroups + DescribeGroups).
        from confluent_kafka.admin import AdminClient
        ca = AdminClient({"bootstrap.servers": bs})
        [g] = ca.list_groups(group, timeout=10)
        assert g.state == "Stable" and g.protocol == "range" and len(g.members) == 1
        assert g.members[0].assignment  # the raw assignment bytes
        # A group with members cannot be deleted.
        res = dict(admin.delete_consumer_groups([group]))
        assert res[group].__name__ == "NonEmptyGroupError", res
    finally:
        c.close()
    wait_until(lambda: admin.describe_consumer_groups([group])[0].state == "Empty", 10, "the group empty")
    res = dict(admin.delete_consumer_groups([group]))
    assert res[group].__name__ == "NoError", res
    assert (group, "consumer") not in admin.list_consumer_groups()
    assert admin.list_consumer_group_offsets(group) == {}
    res = dict(admin.delete_consumer_groups([group]))
    assert res[group].__name__ == "GroupIdNotFoundError", res
    admin.close()


def test_reset_offsets_of_empty_group(module_broker):
    """Resetting offsets = OffsetCommit with generation -1 on an Empty group;
    the next consumer starts there."""
    bs = module_broker.bootstrap
    topic = create_topic(bs, unique_topic("reset"), partitions=1)
    produce_sync(bs, topic, [(None, b"v%d" % i, None) for i in range(20)])
    group = unique_topic("g")
    subscribed_consumer(bs, topic, group, 20).close()
    from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
    kc = KafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False, api_version=(2, 5, 0))
    kc.commit({TopicPartition(topic, 0): OffsetAndMetadata(5, "reset")})
    assert kc.committed(TopicPartition(topic, 0)) == 5
    kc.close()
    admin = kp_admin(bs)
    offs = admin.list_consumer_group_offsets(group)
    assert offs[TopicPartition(topic, 0)].offset == 5 and offs[TopicPartition(topic, 0)].metadata == "reset"
    admin.close()
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bs, "group.id": group, "auto.offset.reset": "error"})
    c.subscribe([topic])
    first = wait_until(lambda: next((m for m in c.consume(10, 0.2) if m.error() is None), None), 30,
                       "a record after the reset")
    assert first.offset() == 5
    c.close()


# --- raw frames: error codes ---


def join_v5_body(group, member="", session_ms=10000, protocols=(("range", b"\x00\x01"),), ptype="consumer"):
    w = Writer().string(group).i32(session_ms).i32(30000).string(member).string(None).string(ptype)
    w.array(list(protocols), lambda w, p: w.string(p[0]).bytes_(p[1]))
    return w.bytes()


def test_group_error_codes(module_broker):
    bs = module_broker.bootstrap
    topic = create_topic(bs, unique_topic("err"), partitions=1)
    with RawConn(bs) as rc:
        # FindCoordinator v1 for a transaction: not yet.
        r = rc.request(FIND_COORDINATOR, 1, Writer().string("tx").i8(1).bytes())
        r.i32()
        assert r.i16() == 15
        # JoinGroup v5: empty group id, bad session timeout, no protocols.
        r = rc.request(JOIN_GROUP, 5, join_v5_body(""))
        r.i32()
        assert r.i16() == 24
        r = rc.request(JOIN_GROUP, 5, join_v5_body("g-err", session_ms=10))
        r.i32()
        assert r.i16() == 26
        r = rc.request(JOIN_GROUP, 5, join_v5_body("g-err", protocols=()))
        r.i32()
        assert r.i16() == 23
        # v4+: a member id is required first (KIP-394).
        r = rc.request(JOIN_GROUP, 5, join_v5_body("g-err"))
        r.i32()
        assert r.i16() == 79
        # Heartbeat v1 from an unknown member / group.
        r = rc.request(HEARTBEAT, 1, Writer().string("g-none").i32(1).string("m").bytes())
        r.i32()
        assert r.i16() == 25
        # OffsetCommit v2: unknown topic, too much metadata, stale generation.
        w = Writer().string("g-sa").i32(-1).string("").i64(-1)
        w.array([0], lambda w, _: w.string("no-such-topic").array([0], lambda w, p: w.i32(0).i64(3).string("")))
        r = rc.request(OFFSET_COMMIT, 2, w.bytes())
        [(_, [(_, code)])] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        assert code == 3
        w = Writer().string("g-sa").i32(-1).string("").i64(-1)
        w.array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(0).i64(3).string("x" * 4097)))
        r = rc.request(OFFSET_COMMIT, 2, w.bytes())
        [(_, [(_, code)])] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        assert code == 12
        w = Writer().string("g-none2").i32(3).string("m").i64(-1)
        w.array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(0).i64(3).string("")))
        r = rc.request(OFFSET_COMMIT, 2, w.bytes())
        [(_, [(_, code)])] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        assert code == 22
        # A standalone commit is stored and fetched back (OffsetFetch v2, all topics).
        w = Writer().string("g-sa").i32(-1).string("").i64(-1)
        w.array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(0).i64(9).string("m")))
        r = rc.request(OFFSET_COMMIT, 2, w.bytes())
        [(_, [(_, code)])] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        assert code == 0
        w = Writer().string("g-sa").i32(-1)
        r = rc.request(OFFSET_FETCH, 2, w.bytes())
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i64(), r.string(), r.i16()))))
        assert topics == [(topic, [(0, 9, "m", 0)])]
        assert r.i16() == 0
        # DeleteGroups v0 for a group that does not exist.
        r = rc.request(DELETE_GROUPS, 0, Writer().array(["nope"], lambda w, g: w.string(g)).bytes())
        r.i32()
        assert r.array(lambda r: (r.string(), r.i16())) == [("nope", 69)]
        # OffsetDelete of the standalone group's offset.
        w = Writer().string("g-sa")
        w.array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(0)))
        r = rc.request(OFFSET_DELETE, 0, w.bytes())
        assert r.i16() == 0
        r.i32()
        assert r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16())))) == [(topic, [(0, 0)])]


def test_offset_delete_subscribed_topic(module_broker):
    bs = module_broker.bootstrap
    topic = create_topic(bs, unique_topic("od"), partitions=1)
    other = create_topic(bs, unique_topic("od2"), partitions=1)
    produce_sync(bs, topic, [(None, b"v", None)])
    group = unique_topic("g")
    c = subscribed_consumer(bs, topic, group, 1)
    try:
        with RawConn(bs) as rc:
            w = Writer().string(group)
            w.array([topic, other], lambda w, t: w.string(t).array([0], lambda w, p: w.i32(0)))
            r = rc.request(OFFSET_DELETE, 0, w.bytes())
            assert r.i16() == 0
            r.i32()
            got = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
            assert got == [(topic, [(0, 86)]), (other, [(0, 0)])]
    finally:
        c.close()


# --- raw frames: Kafka's coordinator semantics (GroupCoordinator.scala) ---

LEAVE_GROUP, LIST_GROUPS, DESCRIBE_GROUPS = 13, 16, 15


def join_v5(rc, group, member="", session_ms=10000, instance=None):
    w = Writer().string(group).i32(session_ms).i32(30000).string(member).string(instance).string("consumer")
    w.array([("range", b"\x00\x01")], lambda w, p: w.string(p[0]).bytes_(p[1]))
    r = rc.request(JOIN_GROUP, 5, w.bytes())
    r.i32()
    err, gen, proto, leader, mid = r.i16(), r.i32(), r.string(), r.string(), r.string()
    members = r.array(lambda r: (r.string(), r.string(), r.bytes_()))
    return err, gen, leader, mid, members


def sync_v3(rc, group, gen, member, assignments):
    w = Writer().string(group).i32(gen).string(member).string(None)
    w.array(list(assignments), lambda w, a: w.string(a[0]).bytes_(a[1]))
    r = rc.request(SYNC_GROUP, 3, w.bytes())
    r.i32()
    return r.i16(), r.bytes_()


def commit_v2(rc, group, gen, member, topic, offset):
    w = Writer().string(group).i32(gen).string(member).i64(-1)
    w.array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(0).i64(offset).string("")))
    r = rc.request(OFFSET_COMMIT, 2, w.bytes())
    [(_, [(_, code)])] = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
    return code


def fetch_v2(rc, group, topic):
    w = Writer().string(group).array([0], lambda w, _: w.string(topic).array([0], lambda w, p: w.i32(p)))
    r = rc.request(OFFSET_FETCH, 2, w.bytes())
    [(_, [(_, off, _, code)])] = r.array(lambda r: (r.string(), r.array(
        lambda r: (r.i32(), r.i64(), r.string(), r.i16()))))
    return off, code, r.i16()


def describe_v0(rc, groups):
    r = rc.request(DESCRIBE_GROUPS, 0, Writer().array(groups, lambda w, g: w.string(g)).bytes())
    return r.array(lambda r: dict(error=r.i16(), group=r.string(), state=r.string(), protocol_type=r.string(),
                                  protocol=r.string(), members=r.array(
                                      lambda r: (r.string(), r.string(), r.string(), r.bytes_(), r.bytes_()))))


def list_v4(rc, states):
    w = Writer().compact_array(states, lambda w, s: w.compact_string(s)).tags()
    r = rc.request(LIST_GROUPS, 4, w.bytes(), flexible=True)
    r.i32()
    err = r.i16()
    groups = r.compact_array(lambda r: (r.compact_string(), r.compact_string(), r.compact_string(), r.tags())[:3])
    return err, groups


def java_hash(s):
    import struct
    b = s.encode("utf-16-le")
    h = 0
    for unit in struct.unpack("<%dH" % (len(b) // 2), b):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition_records(bs, p):
    """[(key bytes, value bytes or None)] of __consumer_offsets-p, in order."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bs, "group.id": "raw-reader", "enable.auto.commit": False})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition("__consumer_offsets", p), timeout=10)
        c.assign([TopicPartition("__consumer_offsets", p, OFFSET_BEGINNING)])
        got = []

        def poll():
            got.extend((m.offset(), m.key(), m.value()) for m in c.consume(500, 0.2) if m.error() is None)
            return not got and hi == lo or got and got[-1][0] >= hi - 1
        wait_until(poll, 30, "__consumer_offsets-%d read to its end" % p)
        return [(k, v) for _, k, v in got]
    finally:
        c.close()


def test_coordinator_semantics_raw(module_broker):
    bs = module_broker.bootstrap
    topic = create_topic(bs, unique_topic("sem"), partitions=1)
    group = unique_topic("gsem")
    with RawConn(bs) as rc:
        err, _, _, m1, _ = join_v5(rc, group)
        assert err == 79
        err, gen, leader, mid, members = join_v5(rc, group, m1)
        assert (err, gen, leader, mid) == (0, 1, m1, m1) and len(members) == 1
        # The leader's assignments: one for a stranger, ignored.
        assert sync_v3(rc, group, 1, m1, [(m1, b"A"), ("ghost", b"G")]) == (0, b"A")
        # JoinGroup with a member id the group does not know: UNKNOWN_MEMBER_ID.
        assert join_v5(rc, group, "ghost-member")[0] == 25
        # Commits with generation -1 into a group with members.
        assert commit_v2(rc, group, -1, "", topic, 1) == 25
        assert commit_v2(rc, group, -1, m1, topic, 1) == 22
        assert commit_v2(rc, group, 1, m1, topic, 7) == 0
        # ListGroups v4: the state filter ignores case; an unknown state matches nothing.
        err, groups = list_v4(rc, ["stable"])
        assert err == 0 and (group, "consumer", "Stable") in groups
        assert (group, "consumer", "Stable") in list_v4(rc, ["EMPTY", "STABLE"])[1]
        assert group not in [g for g, _, _ in list_v4(rc, ["empty"])[1]]
        assert list_v4(rc, ["NoSuchState"])[1] == []
        # LeaveGroup v3: an error per member, NONE at the top.
        w = Writer().string(group).array([(m1, None), ("nobody", None), ("", "inst-x")],
                                         lambda w, m: w.string(m[0]).string(m[1]))
        r = rc.request(LEAVE_GROUP, 3, w.bytes())
        r.i32()
        assert r.i16() == 0
        assert r.array(lambda r: (r.string(), r.string(), r.i16())) == [
            (m1, None, 0), ("nobody", None, 25), ("", "inst-x", 25)]
        # DescribeGroups: the now Empty group; an unknown one is Dead with NONE.
        [d, u] = describe_v0(rc, [group, "no-such-group-" + group])
        assert (d["error"], d["state"], d["protocol_type"], d["members"]) == (0, "Empty", "consumer", [])
        assert (u["error"], u["state"], u["protocol_type"], u["protocol"], u["members"]) == (0, "Dead", "", "", [])
        assert group in [g for g, _, _ in list_v4(rc, ["empty"])[1]]
        # The empty group id is accepted by OffsetCommit/OffsetFetch (Kafka's
        # isValidGroupId) but not by JoinGroup.
        assert commit_v2(rc, "", -1, "", topic, 3) == 0
        assert fetch_v2(rc, "", topic) == (3, 0, 0)
        # DeleteGroups of the Empty group with offsets: offsets gone, tombstones written.
        r = rc.request(DELETE_GROUPS, 0, Writer().array([group], lambda w, g: w.string(g)).bytes())
        r.i32()
        assert r.array(lambda r: (r.string(), r.i16())) == [(group, 0)]
        assert fetch_v2(rc, group, topic) == (-1, 0, 0)
        [d] = describe_v0(rc, [group])
        assert d["state"] == "Dead"
    h = java_hash(group)
    p = (0 if h == -(1 << 31) else abs(h)) % 50
    recs = offsets_partition_records(bs, p)
    offset_key = Writer().i16(1).string(group).string(topic).i32(0).bytes()
    group_key = Writer().i16(2).string(group).bytes()
    last = {}
    for k, v in recs:
        last[k] = v
    assert offset_key in last and last[offset_key] is None, "no tombstone for the deleted group's offset"
    assert group_key in last and last[group_key] is None, "no tombstone for the deleted group's metadata"
    assert any(k == offset_key and v is not None for k, v in recs)


def test_group_broker_config_keys(broker_factory):
    """group.max.size, group.min/max.session.timeout.ms,
    offsets.topic.num.partitions and offsets.topic.segment.bytes are acted on."""
    b = broker_factory({"group.max.size": "1", "group.min.session.timeout.ms": "7000",
                        "group.max.session.timeout.ms": "8000", "offsets.topic.num.partitions": "7",
                        "offsets.topic.segment.bytes": "65536", "group.initial.rebalance.delay.ms": "0"})
    bs = b.bootstrap
    group = unique_topic("gcfg")
    with RawConn(bs) as rc:
        assert join_v5(rc, group, session_ms=6999)[0] == 26
        assert join_v5(rc, group, session_ms=8001)[0] == 26
        err, _, _, m1, _ = join_v5(rc, group, session_ms=7000)
        assert err == 79
        err, gen, _, _, _ = join_v5(rc, group, m1, session_ms=8000)
        assert (err, gen) == (0, 1)
        assert sync_v3(rc, group, 1, m1, [(m1, b"A")]) == (0, b"A")
        # A second member: the group is full.
        assert join_v5(rc, group, session_ms=7000)[0] == 81
    from confluent_kafka.admin import AdminClient, ConfigResource
    admin = AdminClient({"bootstrap.servers": bs})
    md = admin.list_topics(timeout=10)
    assert len(md.topics["__consumer_offsets"].partitions) == 7
    res = ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")
    cfg = admin.describe_configs([res])[res].result(10)
    assert cfg["segment.bytes"].value == "65536"
    assert cfg["cleanup.policy"].value == "compact"


def test_offsets_topic_replication_factor_is_used(broker_factory):
    """offsets.topic.replication.factor=2 on one broker: the topic cannot be
    created, so there is no coordinator (Kafka: creation fails until the
    cluster is big enough)."""
    b = broker_factory({"offsets.topic.replication.factor": "2"})
    with RawConn(b.bootstrap) as rc:
        r = rc.request(FIND_COORDINATOR, 1, Writer().string("g").i8(0).bytes())
        r.i32()
        assert r.i16() == 15


def test_offset_fetch_all_topics_many_partitions(module_broker):
    """OffsetFetch v2 with null topics: every committed partition, grouped
    by topic (linear in the offsets however many partitions a topic has)."""
    bs = module_broker.bootstrap
    t1 = create_topic(bs, unique_topic("fa"), partitions=64)
    t2 = create_topic(bs, unique_topic("fb"), partitions=3)
    group = unique_topic("gall")
    with RawConn(bs) as rc:
        w = Writer().string(group).i32(-1).string("").i64(-1)
        w.array([(t1, range(64)), (t2, range(3))], lambda w, t: w.string(t[0]).array(
            list(t[1]), lambda w, p: w.i32(p).i64(100 + p).string("m%d" % p)))
        r = rc.request(OFFSET_COMMIT, 2, w.bytes())
        codes = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        assert all(c == 0 for _, ps in codes for _, c in ps)
        r = rc.request(OFFSET_FETCH, 2, Writer().string(group).i32(-1).bytes())
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i64(), r.string(), r.i16()))))
        assert r.i16() == 0
        got = {t: sorted(ps) for t, ps in topics}
        assert len(topics) == 2
        assert got[t1] == [(p, 100 + p, "m%d" % p, 0) for p in range(64)]
        assert got[t2] == [(p, 100 + p, "m%d" % p, 0) for p in range(3)]
