"""`ioc demo`: start every part in order with clear progress, print the console URL and login,
stop everything cleanly on Ctrl-C (or when a part dies)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from contract.config import load_config
from contract.jetstream import STREAM_NAME, subject_of
from contract.mqttclient import MqttProtocol
from contract.mqtturl import parse_mqtt_url
from contract.topics import Topics
from ioc.demo.cameras import demo_clips
from ioc.demo.config import DEMO_WORKER, DemoInputs, find_model, find_video, write_demo_config
from ioc.demo.history import backfill
from ioc.demo.services import Service, ServiceStack, die_with_parent, start_database, start_nats_or_broker, stop_process
from ioc.demo.weights import obtain_weights
from ioc.netutil import free_port
from ioc.sim.publisher import SensorSimulator
from ioc.sim.sinks import JetStreamSink, MqttSink, ReadingSink
from ioc.sim.stations import start_demo_loggers

T = TypeVar("T")


@dataclass(frozen=True)
class DemoOptions:
    port: int
    workdir: Path
    database_url: str | None
    mqtt_url: str | None
    nats_url: str | None
    video: str | None
    model: str | None
    time_scale: float
    open_browser: bool


class Progress:
    """Numbered steps on stdout, each with its duration."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def step(self, title: str, action: Callable[[], T]) -> T:
        self.done += 1
        print(f"[{self.done}/{self.total}] {title} ...", end="", flush=True)
        started = time.monotonic()
        try:
            result = action()
        except BaseException:
            print(" failed", flush=True)
            raise
        print(f" ok ({time.monotonic() - started:.1f}s)", flush=True)
        return result


class SimulatorService:
    """The in-process sensor simulator as a demo service."""

    def __init__(self, simulator: SensorSimulator) -> None:
        self.simulator = simulator
        self.url = ""
        self.description = f"{len(simulator.sensors)} simulated sensors"

    def stop(self) -> None:
        self.simulator.stop()


class ChildProcess:
    """A part of the system run as `python -m ioc.cli ...`, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.url = ""
        self.description = f"{name} (log: {log_path})"
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops the parts in order
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - and if the demo dies, so do they
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        stop_process(self.process, signal.SIGINT, timeout)
        self._log.close()


def _wait_until(check: Callable[[], bool], timeout: float, what: str, process: ChildProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited (code {process.process.returncode}); see {process.log_path}")
        if check():
            return
        time.sleep(0.25)
    raise TimeoutError(f"{what} not ready after {timeout:g}s; see {process.log_path}")


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class EdgeStatusWatcher:
    """Follows the retained `<prefix>/edge/<worker>/status` message: the edge's own word that it runs."""

    def __init__(self, broker_url: str, topic: str, protocol: MqttProtocol = "5") -> None:
        from contract.mqttclient import make_client

        self.state: str | None = None
        endpoint = parse_mqtt_url(broker_url)
        self._client = make_client(endpoint, protocol=protocol)
        self._client.on_message = lambda _c, _u, message: self._update(bytes(message.payload))
        self._client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self._client.connect_async(endpoint.host, endpoint.port)
        self._client.loop_start()

    def _update(self, payload: bytes) -> None:
        try:
            self.state = str(json.loads(payload).get("state"))
        except (ValueError, AttributeError):
            self.state = None

    def online(self) -> bool:
        return self.state == "online"

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class StreamStatusWatcher:
    """The last message on the edge's status subject in stream IOC (however it was published)."""

    def __init__(self, nats_url: str, topic: str) -> None:
        self._servers = nats_url.split(",")
        self._subject = subject_of(topic)

    def online(self) -> bool:
        return asyncio.run(self._state()) == "online"

    async def _state(self) -> str | None:
        import nats

        try:
            nc = await nats.connect(servers=self._servers, connect_timeout=2, allow_reconnect=False)
        except Exception:
            return None
        try:
            message = await nc.jetstream(timeout=2).get_last_msg(STREAM_NAME, self._subject)
            return str(json.loads(message.data or b"{}").get("state"))
        except Exception:
            return None
        finally:
            await nc.close()

    def close(self) -> None:
        return None


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.stack = ServiceStack()
        self.ftp_port = free_port()  # the station-file receiver's FTP port (the TT-10 station uploads to it)
        self.children: list[ChildProcess] = []
        self.stopping = threading.Event()
        self._model_reason = ""
        """where the detector weights came from, or why there are none"""

    def run(self) -> int:
        self.options.workdir.mkdir(parents=True, exist_ok=True)
        with self.stack:
            server_url, password = self._start_all(Progress(7))
            self._announce(server_url, password)
            self._supervise()
            print("\nstopping ...", flush=True)
        print("stopped.")
        return 0

    def _start_all(self, progress: Progress) -> tuple[str, str]:
        """Every part, in dependency order; each is stopped by the stack, in reverse, on exit."""
        options = self.options
        video = find_video(options.video)
        clips = tuple(demo_clips(video, options.workdir))
        model, self._model_reason = find_model(options.model), ""
        if model is None:
            weights = obtain_weights(options.workdir / "models")
            model, self._model_reason = weights.path, weights.reason
        inputs = DemoInputs(video=video, model=model, clips=clips)
        database = progress.step("database", lambda: start_database(options.database_url, options.workdir / "db"))
        self._started(database)
        broker = progress.step(
            "broker", lambda: start_nats_or_broker(options.mqtt_url, options.nats_url, options.workdir)
        )
        self._started(broker)
        nats_url: str | None = getattr(broker, "nats_url", None)
        config_path, config = progress.step("configuration", lambda: write_demo_config(options.workdir, inputs))
        counts = f"{len(config.cameras)} camera(s), {len(config.sensors)} sensors, {len(config.rules)} rules"
        print(f"      {config_path}: {counts}")
        self._explain_inputs(inputs)
        written = progress.step("history", lambda: backfill(database.url, config))
        print(f"      a week of simulated readings: {written}")
        password = secrets.token_urlsafe(12)
        env = self._environment(database.url, broker.url, config_path, password)
        if nats_url is not None:  # server, edge and simulator on the jetstream transport
            env.update(IOC_TRANSPORT="jetstream", IOC_NATS_URL=nats_url, IOC_MQTT_PROTOCOL="3.1.1")
        server_url = f"http://127.0.0.1:{options.port}"
        server = self._start_child("server", ["server"], env)
        progress.step("server", lambda: _wait_until(lambda: _health_ok(f"{server_url}/health"), 90, "server", server))
        edge_args = ["edge", "--worker-id", DEMO_WORKER, "--spool-dir", str(options.workdir / "spool")]
        edge = self._start_child("edge", edge_args, env)
        status_topic = Topics(config.mqtt.topic_prefix).edge_status(DEMO_WORKER)
        watcher: EdgeStatusWatcher | StreamStatusWatcher = (
            StreamStatusWatcher(nats_url, status_topic) if nats_url else EdgeStatusWatcher(broker.url, status_topic)
        )
        try:
            progress.step("edge worker", lambda: _wait_until(watcher.online, 90, "the edge worker", edge))
        finally:
            watcher.close()
        self.stack.add(
            progress.step("simulated sensors", lambda: self._start_simulator(config_path, broker.url, nats_url))
        )
        return server_url, password

    def _started(self, service: Service) -> None:
        self.stack.add(service)
        print(f"      {service.description}")

    def _environment(self, database_url: str, mqtt_url: str, config_path: Path, password: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            IOC_DATABASE_URL=database_url,
            IOC_MQTT_URL=mqtt_url,
            IOC_CONFIG=str(config_path),
            IOC_HOST="127.0.0.1",
            IOC_PORT=str(self.options.port),
            IOC_AUTH_BOOTSTRAP_PASSWORD=password,
            IOC_SNAPSHOT_DIR=str(self.options.workdir / "snapshots"),
            IOC_STATION_FILES_DIR=str(self.options.workdir / "stations"),
            IOC_FTP_PORT=str(self.ftp_port),
            YOLO_OFFLINE="1",
            YOLO_AUTOINSTALL="0",
            YOLO_CONFIG_DIR=str(self.options.workdir / "ultralytics"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _start_child(self, name: str, args: list[str], env: dict[str, str]) -> ChildProcess:
        child = ChildProcess(name, args, env, self.options.workdir / f"{name}.log")
        self.children.append(child)
        self.stack.add(child)
        return child

    def _start_simulator(self, config_path: Path, broker_url: str, nats_url: str | None) -> SimulatorService:
        simulator_config = load_config(config_path, env={})
        endpoint = parse_mqtt_url(broker_url)
        sink: ReadingSink = (
            JetStreamSink(nats_url.split(","), "ioc-demo-sim") if nats_url else MqttSink(endpoint, "ioc-demo-sim")
        )
        simulator = SensorSimulator(
            simulator_config, endpoint, interval=2.0, time_scale=self.options.time_scale, season=1.0, sink=sink
        )
        simulator.start()
        loggers = start_demo_loggers(
            simulator_config, parse_mqtt_url(broker_url), ("127.0.0.1", self.ftp_port), self.options.time_scale
        )
        self.stack.add(loggers)
        return SimulatorService(simulator)

    def _explain_inputs(self, inputs: DemoInputs) -> None:
        if inputs.video is None and inputs.clips:
            print("      no vtest.avi found: the cameras loop clips made from ultralytics' sample pictures")
        if not inputs.clips and inputs.video is None:
            print("      no demo video found: set IOC_DEMO_VIDEO or pass --video (vtest.avi: Debian's opencv-doc)")
        if inputs.model is None:
            print(
                "      no detector model (./models, --model, IOC_DEMO_MODEL) and none fetched: "
                f"{self._model_reason}. The cameras play without detection; put yolo11n.pt or an ONNX "
                "export in ./models (see models/README.md)"
            )
        elif self._model_reason:
            print(f"      detector weights: {self._model_reason}")

    def _announce(self, server_url: str, password: str) -> None:
        print()
        print(f"IOC Monitor is running: {server_url}  (login: admin / {password})")
        print(f"logs and data: {self.options.workdir}   Ctrl-C stops everything.")
        if self.options.open_browser:
            import webbrowser

            webbrowser.open(server_url)

    def _supervise(self) -> None:
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        while not self.stopping.wait(1.0):
            dead = [child for child in self.children if not child.alive()]
            if dead:
                print(f"\n{dead[0].name} stopped unexpectedly; see {dead[0].log_path}", file=sys.stderr)
                return
