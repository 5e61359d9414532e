"""The gregor CLI as a whole: the runner the other test_20_cli_* modules use,
and what every subcommand shares (help, usage errors, an unreachable
broker reported in one line with a non-zero exit)."""

import json
import subprocess
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GREGOR = REPO_ROOT / "bin" / "gregor"

# Commands that need a broker, each with arguments that would otherwise work.
NETWORK_COMMANDS = [
    ["topic", "list"],
    ["topic", "create", "x"],
    ["topic", "describe", "x"],
    ["produce", "x"],
    ["consume", "x", "-e"],
    ["offsets", "x"],
    ["cluster", "info"],
    ["config", "describe", "--topic", "x"],
    ["group", "list"],
]
ALL_COMMANDS = ["topic", "produce", "consume", "group", "offsets", "cluster", "config", "dump-log", "bench"]


def gregor(*args, brokers=None, input=None, timeout=60, check=None):
    """Runs bin/gregor; returns the CompletedProcess (text). `check`: the
    exit code required."""
    if not GREGOR.exists():
        pytest.fail("%s does not exist (build it with `make`)" % GREGOR)
    argv = [str(GREGOR)] + [str(a) for a in args]
    if brokers:
        argv += ["-b", brokers]  # options may follow the arguments (GNU getopt)
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    if check is not None:
        assert p.returncode == check, "gregor %s: exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv[1:]), p.returncode, check, p.stdout, p.stderr)
    return p


def gregor_json(*args, **kw):
    p = gregor(*args, check=0, **kw)
    return json.loads(p.stdout)


def one_error_line(p, prefix):
    """The run failed with exactly one line on stderr, starting with prefix."""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, "expected one error line, got:\n%s" % p.stderr
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def test_top_level_help_lists_commands():
    p = gregor("--help", check=0)
    for c in ALL_COMMANDS:
        assert "\n  %s " % c in p.stdout, c
    p = gregor(check=2)
    assert "usage: gregor" in p.stderr
    p = gregor("frobnicate", check=2)
    one_error_line(p, "gregor: unknown command 'frobnicate'")


@pytest.mark.parametrize("cmd", ALL_COMMANDS)
def test_every_command_has_help_with_examples(cmd):
    p = gregor(cmd, "--help", check=0)
    assert p.stdout.startswith("usage: gregor %s" % cmd), p.stdout[:200]
    assert "examples:" in p.stdout
    assert p.stderr == ""
    assert gregor("help", cmd, check=0).stdout == p.stdout


@pytest.mark.parametrize("cmd", ALL_COMMANDS)
def test_unknown_option_is_a_usage_error(cmd):
    p = gregor(cmd, "--no-such-option", check=2)
    one_error_line(p, "gregor %s: unknown option" % cmd)


@pytest.mark.parametrize("args", NETWORK_COMMANDS, ids=lambda a: " ".join(a))
def test_unreachable_broker_is_one_line_and_bounded(args):
    # Port 1 on loopback: connection refused at once; the bound is --timeout.
    t0 = time.monotonic()
    p = gregor(*args, "-b", "127.0.0.1:1", "--timeout", "1500", input="", timeout=30)
    elapsed = time.monotonic() - t0
    assert p.returncode == 1, (p.returncode, p.stderr)
    line = one_error_line(p, "gregor %s: cannot reach the broker(s) at 127.0.0.1:1" % args[0])
    assert "rdkafka" not in line.split(":")[0]
    assert p.stdout == ""
    assert elapsed < 10, "took %.1fs" % elapsed


def test_brokers_from_environment(module_broker):
    argv = [str(GREGOR), "cluster", "info", "--json"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "GREGOR_BROKERS": module_broker.bootstrap})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["brokers"][0]["port"] == module_broker.port


def test_bad_numbers_are_usage_errors():
    for args in (["topic", "create", "t", "-p", "zero"], ["topic", "create", "t", "-p", "0"],
                 ["consume", "t", "-c", "x"], ["offsets", "t", "--timestamp", "yesterday"],
                 ["produce", "t", "--acks", "2"], ["produce", "t", "-z", "brotli"],
                 ["consume", "t", "-F", "%q"], ["consume", "t", "-o", "start", "--timestamp", "5"],
                 ["config", "describe"], ["config", "alter", "--topic", "t"],
                 ["topic", "add-partitions", "t"], ["--timeout", "x"]):
        if args[0] == "--timeout":
            args = ["cluster", "info", "--timeout", "x"]
        p = gregor(*args, check=2)
        assert len(p.stderr.splitlines()) == 1, (args, p.stderr)
