"""kcat: produce keyed lines from a file (-P -K: -l), consume them back
(-C -e -f), and list metadata (-L, plain and -J)."""

import json
import subprocess

from helpers import create_topic, unique_topic

KCAT = "kcat"
N = 2000
PARTITIONS = 3


def run(args, timeout=60, input_bytes=None):
    p = subprocess.run(args, input=input_bytes, capture_output=True, timeout=timeout)
    assert p.returncode == 0, "%s exited %d\nstdout: %s\nstderr: %s" % (
        " ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-4000:])
    return p


def test_kcat_roundtrip(module_broker, tmp_path):
    topic = create_topic(module_broker.bootstrap, unique_topic("kcat"), PARTITIONS)
    lines = ["k%05d:value %d with spaces, commas; and symbols #%%&=%d" % (i, i, i * 7) for i in range(N)]
    src = tmp_path / "input.txt"
    src.write_text("\n".join(lines) + "\n")
    run([KCAT, "-b", module_broker.bootstrap, "-t", topic, "-P", "-K:", "-z", "snappy",
         "-X", "linger.ms=5", "-l", str(src)])
    p = run([KCAT, "-b", module_broker.bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-q",
             "-f", "%p|%o|%k|%s\n"])
    out = p.stdout.decode().splitlines()
    assert len(out) == N, "kcat consumed %d records, want %d; stderr: %s" % (len(out), N, p.stderr[-2000:])
    seen = {}
    per_part = {}
    for line in out:
        part, off, key, value = line.split("|", 3)
        seen[key] = value
        per_part.setdefault(int(part), []).append((int(off), key))
    expected = dict(l.split(":", 1) for l in lines)
    assert seen == expected
    assert set(per_part) <= set(range(PARTITIONS))
    for part, lst in per_part.items():
        offs = [o for o, _ in lst]
        assert offs == list(range(len(lst))), "partition %d offsets not 0..n-1: %r..." % (part, offs[:10])
        keys = [k for _, k in lst]
        assert keys == sorted(keys), "partition %d: records out of produce order" % part
    assert len(per_part) > 1, "keys all landed in one partition: %r" % list(per_part)


def test_kcat_metadata(module_broker):
    topic = create_topic(module_broker.bootstrap, unique_topic("kcat-md"), PARTITIONS)
    p = run([KCAT, "-b", module_broker.bootstrap, "-L"])
    text = p.stdout.decode()
    assert "1 brokers:" in text, text
    assert "at %s" % module_broker.bootstrap in text, "advertised address missing:\n" + text
    assert 'topic "%s" with %d partitions:' % (topic, PARTITIONS) in text, text

    p = run([KCAT, "-b", module_broker.bootstrap, "-L", "-J", "-t", topic])
    md = json.loads(p.stdout)
    assert len(md["brokers"]) == 1
    b = md["brokers"][0]
    assert b["name"].split("/")[0] == module_broker.bootstrap, b
    assert md["controllerid"] == b["id"], "controller id %r, broker %r" % (md["controllerid"], b["id"])
    [t] = md["topics"]
    assert t["topic"] == topic and "error" not in t, t
    parts = sorted(t["partitions"], key=lambda x: x["partition"])
    assert [x["partition"] for x in parts] == list(range(PARTITIONS))
    for x in parts:
        assert x["leader"] == b["id"], x
        assert [r["id"] for r in x["replicas"]] == [b["id"]], x
        assert [r["id"] for r in x["isrs"]] == [b["id"]], x
        assert "error" not in x, x
