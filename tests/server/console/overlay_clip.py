"""A clip whose every frame says where its box is, and a detector that knows it: for measuring how
well the overlay's boxes keep in step with the picture (tests/server/console/test_overlay_sync.py,
bench/live.py).

The clip (640x360, 15 fps, 10 s, looped by the RTSP server) shows a white box sliding right and
back at 100 px/s (a triangle wave: its position is continuous across the loop) and, along the
bottom, the frame's index in 8 black/white squares. `DetectionPublisher` pulls the same RTSP stream
with PyAV as an edge would, stamps each picture's arrival (wall clock), reads its index and
publishes the true box of every third picture (5 detected frames a second) as a
`LiveDetectionsPayload` after a detector-like delay. In the browser, `SAMPLER_JS` reads the index of
every displayed frame from its pixels beside the boxes the overlay drew for it; the distance
between a drawn box and the true one, over the box's speed, is the overlay's time error.
"""

from __future__ import annotations

import heapq
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np

from contract.config import FileSource
from contract.mqttclient import make_client
from contract.mqtturl import MqttEndpoint
from contract.payloads import LiveDetectionsPayload, LiveObject
from edge.source.stream import VideoStream

WIDTH, HEIGHT, FPS = 640, 360, 15
LOOP_FRAMES = 150
"""the clip's length in frames (10 s)"""
BOX_X0, BOX_TRAVEL, BOX_Y, BOX_W, BOX_H = 60, 500, 120, 60, 80
SPEED_PX_S = 2 * BOX_TRAVEL / (LOOP_FRAMES / FPS)
BITS, BIT_W, BIT_Y, BIT_H = 8, 40, 330, 24


def make_indexed_clip(path: Path) -> Path:
    """Raw H.264 (Annex-B, for the RTSP server), or an MP4 when `path` ends in .mp4 (a file camera)."""
    if shutil.which("ffmpeg") is None:
        raise FileNotFoundError("ffmpeg is not installed (apt-get install ffmpeg)")
    period = LOOP_FRAMES / FPS
    x = f"{BOX_X0}+{BOX_TRAVEL}*(1-abs(2*t/{period}-1))"  # overlay evaluates x per frame (drawbox does not)
    graph = [
        f"color=c=gray:size={WIDTH}x{HEIGHT}:rate={FPS}[bg]",
        f"color=c=white:size={BOX_W}x{BOX_H}:rate={FPS}[box]",
    ]
    chain = [f"[bg][box]overlay=x='{x}':y={BOX_Y}:shortest=1"]
    chain.append(f"drawbox=x=0:y={BIT_Y - 4}:w={WIDTH}:h={BIT_H + 8}:color=black:t=fill")
    for bit in range(BITS):
        on = f"mod(floor(n/{2**bit}),2)"
        chain.append(f"drawbox=x={8 + bit * BIT_W}:y={BIT_Y}:w={BIT_W - 8}:h={BIT_H}:color=white:t=fill:enable='{on}'")
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0", "-g", "15"]
    args = ["-filter_complex", ";".join([*graph, ",".join(chain)]), "-frames:v", str(LOOP_FRAMES), *x264]
    args += [str(path)] if path.suffix == ".mp4" else ["-bsf:v", "h264_mp4toannexb", "-f", "h264", str(path)]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=120)
    return path


def true_left(index: int) -> float:
    """The box's left edge (px) in frame `index`, as ffmpeg drew it (x is evaluated at t = n / fps)."""
    period = LOOP_FRAMES / FPS
    t = (index % LOOP_FRAMES) / FPS
    return float(int(BOX_X0 + BOX_TRAVEL * (1 - abs(2 * t / period - 1))))


def true_box(index: int) -> tuple[float, float, float, float]:
    left = true_left(index)
    return (left / WIDTH, BOX_Y / HEIGHT, (left + BOX_W) / WIDTH, (BOX_Y + BOX_H) / HEIGHT)


def near_turn(index: int, margin: int = 8) -> bool:
    """Near where the box turns back its speed is not SPEED_PX_S: no time error can be read there."""
    n = index % LOOP_FRAMES
    return min(n, abs(n - LOOP_FRAMES // 2), LOOP_FRAMES - n) < margin


def read_index(gray: np.ndarray[Any, Any]) -> int:
    y = BIT_Y + BIT_H // 2
    return sum(1 << bit for bit in range(BITS) if gray[y, 8 + bit * BIT_W + (BIT_W - 8) // 2] > 128)


@dataclass
class PublisherCounts:
    pictures: int = 0
    published: int = 0


class DetectionPublisher:
    """An edge stand-in: the RTSP stream decoded with PyAV, the true box of every `every`-th picture
    published `delay_s` after the picture arrived, at QoS 0 on the camera's live topic. With
    `objects=False` the frames say "nothing here"."""

    def __init__(
        self, rtsp_url: str, broker: tuple[str, int], topic: str, camera_id: str, delay_s: float = 0.15, every: int = 3
    ) -> None:
        self._url, self._topic, self._camera_id = rtsp_url, topic, camera_id
        self._delay_s, self._every = delay_s, every
        self.objects = True
        self.counts = PublisherCounts()
        self._stop = threading.Event()
        self._due: list[tuple[float, int, bytes]] = []
        self._lock = threading.Condition()
        self._client = make_client(MqttEndpoint(*broker), f"overlay-probe-{time.monotonic_ns()}", protocol="3.1.1")
        self._client.connect(*broker)
        self._client.loop_start()
        self._threads = [
            threading.Thread(target=self._pull, name="probe-pull", daemon=True),
            threading.Thread(target=self._send, name="probe-send", daemon=True),
        ]

    def start(self) -> DetectionPublisher:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._client.loop_stop()
        self._client.disconnect()

    def _pull(self) -> None:
        options = {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"}
        with av.open(self._url, options=options, timeout=10) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                arrived = datetime.now(UTC)
                for frame in packet.decode():
                    self._picture(frame.to_ndarray(format="gray"), arrived)
                if self._stop.is_set():
                    return

    def _picture(self, gray: np.ndarray[Any, Any], arrived: datetime) -> None:
        self.counts.pictures += 1
        if self.counts.pictures % self._every:
            return
        index = read_index(gray)
        objects = [LiveObject(box=true_box(index), label="person", confidence=0.9, track_id=1)] if self.objects else []
        seq = self.counts.pictures
        payload = LiveDetectionsPayload(camera_id=self._camera_id, ts=arrived, seq=seq, objects=objects)
        with self._lock:
            heapq.heappush(self._due, (time.monotonic() + self._delay_s, self.counts.pictures, payload.to_json()))
            self._lock.notify_all()

    def _send(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait = self._due[0][0] - time.monotonic() if self._due else 1.0
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, body = heapq.heappop(self._due)
            self._client.publish(self._topic, body, qos=0)
            self.counts.published += 1


class PhasedFilePublisher(DetectionPublisher):
    """An edge stand-in for a file camera: the edge's own file reader (`edge.source.stream`, the
    file phase-locked to the wall clock), each picture stamped with its `ts` as the edge does."""

    def _pull(self) -> None:
        path = Path(self._url)
        reader = VideoStream(FileSource(type="file", path=str(path)), path.parent, self._stop)
        reader.open()
        try:
            for decoded in reader.frames():
                self._picture(decoded.frame.to_ndarray(format="gray"), decoded.ts)
        finally:
            reader.close()


# Installed in the page: for every displayed frame of the camera's video, the index read from its
# pixels and the boxes the overlay drew for it (`window.__overlaySamples`, the last 3,000).
SAMPLER_JS = """(args) => {
  const [camera, bits, bitW, bitY, bitH] = args;
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  window.__overlaySamples = [];
  window.__iocOverlay = (cameraId, meta, drawn, view) => {
    if (cameraId !== camera || !view.video || !view.video.videoWidth) return;
    const video = view.video;
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const row = context.getImageData(0, bitY + Math.floor(bitH / 2), canvas.width, 1).data;
    let index = 0;
    for (let bit = 0; bit < bits; bit += 1) {
      const x = 8 + bit * bitW + Math.floor((bitW - 8) / 2);
      if (row[x * 4] > 128) index += 1 << bit;
    }
    const samples = window.__overlaySamples;
    samples.push({ index, t: drawn.t, boxes: drawn.boxes.map((b) => b.box), delay: view.delayMs,
      receiveTime: meta.receiveTime ?? null, captureTime: meta.captureTime ?? null });
    if (samples.length > 3000) samples.shift();
  };
}"""


def install_sampler(page: Any, camera_id: str) -> None:
    page.evaluate(SAMPLER_JS, [camera_id, BITS, BIT_W, BIT_Y, BIT_H])


def take_samples(page: Any) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = page.evaluate(
        "() => { const s = window.__overlaySamples; window.__overlaySamples = []; return s; }"
    )
    return samples


def time_errors_ms(samples: list[dict[str, Any]]) -> list[float]:
    """For each displayed frame with a box (away from the turns): |drawn left - true left| / speed."""
    errors = []
    for sample in samples:
        if not sample["boxes"] or near_turn(sample["index"]):
            continue
        drawn = sample["boxes"][0][0] * WIDTH
        errors.append(abs(drawn - true_left(sample["index"])) / SPEED_PX_S * 1000)
    return errors


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def summary(errors: list[float]) -> dict[str, float]:
    return {"median": statistics.median(errors), "p95": percentile(errors, 0.95), "count": len(errors)}
