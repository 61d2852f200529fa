"""Edge test helpers: the test model, streams.yaml writing, an in-process worker, an MQTT recorder."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[2]


def find_model(env: str, name: str) -> Path | None:
    candidates = [os.environ.get(env), str(REPO / "models" / name), str(REPO.parent / "shared" / "models" / name)]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="session")
def model_path() -> Path:
    found = find_model("IOC_TEST_MODEL", "yolo11n_int8_320.onnx")
    if found is None:
        pytest.skip("test model not found: set IOC_TEST_MODEL to yolo11n_int8_320.onnx (see models/README.md)")
    return found


def streams_yaml(prefix: str, cameras: list[dict[str, Any]], model: Path, worker: str = "edge-test") -> dict[str, Any]:
    return {
        "version": 1,
        "mqtt": {"topic_prefix": prefix},
        "sites": [{"id": "site", "name": "Test site", "timezone": "Asia/Ho_Chi_Minh"}],
        "edge_workers": [{"id": worker, "stats_interval": "1s", "spool_max_events": 1000}],
        "detectors": {"default": {"type": "onnx", "model": str(model), "imgsz": 320, "max_batch": 4}},
        "cameras": cameras,
    }


def camera(camera_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": camera_id,
        "name": camera_id,
        "site": "site",
        "worker": "edge-test",
        "source": {"type": "rtsp", "url": url},
        **extra,
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Recorder:
    """A persistent-session MQTT 5 subscriber that keeps every message, in arrival order."""

    url_host: str
    port: int
    topic: str
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: mqtt.Client | None = None

    def start(self, client_id: str) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        client.connect(self.url_host, self.port, clean_start=False, properties=props)
        client.loop_start()
        self.client = client

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = json.loads(message.payload) if message.payload else {}
        with self.lock:
            self.messages.append((message.topic, payload))

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    def select(self, predicate: Callable[[str, dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for topic, payload in self.messages if predicate(topic, payload)]

    def state_changes(self, camera_id: str) -> list[str]:
        """The camera's status states in order, repeats folded (online statuses repeat with frame rates)."""
        with self.lock:
            states = [p.get("state") for t, p in self.messages if t.endswith(f"cameras/{camera_id}/status")]
        return [str(s) for i, s in enumerate(states) if i == 0 or states[i - 1] != s]

    def wait_for_change(self, camera_id: str, state: str, count: int, timeout: float) -> bool:
        """Wait until the camera has changed to `state` `count` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state_changes(camera_id).count(state) >= count:
                return True
            time.sleep(0.05)
        return False

    def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float, count: int = 1
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.select(predicate)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.select(predicate)


@pytest.fixture
def recorder(mqtt_broker: Any, topic_prefix: str) -> Iterator[Recorder]:
    rec = Recorder(mqtt_broker.host, mqtt_broker.port, f"{topic_prefix}/#")
    rec.start(f"rec-{topic_prefix}")
    yield rec
    rec.stop()


def status_of(camera_id: str, state: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda topic, p: topic.endswith(f"cameras/{camera_id}/status") and p.get("state") == state


def events_of(kind: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda topic, p: topic.endswith("/events") and p.get("kind") == kind


class WorkerRunner:
    """Starts EdgeWorkers in this process (each with its own run thread) and stops them afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[Any, threading.Event, threading.Thread]] = []

    def __call__(self, config: Path, mqtt_url: str, **settings: Any) -> Any:
        from edge.settings import EdgeSettings
        from edge.worker import EdgeWorker

        options: dict[str, Any] = {
            "config": config,
            "worker_id": "edge-test",
            "mqtt_url": mqtt_url,
            "spool_dir": self.tmp_path / "spool",
            "reload_interval_s": 0.3,
            "reconnect_initial_s": 0.3,
            "reconnect_max_s": 2.0,
            "rejected_retry_s": 30.0,
        }
        worker = EdgeWorker.from_settings(EdgeSettings(**{**options, **settings}))
        worker.start()
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        self.running.append((worker, stop, thread))
        return worker

    def stop(self, worker: Any) -> None:
        for entry in list(self.running):
            if entry[0] is worker:
                self.running.remove(entry)
                entry[1].set()
                entry[2].join(10)
                worker.stop()


@pytest.fixture
def run_worker(tmp_path: Path) -> Iterator[WorkerRunner]:
    runner = WorkerRunner(tmp_path)
    yield runner
    for worker, _, _ in list(runner.running):
        runner.stop(worker)
