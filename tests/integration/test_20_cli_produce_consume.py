"""gregor produce and gregor consume (alone, not in a group: the broker has
no group coordinator yet) against a real broker, checked with kcat-free
round trips and with confluent-kafka where the CLI cannot see itself."""

import time

from helpers import unique_topic
from test_20_cli_util import gregor, gregor_json, one_error_line

FMT = "%p|%o|%k|%v|%h\\n"


def rows(out):
    return [line.split("|") for line in out.splitlines()]


def test_round_trip_keys_headers_partition(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-rt")
    gregor("topic", "create", t, "-p", "2", brokers=b, check=0)
    p = gregor("produce", t, "-K", "::", "-H", "src=cli", "-H", "v=2", "-p", "1",
               input="k1::hello\nk2::wo::rld\nno key here\n\n", brokers=b, check=0)
    assert p.stdout == "" and p.stderr == ""
    p = gregor("consume", t, "--from-beginning", "-e", "-F", FMT, brokers=b, check=0)
    assert rows(p.stdout) == [["1", "0", "k1", "hello", "src=cli,v=2"],
                              ["1", "1", "k2", "wo::rld", "src=cli,v=2"],
                              ["1", "2", "", "no key here", "src=cli,v=2"],
                              ["1", "3", "", "", "src=cli,v=2"]]
    # the default format is the value and a newline
    p = gregor("consume", t, "-p", "1", "-o", "start", "-e", brokers=b, check=0)
    assert p.stdout == "hello\nwo::rld\nno key here\n\n"
    # timestamps and topic, tabs
    p = gregor("consume", t, "-p", "1", "-o", "0", "-c", "1", "-F", "%T\\t%t\\n", brokers=b, check=0)
    topic, ts = p.stdout.rstrip("\n").split("\t")
    assert topic == t and abs(int(ts) - time.time() * 1000) < 600000


def test_consume_start_positions(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-pos")
    gregor("topic", "create", t, brokers=b, check=0)
    gregor("produce", t, input="".join("r%d\n" % i for i in range(10)), brokers=b, check=0)

    def values(*args):
        return gregor("consume", t, "-e", *args, brokers=b, check=0).stdout.split()

    assert values("-o", "beginning") == ["r%d" % i for i in range(10)]
    assert values("-o", "7") == ["r7", "r8", "r9"]
    assert values("-o", "-3") == ["r7", "r8", "r9"]
    assert values("-o", "end") == []
    assert values() == []  # default: the end
    assert values("--from-beginning", "-c", "4") == ["r0", "r1", "r2", "r3"]
    # -c without -e stops after N records
    assert gregor("consume", t, "--from-beginning", "-c", "2", brokers=b, check=0).stdout.split() == ["r0", "r1"]
    assert values("--timestamp", "0") == ["r%d" % i for i in range(10)]
    assert values("--timestamp", "4102444800000") == []
    # an offset past the end is an error, not a silent jump
    p = gregor("consume", t, "-o", "50", "-e", brokers=b, check=1)
    one_error_line(p, "gregor consume: %s[0]: " % t)


def test_consume_several_topics_and_partitions(module_broker):
    b = module_broker.bootstrap
    t1, t2 = unique_topic("cli-m1"), unique_topic("cli-m2")
    gregor("topic", "create", t1, "-p", "3", brokers=b, check=0)
    gregor("topic", "create", t2, brokers=b, check=0)
    for p in range(3):
        gregor("produce", t1, "-p", p, input="a%d\nb%d\n" % (p, p), brokers=b, check=0)
    gregor("produce", t2, input="x\n", brokers=b, check=0)
    out = gregor("consume", t1, t2, "--from-beginning", "-e", "-F", "%T %p %o %v\\n", brokers=b, check=0).stdout
    got = sorted(tuple(line.split()) for line in out.splitlines())
    want = sorted([(t1, str(p), "0", "a%d" % p) for p in range(3)] + [(t1, str(p), "1", "b%d" % p) for p in range(3)]
                  + [(t2, "0", "0", "x")])
    assert got == want
    out = gregor("consume", t1, "-p", "2", "--from-beginning", "-e", brokers=b, check=0).stdout
    assert out.split() == ["a2", "b2"]


def test_produce_from_files_with_compression_and_rate(module_broker, tmp_path):
    b = module_broker.bootstrap
    t = unique_topic("cli-files")
    gregor("topic", "create", t, brokers=b, check=0)
    f1, f2 = tmp_path / "one.txt", tmp_path / "two.txt"
    f1.write_text("".join("one-%d\n" % i for i in range(500)))
    f2.write_text("two-0\ntwo-1")  # no newline at the end
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        gregor("produce", t, "-f", f1, "-f", f2, "-z", codec, "--acks", "1", brokers=b, check=0)
    out = gregor("consume", t, "--from-beginning", "-e", brokers=b, check=0).stdout.split()
    once = ["one-%d" % i for i in range(500)] + ["two-0", "two-1"]
    assert out == once * 4
    t0 = time.monotonic()
    gregor("produce", t, "--rate", "20", input="".join("%d\n" % i for i in range(20)), brokers=b, check=0)
    assert time.monotonic() - t0 >= 0.9, "--rate 20 sent 20 records in under a second"
    [row] = gregor_json("offsets", t, "--json", brokers=b)
    assert row["latest"] == 4 * 502 + 20


def test_produce_errors(module_broker, broker_factory, tmp_path):
    b = module_broker.bootstrap
    t = unique_topic("cli-perr")
    gregor("topic", "create", t, brokers=b, check=0)
    p = gregor("produce", t, "-p", "3", input="x\n", brokers=b, check=1)
    one_error_line(p, "gregor produce: topic %s has no partition 3 (it has 1)" % t)
    p = gregor("produce", t, "-f", tmp_path / "missing.txt", brokers=b, check=1)
    one_error_line(p, "gregor produce: cannot open %s" % (tmp_path / "missing.txt"))
    p = gregor("produce", brokers=b, check=2)
    one_error_line(p, "gregor produce: missing TOPIC")
    p = gregor("produce", t, "-H", "novalue", brokers=b, check=2)
    one_error_line(p, "gregor produce: -H novalue: expected key=value")

    # Per-record failures: records larger than the topic allows are refused
    # one by one, each reported with its line; the others get through.
    gregor("topic", "alter-config", t, "--set", "max.message.bytes=2000", brokers=b, check=0)
    big = "y" * 5000
    p = gregor("produce", t, "-X", "linger.ms=0", "-X", "batch.num.messages=1",
               input="ok1\n%s\nok2\n%s\n" % (big, big), brokers=b, check=1)
    lines = p.stderr.splitlines()
    assert len([x for x in lines if x.startswith("gregor produce: record at stdin line 2 failed")]) == 1, p.stderr
    assert len([x for x in lines if x.startswith("gregor produce: record at stdin line 4 failed")]) == 1, p.stderr
    assert lines[-1] == "gregor produce: 2 of 4 records failed", p.stderr
    assert gregor("consume", t, "--from-beginning", "-e", brokers=b, check=0).stdout.split() == ["ok1", "ok2"]

    # No auto-creation on this broker: an unknown topic is one line.
    nb = broker_factory({"auto.create.topics.enable": "false"})
    p = gregor("produce", unique_topic("cli-nope"), input="x\n", brokers=nb.bootstrap, check=1)
    one_error_line(p, "gregor produce: topic ")
    assert "does not exist" in p.stderr


def test_consume_errors(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-cerr")
    p = gregor("consume", t, "-e", brokers=b, check=1)
    one_error_line(p, "gregor consume: topic %s does not exist" % t)
    p = gregor("consume", t, "-g", "grp", "-o", "5", brokers=b, check=2)
    one_error_line(p, "gregor consume: with --group")
    p = gregor("consume", t, "-o", "soon", brokers=b, check=2)
    one_error_line(p, "gregor consume: -o soon: expected a number")
