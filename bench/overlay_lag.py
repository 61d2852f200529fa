"""The overlay's time error in a real browser (`RESULT overlay_lag_ms`, run by bench/live.py), and
the same against the real edge worker (`--edge real`).

    .venv/bin/python bench/overlay_lag.py --quick [--edge stand-in|real]

A real server (`ioc server`, its own process) with one RTSP camera, Debian's Chromium (Playwright)
showing it; for each displayed frame the index is read from its pixels and the overlay's drawn box
compared with where the object really is in that frame: position error / speed = time error
(median and p95).

- `--edge stand-in` (the default): the indexed clip of tests/server/console/overlay_clip.py (a box
  at 100 px/s) and an edge stand-in publishing the true box of 5 pictures a second 150 ms after each
  picture arrived (QoS 0, `live/<prefix>/cameras/cam/detections`): overlay_lag_ms,
  overlay_lag_p95_ms, overlay_drawn_pct (frames away from the box's turns that had a box).
- `--edge real`: the clip of tests/server/console/person_clip.py (the man from ultralytics' bus.jpg
  standing 2 s, then walking at 105 px/s out of the frame) watched by a real `ioc edge` process
  (IOC_TEST_MODEL, yolo11n int8 @320, ByteTrack, 5 detected frames a second, motion gate off).
  The detector's constant offset along the motion (`overlay_real_edge_bias_px`) is the median
  drawn-minus-true centre over the frames where he stands still; the time error of a frame where
  he walks (from 1 s after he starts until he reaches the edge) is |drawn - true - bias| / speed:
  overlay_lag_real_edge_ms, overlay_lag_real_edge_p95_ms, overlay_real_edge_drawn_pct.
  overlay_real_edge_tracker_lag_ms is the same error for the edge's own boxes (the same detector and
  tracker run here on the clip's frames, no network, no browser): the part of the lag that is the
  tracker's Kalman filter settling after he starts, not the overlay's.

Needs PostgreSQL (as bench/alerts.py), Mosquitto, python3-gi's RTSP server, ffmpeg and
/usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.alerts import bench_database, mosquitto, server_process, stop  # noqa: E402
from ioc.netutil import free_port, wait_for_port  # noqa: E402
from tests.fixtures.browser import CHROMIUM, FLAGS  # noqa: E402
from tests.server.console import person_clip  # noqa: E402
from tests.server.console.overlay_clip import (  # noqa: E402
    DetectionPublisher,
    install_sampler,
    make_indexed_clip,
    near_turn,
    summary,
    take_samples,
    time_errors_ms,
)

RTSP_SCRIPT = REPO / "tests" / "fixtures" / "rtsp_server.py"
PREFIX = "bench"
ADMIN = "admin"


def streams_yaml(rtsp_url: str) -> str:
    return f"""version: 1
mqtt: {{topic_prefix: {PREFIX}, shared_group: null}}
sites: [{{id: s1, name: Site 1}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - {{id: cam, name: Cam, site: s1, worker: edge-1, source: {{type: rtsp, url: "{rtsp_url}"}}}}
"""


@contextlib.contextmanager
def rtsp_camera(clip: Path) -> Iterator[str]:
    port = free_port()
    command = ["/usr/bin/python3", str(RTSP_SCRIPT), "--port", str(port), "--fps", "15", "--mount", f"cam={clip}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"rtsp://127.0.0.1:{port}/cam"
    finally:
        stop(process)


@contextlib.contextmanager
def server(workdir: Path, database_url: str, broker_port: int, config: Path, password: str) -> Iterator[str]:
    with server_process(
        workdir, database_url, broker_port, config, password, IOC_LIVE_HOST_ADDRESSES='["127.0.0.1"]'
    ) as base:
        yield base


@contextlib.contextmanager
def edge_worker(workdir: Path, config: Path, broker_port: int) -> Iterator[None]:
    """A real `ioc edge` process watching the config's camera."""
    log = (workdir / "edge.log").open("wb")
    command = [sys.executable, "-m", "ioc.cli", "edge", "--config", str(config), "--worker-id", "edge-1"]
    command += ["--mqtt-url", f"mqtt://127.0.0.1:{broker_port}", "--spool-dir", str(workdir / "spool")]
    command += ["--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        stop(process)
        log.close()
        if process.returncode not in (0, -15):
            raise SystemExit(
                f"bench/overlay_lag.py: the edge worker failed:\n{(workdir / 'edge.log').read_text()[-3000:]}"
            )


@contextlib.contextmanager
def stand_in(rtsp_url: str, broker_port: int) -> Iterator[None]:
    topic = f"live/{PREFIX}/cameras/cam/detections"
    publisher = DetectionPublisher(rtsp_url, ("127.0.0.1", broker_port), topic, "cam").start()
    try:
        yield
    finally:
        publisher.stop()


Feed = Callable[[], contextlib.AbstractContextManager[None]]


def watch(base: str, password: str, feed: Feed, seconds: float) -> list[dict[str, Any]]:
    """The displayed frames' samples over `seconds`, once `feed`'s detections are drawn in step."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base)
        page.fill("#login-user", ADMIN)
        page.fill("#login-pass", password)
        page.click("#login-submit")
        page.wait_for_function("() => document.querySelector('.tile video')?.videoWidth > 0", timeout=30000)
        page.wait_for_function("() => Overlay.views['cam']?.clock && Overlay.views['cam']?.video", timeout=10000)
        install_sampler(page, "cam")
        try:
            with feed():
                page.wait_for_function("() => Overlay.views['cam'].delayMs > 0", timeout=20000)
                time.sleep(2.0)
                take_samples(page)
                time.sleep(seconds)
                samples = take_samples(page)
        finally:
            browser.close()
    return samples


def measure_overlay_lag(workdir: Path, seconds: float) -> dict[str, float]:
    """{"median", "p95" (ms), "count", "drawn_pct"}: the overlay's time error over `seconds`."""
    password = uuid.uuid4().hex
    clip = make_indexed_clip(workdir / "indexed.264")
    config = workdir / "streams.yaml"
    with (
        bench_database() as database_url,
        mosquitto(workdir) as broker_port,
        rtsp_camera(clip) as rtsp_url,
    ):
        config.write_text(streams_yaml(rtsp_url), encoding="utf-8")
        with server(workdir, database_url, broker_port, config, password) as base:
            samples = watch(base, password, lambda: stand_in(rtsp_url, broker_port), seconds)
    away = [s for s in samples if not near_turn(s["index"])]
    drawn = [s for s in away if s["boxes"]]
    errors = time_errors_ms(samples)
    if not errors:
        raise SystemExit(f"bench/overlay_lag.py: no box drawn over {len(samples)} displayed frames")
    return {**summary(errors), "drawn_pct": 100.0 * len(drawn) / max(1, len(away))}


def find_model() -> Path:
    name = "yolo11n_int8_320.onnx"
    configured = os.environ.get("IOC_TEST_MODEL")
    candidates = (
        [Path(configured)] if configured else [REPO / "models" / name, REPO.parent / "shared" / "models" / name]
    )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise SystemExit(f"bench/overlay_lag.py: set IOC_TEST_MODEL (not found in {', '.join(map(str, candidates))})")
    return found


def measure_real_edge_lag(workdir: Path, seconds: float) -> dict[str, float]:
    """person_clip.analyse's figures for the real edge worker over `seconds`, with "tracker_lag_ms"."""
    password = uuid.uuid4().hex
    model = find_model()
    clip = person_clip.make_person_clip(workdir / "person.264")
    config = workdir / "streams.yaml"
    with (
        bench_database() as database_url,
        mosquitto(workdir) as broker_port,
        rtsp_camera(clip) as rtsp_url,
    ):
        config.write_text(person_clip.person_streams_yaml(PREFIX, "cam", rtsp_url, model), encoding="utf-8")
        with (
            edge_worker(workdir, config, broker_port),
            server(workdir, database_url, broker_port, config, password) as base,
        ):
            samples = watch(base, password, contextlib.nullcontext, seconds)
    try:
        result = person_clip.analyse(samples)
    except ValueError as exc:
        raise SystemExit(f"bench/overlay_lag.py: {exc}") from exc
    gone = [s for s in samples if person_clip.is_gone(s["index"])]
    result["gone_frames"], result["gone_drawn"] = len(gone), sum(1 for s in gone if s["boxes"])
    result["tracker_lag_ms"] = tracker_lag_ms(clip, model)
    return result


def tracker_lag_ms(clip: Path, model: Path) -> float:
    """The median time error of the edge's own boxes: the clip's frames decoded here, every third
    (5 of 15 a second, as the edge samples them) through the same detector and tracker, twice round
    the loop (the second counted: the tracker carries its state across the loop as it does live)."""
    import av

    from contract.config import OnnxDetector
    from edge.detect.registry import create_detector
    from edge.source.frames import BgrImage
    from edge.track import CameraTracker

    detector = create_detector(OnnxDetector(type="onnx", model=str(model), imgsz=320, max_batch=1), REPO)
    tracker = CameraTracker(5.0, detector.names)
    person = next(index for index, name in detector.names.items() if name == "person")
    with av.open(str(clip)) as container:
        frames = [cast(BgrImage, f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]
    samples: list[dict[str, Any]] = []
    for round_ in range(2):
        for index in range(0, len(frames), 3):
            found = detector.detect([frames[index]], 0.4)[0]
            height, width = frames[index].shape[:2]
            objects = tracker.update(found.select(found.cls == person), width, height)
            if round_:
                samples.append({"index": index, "boxes": [list(o.box) for o in objects]})
    detector.close()
    bias = person_clip.detector_bias_px(samples)
    errors = person_clip.time_errors_ms(samples, bias)
    return sorted(errors)[len(errors) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one loop of the clip (< 1 min in all)")
    parser.add_argument("--edge", choices=["stand-in", "real"], default="stand-in", help="who publishes the boxes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.edge == "stand-in":
            lag = measure_overlay_lag(Path(tmp), 5.0 if args.quick else 20.0)
            print(f"RESULT overlay_lag_ms {lag['median']:.0f} ms")
            print(f"RESULT overlay_lag_p95_ms {lag['p95']:.0f} ms")
            print(f"RESULT overlay_drawn_pct {lag['drawn_pct']:.0f} %")
            return
        real = measure_real_edge_lag(Path(tmp), 10.0 if args.quick else 30.0)
    print(f"frames where he walks: {real['count']:.0f}, position error p95 {real['position_p95_px']:.1f} px with bias")
    print(f"still: spread {real['still_spread_px']:.1f} px, drawn {real['still_drawn_pct']:.0f} %")
    print(f"after he left: {real['gone_drawn']:.0f} of {real['gone_frames']:.0f} frames had a box")
    print(f"RESULT overlay_lag_real_edge_ms {real['median']:.0f} ms")
    print(f"RESULT overlay_lag_real_edge_p95_ms {real['p95']:.0f} ms")
    print(f"RESULT overlay_real_edge_drawn_pct {real['walking_drawn_pct']:.0f} %")
    print(f"RESULT overlay_real_edge_bias_px {real['bias_px']:.1f} px")
    print(f"RESULT overlay_real_edge_tracker_lag_ms {real['tracker_lag_ms']:.0f} ms")


if __name__ == "__main__":
    main()
