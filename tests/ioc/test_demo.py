"""`ioc demo` on this machine: embedded PostgreSQL, a broker, the server, an edge worker and the
simulator come up; the console logs in; readings and alerts flow; Ctrl-C stops every part."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import psutil
import pytest

from tests.fixtures.services import free_port

READY = re.compile(r"IOC Monitor is running: (http://\S+)\s+\(login: (\S+) / (\S+)\)")


class DemoProcess:
    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "demo", "--port", str(port), "--no-browser", "--workdir", str(workdir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []

    def wait_ready(self, timeout: float) -> re.Match[str]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.lines.append(line)
            match = READY.search(line)
            if match:
                return match
        raise AssertionError("the demo did not come up:\n" + "".join(self.lines))

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


@pytest.fixture
def demo() -> Iterator[DemoProcess]:
    # Not under pytest's tmp_path: every pytest session resets /tmp/pytest-of-<user> to 0700, which
    # locks the embedded PostgreSQL's own system user out of its data directory mid-test.
    workdir = Path(tempfile.mkdtemp(prefix="ioc-demo-test-", dir="/var/tmp"))
    process = DemoProcess(workdir / "demo", free_port())
    yield process
    if process.process.poll() is None:
        for part in process.descendants():
            part.kill()
        process.process.kill()
    # The embedded PostgreSQL is a daemon (pg_ctl): stop the one left by a killed demo.
    for leftover in psutil.process_iter(["cmdline"]):
        if str(process.workdir) in " ".join(leftover.info["cmdline"] or []):
            leftover.terminate()
    shutil.rmtree(workdir, ignore_errors=True)


def _open(opener: urllib.request.OpenerDirector, url: str, body: dict[str, str] | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def test_demo_runs_everything_and_stops_cleanly(demo: DemoProcess) -> None:
    if not os.environ.get("IOC_TEST_VIDEO"):
        pytest.skip("IOC_TEST_VIDEO is not set: the demo camera needs a clip")
    match = demo.wait_ready(timeout=150)
    url, user, password = match.groups()
    output = "".join(demo.lines)
    for step in ("database", "broker", "configuration", "server", "edge worker", "simulated sensors"):
        assert re.search(rf"\] {step} \.\.\. ok", output), output
    parts = demo.descendants()
    assert len(parts) >= 3, "server, edge worker, broker (and the embedded PostgreSQL) run as processes"

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
    _open(opener, f"{url}/api/auth/login", {"username": user, "password": password})
    deadline = time.monotonic() + 30
    sensors: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        sensors = _open(opener, f"{url}/api/sensors")  # type: ignore[assignment]
        if all(sensor.get("last") for sensor in sensors):
            break
        time.sleep(1)
    assert sensors and all(sensor.get("last") for sensor in sensors), sensors

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0
    assert demo.process.stdout is not None
    tail = demo.process.stdout.read()
    assert "stopped." in tail
    time.sleep(1)
    assert not [part for part in parts if part.is_running() and part.status() != psutil.STATUS_ZOMBIE]


def test_parts_die_with_the_demo_even_when_it_is_killed(demo: DemoProcess) -> None:
    if not os.environ.get("IOC_TEST_VIDEO"):
        pytest.skip("IOC_TEST_VIDEO is not set: the demo camera needs a clip")
    demo.wait_ready(timeout=150)
    parts = demo.descendants()
    assert parts
    demo.process.kill()  # no chance to clean up: the kernel must stop the parts (parent-death signal)
    demo.process.wait(timeout=10)
    _, alive = psutil.wait_procs(parts, timeout=30)
    assert not [part for part in alive if part.status() != psutil.STATUS_ZOMBIE], [p.cmdline() for p in alive]
