"""gregor bench: every mode runs briefly against a real broker and prints
one well-formed JSON object with the documented keys (docs/bench.md) and
sane values. No timing assertions: this is a smoke test, not a benchmark."""

import json
import math

from helpers import unique_topic
from test_20_cli_util import gregor, one_error_line

BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


def bench(b, mode, *args):
    p = gregor("bench", mode, "--json", "--broker-pid", b.proc.pid, *args, brokers=b.bootstrap, timeout=180)
    assert p.returncode == 0, "bench %s: exit %d\nstdout:\n%s\nstderr:\n%s" % (mode, p.returncode, p.stdout,
                                                                                p.stderr)
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    r = json.loads(lines[0])
    assert r["mode"] == mode
    return r


def positive(r, *keys):
    for k in keys:
        v = r[k]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), (k, v)
        assert math.isfinite(v) and v > 0, (k, v)


def non_negative(r, *keys):
    for k in keys:
        v = r[k]
        assert isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, (k, v)


def latency(r, key):
    lat = r[key]
    assert set(lat) == {"p50", "p99", "p999", "max"}, lat
    positive(lat, "p50", "p99", "p999", "max")
    assert lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"] * 1.02, lat


def broker_fields(r, b):
    assert r["broker_pid"] == b.proc.pid
    non_negative(r, "broker_cpu_s")
    positive(r, "broker_rss_kb", "broker_rss_hwm_kb")


def test_produce_keyed_and_consume(module_broker):
    b = module_broker
    t = unique_topic("bench-p")
    r = bench(b, "produce", "--topic", t, "--records", "3000", "--record-size", "200", "--partitions", "3",
              "--keyed", "--keys", "50")
    assert (r["topic"], r["partitions"], r["records"], r["record_size"], r["failed"]) == (t, 3, 3000, 200, 0)
    assert r["keyed"] is True and r["keys"] == 50
    assert r["bytes"] > 3000 * 200  # values plus keys
    positive(r, "seconds", "records_per_s", "mb_per_s", "client_cpu_s")
    latency(r, "latency_us")
    broker_fields(r, b)
    non_negative(r, "broker_cpu_s_per_gb", "broker_cpu_us_per_record", "broker_cpu_s_per_million_records")
    c = bench(b, "consume", "--topic", t)
    assert (c["records"], c["partitions"], c["record_size"]) == (3000, 3, 200)
    assert c["bytes"] == r["bytes"]
    positive(c, "seconds", "records_per_s", "mb_per_s")
    broker_fields(c, b)


def test_produce_fixed_rate_unkeyed(module_broker):
    b = module_broker
    r = bench(b, "produce", "--topic", unique_topic("bench-r"), "--records", "1000", "--rate", "5000",
              "--partitions", "2", "--linger-ms", "0")
    assert r["rate"] == 5000 and r["keyed"] is False and r["keys"] is None and r["records"] == 1000
    assert r["bytes"] == 1000 * 100
    positive(r, "seconds", "records_per_s")
    latency(r, "latency_us")


def test_e2e(module_broker):
    b = module_broker
    r = bench(b, "e2e", "--topic", unique_topic("bench-e"), "--records", "2000", "--rate", "10000",
              "--partitions", "4", "--record-size", "1024", "--linger-ms", "0")
    assert (r["records"], r["consumed"], r["partitions"], r["failed"]) == (2000, 2000, 4, 0)
    positive(r, "seconds", "records_per_s", "mb_per_s")
    latency(r, "latency_us")
    latency(r, "e2e_latency_us")
    broker_fields(r, b)


def test_commits(module_broker):
    b = module_broker
    r = bench(b, "commits", "--topic", unique_topic("bench-c"), "--records", "3000", "--groups", "3",
              "--partitions", "2", "--inflight", "20")
    assert (r["groups"], r["partitions"], r["inflight"], r["commits"], r["offsets"], r["failed"]) == (
        3, 2, 20, 3000, 6000, 0)
    positive(r, "seconds", "commits_per_s", "offsets_per_s", "join_s")
    assert abs(r["offsets_per_s"] - 2 * r["commits_per_s"]) < 1e-6 * r["offsets_per_s"] + 1
    latency(r, "commit_latency_us")
    broker_fields(r, b)
    non_negative(r, "broker_cpu_us_per_commit")


def test_rebalance(module_broker):
    b = module_broker
    r = bench(b, "rebalance", "--topic", unique_topic("bench-rb"), "--members", "3", "--partitions", "6",
              "--heartbeat-ms", "200")
    assert (r["members"], r["partitions"], r["heartbeat_interval_ms"]) == (3, 6, 200)
    positive(r, "initial_ms", "initial_from_first_subscribe_ms", "leave_ms", "join_ms", "initial_rebalance_callbacks")
    non_negative(r, "initial_after_last_revoke_ms", "leave_after_last_revoke_ms", "join_after_last_revoke_ms")
    assert r["initial_ms"] <= r["initial_from_first_subscribe_ms"]
    broker_fields(r, b)


def test_bench_usage_errors(module_broker):
    b = module_broker.bootstrap
    one_error_line(gregor("bench", "e2e", "--record-size", "4", brokers=b, check=2),
                   "gregor bench: e2e: --record-size must be at least")
    one_error_line(gregor("bench", "commits", "--rate", "10", brokers=b, check=2),
                   "gregor bench: --rate applies to produce and e2e only")
    one_error_line(gregor("bench", "produce", "--members", "3", brokers=b, check=2),
                   "gregor bench: --members applies to commits and rebalance only")
    one_error_line(gregor("bench", "rebalance", "--members", "4", "--partitions", "2", brokers=b, check=2),
                   "gregor bench: --partitions 2: need at least one partition per member")
    one_error_line(gregor("bench", "frob", brokers=b, check=2), "gregor bench: unknown mode 'frob'")
