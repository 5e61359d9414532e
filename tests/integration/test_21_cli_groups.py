"""gregor group list|describe|delete|reset-offsets and gregor consume
--group against a real broker with real consumer groups: numbers checked
against what was produced and committed, committed offsets checked through
kafka-python's admin client (OffsetFetch), exit codes and error lines."""

import json

from helpers import create_topic, unique_topic, wait_until
from test_20_cli_util import gregor, gregor_json, one_error_line

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

COLUMNS = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
           "CLIENT-ID"]


def kp_admin(bootstrap):
    from kafka import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, api_version=(2, 5, 0))


def committed(bootstrap, group):
    """{(topic, partition): offset} through kafka-python (OffsetFetch)."""
    admin = kp_admin(bootstrap)
    try:
        return {(tp.topic, tp.partition): om.offset for tp, om in admin.list_consumer_group_offsets(group).items()}
    finally:
        admin.close()


def produce_to(b, topic, partition, n, prefix="v", timestamps=None):
    """n records to one partition; with timestamps, through confluent-kafka
    with those CreateTime timestamps."""
    if timestamps is None:
        gregor("produce", topic, "-p", partition, input="".join("%s%d\n" % (prefix, i) for i in range(n)),
               brokers=b, check=0)
        return
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": b})
    for i, ts in enumerate(timestamps):
        p.produce(topic, value=b"%s%d" % (prefix.encode(), i), partition=partition, timestamp=ts)
    assert p.flush(30) == 0


def table(out):
    """The describe text output: (state line, header cells, rows as dicts)."""
    lines = out.splitlines()
    head = lines[1].split()
    return lines[0], head, [dict(zip(head, line.split())) for line in lines[2:] if line.strip()]


def member(b, topic, group, client_id="it-member"):
    """A confluent consumer that is a member of group and owns its partitions."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": b, "group.id": group, "client.id": client_id,
                  "enable.auto.commit": False, "auto.offset.reset": "latest"})
    c.subscribe([topic])
    wait_until(lambda: (c.poll(0.1), len(c.assignment()) > 0)[1], 30, "the member's assignment")
    return c


def test_consume_group_commits_and_describe_shows_numbers(module_broker):
    b = module_broker.bootstrap
    t = create_topic(b, unique_topic("cg"), partitions=2)
    g = unique_topic("grp")
    produce_to(b, t, 0, 10)
    produce_to(b, t, 1, 6)
    # A group member reads everything from the start and commits it on exit.
    p = gregor("consume", t, "-g", g, "-o", "start", "-e", "-F", "%p:%o\\n", brokers=b, check=0)
    assert sorted(p.stdout.split()) == sorted(["0:%d" % i for i in range(10)] + ["1:%d" % i for i in range(6)])
    assert committed(b, g) == {(t, 0): 10, (t, 1): 6}
    produce_to(b, t, 0, 3, prefix="w")  # lag 3 on partition 0

    p = gregor("group", "describe", g, brokers=b, check=0)
    state, head, rows = table(p.stdout)
    assert state == "Consumer group '%s' is Empty with 0 member(s)." % g
    assert head == COLUMNS
    assert [(r["PARTITION"], r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for r in rows] == [
        ("0", "10", "13", "3"), ("1", "6", "6", "0")]
    assert all(r["GROUP"] == g and r["TOPIC"] == t and r["CONSUMER-ID"] == "-" for r in rows)

    # A second run resumes from the committed offsets: only the 3 new records.
    p = gregor("consume", t, "-g", g, "-e", "-F", "%p:%o:%v\\n", brokers=b, check=0)
    assert p.stdout.split() == ["0:10:w0", "0:11:w1", "0:12:w2"]
    assert committed(b, g) == {(t, 0): 13, (t, 1): 6}

    # With a live member: Stable, and the member's id, host and client id per partition.
    c = member(b, t, g)
    try:
        wait_until(lambda: "is Stable" in gregor("group", "describe", g, brokers=b, check=0).stdout, 20,
                   "the group Stable in describe")
        state, head, rows = table(gregor("group", "describe", g, brokers=b, check=0).stdout)
        assert state == "Consumer group '%s' is Stable with 1 member(s)." % g
        assert [(r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]) for r in rows] == [("13", "13", "0"),
                                                                                       ("6", "6", "0")]
        assert all(r["CONSUMER-ID"].startswith("it-member") and r["HOST"].startswith("/127.0.0.1")
                   and r["CLIENT-ID"] == "it-member" for r in rows), rows
        [d] = gregor_json("group", "describe", g, "--json", brokers=b)
        assert d["group"] == g and d["state"] == "Stable" and d["members"] == 1
        assert [(x["partition"], x["current_offset"], x["log_end_offset"], x["lag"]) for x in d["partitions"]] == [
            (0, 13, 13, 0), (1, 6, 6, 0)]
        assert d["partitions"][0]["client_id"] == "it-member"
        # list shows it, as text and JSON
        lst = gregor_json("group", "list", "--json", brokers=b)
        assert {"group": g, "state": "Stable", "type": "consumer"} in lst
        out = gregor("group", "list", brokers=b, check=0).stdout.splitlines()
        assert out[0].split() == ["GROUP", "STATE", "TYPE"]
        assert [g, "Stable", "consumer"] in [line.split() for line in out[1:]]
        # A group with a member cannot be deleted: one clear line, non-zero exit.
        p = gregor("group", "delete", g, brokers=b, check=1)
        line = one_error_line(p, "gregor group: deleting group %s: " % g)
        assert "not empty" in line.lower() or "non-empty" in line.lower() or "members" in line.lower(), line
        assert committed(b, g) == {(t, 0): 13, (t, 1): 6}
    finally:
        c.close()
    wait_until(lambda: "is Empty" in gregor("group", "describe", g, brokers=b, check=0).stdout, 20,
               "the group Empty after its member left")
    p = gregor("group", "delete", g, brokers=b, check=0)
    assert p.stdout.strip() == "Deleted group %s." % g
    assert g not in [x["group"] for x in gregor_json("group", "list", "--json", brokers=b)]
    assert committed(b, g) == {}


def test_describe_unknown_group_fails(module_broker):
    b = module_broker.bootstrap
    p = gregor("group", "describe", "no-such-group-x", brokers=b, check=1)
    one_error_line(p, "gregor group: group no-such-group-x does not exist")


def reset(b, g, *args):
    return gregor("group", "reset-offsets", g, *args, brokers=b)


def test_reset_offsets_preview_then_execute(module_broker):
    b = module_broker.bootstrap
    t = create_topic(b, unique_topic("rs"), partitions=2)
    g = unique_topic("grp")
    base = 1700000000000
    produce_to(b, t, 0, 10, timestamps=[base + 1000 * i for i in range(10)])
    produce_to(b, t, 1, 4, timestamps=[base + 1000 * i for i in range(4)])
    gregor("consume", t, "-g", g, "-o", "start", "-c", "14", brokers=b, check=0)
    start = {(t, 0): 10, (t, 1): 4}
    assert committed(b, g) == start

    cases = [
        (["--to-earliest"], {(t, 0): 0, (t, 1): 0}),
        (["--to-latest"], {(t, 0): 10, (t, 1): 4}),
        (["--to-offset", "3"], {(t, 0): 3, (t, 1): 3}),
        (["--to-offset", "7"], {(t, 0): 7, (t, 1): 4}),        # clamped to the log end
        (["--to-datetime", str(base + 5500)], {(t, 0): 6, (t, 1): 4}),  # p1 has nothing later: its end
        (["--shift-by", "-2"], {(t, 0): 8, (t, 1): 2}),
        (["--shift-by", "-20"], {(t, 0): 0, (t, 1): 0}),       # clamped to the log start
    ]
    for args, want in cases:
        # Preview: prints the new offsets, changes nothing.
        p = reset(b, g, "--topic", t, *args)
        assert p.returncode == 0, (args, p.stderr)
        lines = p.stdout.splitlines()
        assert lines[0].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], lines
        got = {(c[1], int(c[2])): int(c[3]) for c in (line.split() for line in lines[1:-1])}
        assert got == want, (args, p.stdout)
        assert lines[-1] == "(preview only: add --execute to commit these offsets)"
        assert committed(b, g) == start, args
        # JSON preview parses and says the same.
        js = json.loads(reset(b, g, "--topic", t, "--json", *args).stdout)
        assert {(r["topic"], r["partition"]): r["new_offset"] for r in js} == want
        assert committed(b, g) == start, args
    # Only --execute changes, and only the partitions asked for.
    p = reset(b, g, "--topic", t + ":1", "--to-earliest", "--execute")
    assert p.returncode == 0, p.stderr
    assert "preview" not in p.stdout
    assert committed(b, g) == {(t, 0): 10, (t, 1): 0}
    p = reset(b, g, "--all-topics", "--shift-by", "-4", "--execute")
    assert p.returncode == 0, p.stderr
    assert committed(b, g) == {(t, 0): 6, (t, 1): 0}
    p = reset(b, g, "--topic", t, "--to-datetime", str(base + 2000), "--execute")
    assert p.returncode == 0, p.stderr
    assert committed(b, g) == {(t, 0): 2, (t, 1): 2}
    # The next group member starts where the reset put the group.
    p = gregor("consume", t, "-g", g, "-e", "-F", "%p:%o\\n", brokers=b, check=0)
    assert sorted(p.stdout.split()) == sorted(["0:%d" % i for i in range(2, 10)] + ["1:2", "1:3"])


def test_reset_offsets_refused_while_group_has_members(module_broker):
    b = module_broker.bootstrap
    t = create_topic(b, unique_topic("rsm"), partitions=1)
    g = unique_topic("grp")
    produce_to(b, t, 0, 5)
    gregor("consume", t, "-g", g, "-o", "start", "-e", brokers=b, check=0)
    c = member(b, t, g)
    try:
        p = reset(b, g, "--topic", t, "--to-earliest", "--execute")
        assert p.returncode == 1, (p.stdout, p.stderr)
        one_error_line(p, "gregor group: ")
        assert committed(b, g) == {(t, 0): 5}
    finally:
        c.close()


def test_group_usage_errors(module_broker):
    b = module_broker.bootstrap
    one_error_line(gregor("group", "describe", brokers=b, check=2), "gregor group: describe: missing GROUP")
    one_error_line(gregor("group", "reset-offsets", "g", "--topic", "t", brokers=b, check=2),
                   "gregor group: reset-offsets: give one of")
    one_error_line(gregor("group", "reset-offsets", "g", "--to-earliest", brokers=b, check=2),
                   "gregor group: reset-offsets: give --topic")
    one_error_line(gregor("group", "list", "--execute", brokers=b, check=2), "gregor group: list: the --to-*")
    p = gregor("group", "reset-offsets", "g", "--topic", "no-such-topic-y", "--to-earliest", brokers=b, check=1)
    one_error_line(p, "gregor group: ")
