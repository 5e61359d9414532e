"""gregor topic, offsets, cluster info and config against a real broker:
output (text and --json), effects, and exit codes of the error cases."""

from helpers import unique_topic, wait_until
from test_20_cli_util import gregor, gregor_json, one_error_line


def test_create_list_describe_delete(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-topic")
    p = gregor("topic", "create", t, "-p", "3", "-c", "retention.ms=3600000", brokers=b, check=0)
    assert p.stdout == "Created topic %s.\n" % t
    # again: an error, unless --if-not-exists
    p = gregor("topic", "create", t, brokers=b, check=1)
    one_error_line(p, "gregor topic: creating topic %s: " % t)
    gregor("topic", "create", t, "--if-not-exists", brokers=b, check=0)

    listed = {r["topic"]: r for r in gregor_json("topic", "list", "--json", brokers=b)}
    assert listed[t] == {"topic": t, "partitions": 3, "replication_factor": 1}
    text = gregor("topic", "list", brokers=b, check=0).stdout.splitlines()
    assert text[0].split() == ["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"]
    assert [t, "3", "1"] in [line.split() for line in text[1:]]

    gregor("produce", t, "-p", "1", input="a\nb\nc\n", brokers=b, check=0)
    [d] = gregor_json("topic", "describe", t, "--json", brokers=b)
    assert d["topic"] == t and d["partition_count"] == 3 and d["replication_factor"] == 1
    assert d["configs"] == {"retention.ms": "3600000"}, d["configs"]
    parts = {x["partition"]: x for x in d["partitions"]}
    assert sorted(parts) == [0, 1, 2]
    assert parts[1]["log_start_offset"] == 0 and parts[1]["log_end_offset"] == 3
    assert parts[0]["log_end_offset"] == 0
    assert all(x["leader"] == 0 and x["replicas"] == [0] and x["isr"] == [0] for x in parts.values())

    text = gregor("topic", "describe", t, brokers=b, check=0).stdout.splitlines()
    assert text[0].startswith("Topic: %s\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=3600000"
                              % t), text[0]
    assert text[1].split() == ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START-OFFSET",
                               "LOG-END-OFFSET"]
    assert text[3].split() == [t, "1", "0", "0", "0", "0", "3"]

    p = gregor("topic", "delete", t, brokers=b, check=0)
    assert p.stdout == "Deleted topic %s.\n" % t
    wait_until(lambda: t not in {r["topic"] for r in gregor_json("topic", "list", "--json", brokers=b)},
               10, "topic to disappear from the list")
    p = gregor("topic", "delete", t, brokers=b, check=1)
    one_error_line(p, "gregor topic: deleting topic %s: topic does not exist" % t)
    gregor("topic", "delete", t, "--if-exists", brokers=b, check=0)


def test_unknown_topic_errors(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-missing")
    for args in (["topic", "describe", t], ["offsets", t], ["config", "describe", "--topic", t],
                 ["topic", "add-partitions", t, "-p", "4"]):
        p = gregor(*args, brokers=b, check=1)
        line = one_error_line(p, "gregor %s: " % args[0])
        assert t in line and ("does not exist" in line or "nknown" in line), line


def test_add_partitions_and_alter_config(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-grow")
    gregor("topic", "create", t, "-p", "2", brokers=b, check=0)
    p = gregor("topic", "add-partitions", t, "-p", "5", brokers=b, check=0)
    assert p.stdout == "Topic %s now has 5 partitions.\n" % t
    [d] = gregor_json("topic", "describe", t, "--json", brokers=b)
    assert d["partition_count"] == 5
    # shrinking is refused by the broker
    p = gregor("topic", "add-partitions", t, "-p", "3", brokers=b, check=1)
    one_error_line(p, "gregor topic: adding partitions to %s: " % t)

    gregor("topic", "alter-config", t, "--set", "retention.ms=1000", "--set", "segment.bytes=1048576",
           brokers=b, check=0)
    [d] = gregor_json("topic", "describe", t, "--json", brokers=b)
    assert d["configs"] == {"retention.ms": "1000", "segment.bytes": "1048576"}
    gregor("topic", "alter-config", t, "--delete", "retention.ms", brokers=b, check=0)
    [d] = gregor_json("topic", "describe", t, "--json", brokers=b)
    assert d["configs"] == {"segment.bytes": "1048576"}
    p = gregor("topic", "alter-config", t, "--set", "no.such.config=1", brokers=b, check=1)
    one_error_line(p, "gregor topic: altering the configs of topic %s" % t)


def test_config_describe_alter(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-config")
    gregor("topic", "create", t, brokers=b, check=0)
    assert gregor_json("config", "describe", "--topic", t, "--json", brokers=b) == []
    p = gregor("config", "alter", "--topic", t, "--set", "cleanup.policy=compact", brokers=b, check=0)
    assert p.stdout == "Completed updating config for topic %s.\n" % t
    rows = gregor_json("config", "describe", "--topic", t, "--json", brokers=b)
    assert rows == [{"name": "cleanup.policy", "value": "compact", "source": "DYNAMIC_TOPIC_CONFIG",
                     "read_only": "false", "sensitive": "false"}]
    every = {r["name"]: r for r in gregor_json("config", "describe", "--topic", t, "--all", "--json", brokers=b)}
    assert every["retention.ms"]["source"] == "DEFAULT_CONFIG"
    assert every["cleanup.policy"]["value"] == "compact"
    text = gregor("config", "describe", "--topic", t, brokers=b, check=0).stdout.splitlines()
    assert text[0].split() == ["NAME", "VALUE", "SOURCE", "READ-ONLY", "SENSITIVE"]
    assert text[1].split()[:3] == ["cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"]
    p = gregor("config", "alter", "--topic", t, "--delete", "retention.ms", brokers=b, check=1)
    one_error_line(p, "gregor config: cannot delete retention.ms: it is not set on topic %s" % t)
    gregor("config", "alter", "--topic", t, "--delete", "cleanup.policy", brokers=b, check=0)
    assert gregor_json("config", "describe", "--topic", t, "--json", brokers=b) == []

    brk = {r["name"]: r for r in gregor_json("config", "describe", "--broker", "0", "--all", "--json", brokers=b)}
    assert brk["log.dirs"]["value"] == str(module_broker.data_dir)
    p = gregor("config", "describe", "--topic", t, "--broker", "0", brokers=b, check=2)
    one_error_line(p, "gregor config: describe: give exactly one of --topic TOPIC or --broker ID")


def test_cluster_info(module_broker):
    b = module_broker.bootstrap
    info = gregor_json("cluster", "info", "--json", brokers=b)
    assert info["controller"] == 0
    assert isinstance(info["cluster_id"], str) and info["cluster_id"]
    assert info["brokers"] == [{"id": 0, "host": module_broker.host, "port": module_broker.port,
                                "controller": "yes"}]
    text = gregor("cluster", "info", brokers=b, check=0).stdout.splitlines()
    assert text[0] == "Cluster ID: %s" % info["cluster_id"]
    assert text[1] == "Controller: 0"
    assert text[3].split() == ["ID", "HOST", "PORT", "CONTROLLER"]
    assert text[4].split() == ["0", module_broker.host, str(module_broker.port), "yes"]
    gregor("cluster", "nope", brokers=b, check=2)


def test_offsets(module_broker):
    b = module_broker.bootstrap
    t = unique_topic("cli-offsets")
    gregor("topic", "create", t, "-p", "2", brokers=b, check=0)
    gregor("produce", t, "-p", "0", input="a\nb\n", brokers=b, check=0)
    gregor("produce", t, "-p", "0", input="c\n", brokers=b, check=0)
    rows = gregor_json("offsets", t, "--json", brokers=b)
    assert rows == [{"topic": t, "partition": 0, "earliest": 0, "latest": 3},
                    {"topic": t, "partition": 1, "earliest": 0, "latest": 0}]
    # every record carries the current time: a timestamp far in the past
    # finds the first offset, one in the future the log end
    assert [r["offset"] for r in gregor_json("offsets", t, "--timestamp", "0", "--json", brokers=b)] == [0, 0]
    far = 4102444800000  # 2100-01-01
    assert [r["offset"] for r in gregor_json("offsets", t, "--timestamp", far, "--json", brokers=b)] == [3, 0]
    text = gregor("offsets", t, "-p", "0", brokers=b, check=0).stdout.splitlines()
    assert text == ["TOPIC%s  PARTITION  EARLIEST  LATEST" % (" " * (len(t) - 5)),
                    "%s  0          0         3" % t]
    p = gregor("offsets", t, "-p", "7", brokers=b, check=1)
    one_error_line(p, "gregor offsets: topic %s has no partition 7 (it has 2)" % t)
