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
