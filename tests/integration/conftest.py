"""Fixtures: a real bin/gregord per test (or per module) on an ephemeral port
with a fresh data dir. The broker's log is attached to any failing test."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import wait_until  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
GREGORD = REPO_ROOT / "bin" / "gregord"
READY_RE = re.compile(r"listening on (?:[A-Za-z_]+://)?(\[[^\]]+\]|[^\s:]+):(\d+)")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0

_BROKERS = []  # every Broker not yet torn down, for failure reports


class Broker:
    """One gregord process. stdout and stderr go to `log_path` (appended
    across restarts)."""

    def __init__(self, workdir, overrides=None, name="broker"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / ("%s.log" % name)
        self.overrides = {
            "listeners": "PLAINTEXT://127.0.0.1:0",
            "log.dirs": str(self.data_dir),
        }
        self.overrides.update(overrides or {})
        self.proc = None
        self.host = None
        self.port = None
        self.starts = 0
        _BROKERS.append(self)

    # ---- lifecycle

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        if not GREGORD.exists():
            pytest.fail("%s does not exist (build it with `make`)" % GREGORD)
        args = [str(GREGORD)]
        for k, v in self.overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        mark = self.log_size()
        with open(self.log_path, "ab") as logf:
            logf.write(("==== start #%d: %s\n" % (self.starts + 1, " ".join(args))).encode())
            logf.flush()
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.workdir))
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            m = READY_RE.search(self.log_since(mark))
            if m:
                self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
                return self
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail("gregord exited with %s before it was ready; log:\n%s" % (rc, self.log_since(mark)))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("gregord printed no 'listening on HOST:PORT' within %.0fs; log:\n%s"
                            % (START_TIMEOUT, self.log_since(mark)))
            time.sleep(0.02)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and require a clean exit (code 0)."""
        assert self.proc is not None and self.proc.poll() is None, "broker not running (rc=%s)" % (
            self.proc.poll() if self.proc else None)
        mark = self.log_size()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("gregord did not exit within %.0fs of SIGTERM; log:\n%s" % (timeout, self.log_since(mark)))
        assert rc == 0, "gregord exited with %d after SIGTERM; log:\n%s" % (rc, self.log_since(mark))
        self.port = None

    def restart(self):
        self.stop()
        return self.start()

    def kill9(self):
        assert self.proc is not None and self.proc.poll() is None, "broker not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.port = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self in _BROKERS:
            _BROKERS.remove(self)

    # ---- addresses

    @property
    def bootstrap(self):
        assert self.port is not None, "broker not running"
        return "%s:%d" % (self.host, self.port)

    # ---- log

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self):
        try:
            return self.log_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_since(self, mark):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, since=0, timeout=5.0, what=None):
        rx = re.compile(pattern, re.I)
        return wait_until(lambda: rx.search(self.log_since(since)), timeout,
                          what or "a broker log line matching /%s/" % pattern)

    # ---- disk

    def partition_dir(self, topic, partition):
        return self.data_dir / ("%s-%d" % (topic, partition))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in list(_BROKERS):
            text = b.log_text()
            lines = text.splitlines()
            if len(lines) > 300:
                text = "\n".join(["... (%d earlier lines in %s)" % (len(lines) - 300, b.log_path)] + lines[-300:])
            if b.proc is None:
                status = "never started"
            elif b.proc.poll() is None:
                status = "running"
            else:
                status = "exited with %s" % b.proc.returncode
            rep.sections.append(("gregord log %s (%s)" % (b.log_path, status), text))


def _make_broker(tmp_path_factory, overrides=None, name="broker"):
    b = Broker(tmp_path_factory.mktemp(name), overrides=overrides)
    b.start()
    return b


@pytest.fixture
def broker(tmp_path_factory):
    """A fresh broker for one test."""
    b = _make_broker(tmp_path_factory)
    yield b
    b.cleanup()


@pytest.fixture
def broker_factory(tmp_path_factory):
    """Start brokers with broker-level overrides: broker_factory({...})."""
    made = []

    def make(overrides=None, name="broker"):
        b = _make_broker(tmp_path_factory, overrides, name)
        made.append(b)
        return b

    yield make
    for b in made:
        b.cleanup()


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory, request):
    """One broker shared by a module's tests; a module may set
    BROKER_OVERRIDES = {...} for broker-level config."""
    overrides = getattr(request.module, "BROKER_OVERRIDES", None)
    b = _make_broker(tmp_path_factory, overrides, request.module.__name__.split(".")[-1])
    yield b
    b.cleanup()
