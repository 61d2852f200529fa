"""Edge worker benchmark. Prints RESULT lines; baselines are measured in the same run.

    .venv/bin/python bench/edge.py --quick

- edge_static_cpu_ratio: CPU of the whole camera pipeline (decode, sample, motion gate, detector on
  refresh) on a static 720p15 stream, divided by the CPU of decoding the same stream alone.
- edge_cameras_per_2_cores: how many 720p cameras (busy scene, 5 fps detection, yolo11n int8 @320)
  run at once with no detection frame dropped and >= 95 % of the detection rate.
- detector_batch_speedup: frames/s of batched inference over one-at-a-time inference.
Streams are local H.264 files decoded in real time (same decoder path as RTSP, without the network).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.config import Camera, FileSource, OnnxDetector
from edge.detect.loop import DetectionLoop
from edge.detect.registry import create_detector
from edge.pipeline import CameraPipeline
from edge.source.stream import VideoStream
from edge.source.supervisor import CameraSupervisor, ReconnectPolicy

REPO = Path(__file__).resolve().parents[1]


def find(env: str, *candidates: Path) -> Path:
    configured = os.environ.get(env)
    for path in [Path(configured)] if configured else list(candidates):
        if path.is_file():
            return path
    raise SystemExit(f"bench/edge.py: set {env} (not found in {', '.join(map(str, candidates))})")


def encode(args: list[str], out: Path) -> Path:
    if not out.exists():
        x264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "15", "-f", "h264"]
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, *x264, str(out)], check=True)
    return out


WARMUP_S = 2.0


def steady_cpu(seconds: float) -> float:
    """Process CPU seconds over `seconds`, after a warm-up (model, tracker, first inference)."""
    time.sleep(WARMUP_S)
    started = time.process_time()
    time.sleep(seconds)
    return time.process_time() - started


def decode_alone(clip: Path, seconds: float) -> float:
    stop = threading.Event()
    stream = VideoStream(FileSource(type="file", path=str(clip)), REPO, stop)
    stream.open()
    cpu: list[float] = []
    timer = threading.Thread(target=lambda: (cpu.append(steady_cpu(seconds)), stop.set()))
    timer.start()
    for _ in stream.frames():
        pass
    stream.close()
    timer.join()
    return cpu[0]


def make_camera(camera_id: str, clip: Path, refresh: str = "10s") -> Camera:
    return Camera.model_validate(
        {
            "id": camera_id,
            "name": camera_id,
            "site": "bench",
            "worker": "bench",
            "source": {"type": "file", "path": str(clip)},
            "detect": {"fps": 5, "detector": "bench"},
            "motion": {"refresh_interval": refresh},
        }
    )


def run_cameras(cameras: list[Camera], detector: object, seconds: float) -> tuple[list[CameraPipeline], float]:
    loop = DetectionLoop(lambda _name: detector)  # type: ignore[arg-type,return-value]
    pipelines, supervisors = [], []
    for camera in cameras:
        pipeline = CameraPipeline(camera, "bench", detector.names, lambda _e: None, "bench")  # type: ignore[attr-defined]
        loop.add(pipeline)
        supervisor = CameraSupervisor(
            camera, pipeline.queue, pipeline.counters, lambda *_: None, ReconnectPolicy(), REPO
        )
        pipelines.append(pipeline)
        supervisors.append(supervisor)
    loop.start()
    for supervisor in supervisors:
        supervisor.start()
    cpu = steady_cpu(seconds)
    for supervisor in supervisors:
        supervisor.stop()
    loop.stop()
    return pipelines, cpu


def static_ratio(clip: Path, detector: object, seconds: float) -> float:
    decode = decode_alone(clip, seconds)
    _, full = run_cameras([make_camera("static", clip)], detector, seconds)
    print(f"static 720p15 over {seconds:.0f} s: decode alone {decode:.2f} s CPU, full pipeline {full:.2f} s CPU")
    return full / decode


def sustained(count: int, clip: Path, detector: object, seconds: float) -> bool:
    cameras = [make_camera(f"cam{i}", clip) for i in range(count)]
    pipelines, _ = run_cameras(cameras, detector, seconds)
    dropped = sum(p.queue.dropped for p in pipelines)
    inferences = sum(p.counters.inferences for p in pipelines)
    expected = count * 5 * (seconds + WARMUP_S)
    print(f"{count} cameras: {inferences} inferences of ~{expected:.0f} expected, {dropped} frames dropped")
    return dropped == 0 and inferences >= 0.95 * (expected - count * 5)  # first second: connecting


def batch_speedup(detector: object, frames: list[object], repeats: int) -> float:
    detect = detector.detect  # type: ignore[attr-defined]
    detect(frames, 0.25)
    began = time.perf_counter()
    for _ in range(repeats):
        for frame in frames:
            detect([frame], 0.25)
    single = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(repeats):
        detect(frames, 0.25)
    batched = time.perf_counter() - began
    print(f"{repeats * len(frames)} frames: one at a time {single:.2f} s, batched by {len(frames)} {batched:.2f} s")
    return single / batched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    args = parser.parse_args()
    seconds = 6.0 if args.quick else 20.0
    model = find("IOC_TEST_MODEL", REPO.parent / "shared/models/yolo11n_int8_320.onnx")
    video = find("IOC_TEST_VIDEO", REPO.parent / "shared/data/vtest.avi")
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    static = encode(["-f", "lavfi", "-i", "smptehdbars=size=1280x720:rate=15", "-t", "4"], work / "static.264")
    busy = encode(["-i", str(video), "-t", "20", "-vf", "scale=1280:720", "-r", "15"], work / "busy.264")
    from edge.track import CameraTracker

    CameraTracker(5.0, {})  # import ultralytics' tracker (and torch) before anything is timed
    detector = create_detector(OnnxDetector(type="onnx", model=str(model), imgsz=320, max_batch=8), REPO)
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = [cv2.resize(capture.read()[1], (1280, 720)) for _ in range(8)]
    speedup = batch_speedup(detector, frames, 2 if args.quick else 6)
    ratio = static_ratio(static, detector, seconds)
    best = 0
    for count in (2, 4, 6, 8) if args.quick else (1, 2, 3, 4, 5, 6, 7, 8, 10, 12):
        if not sustained(count, busy, detector, seconds):
            break
        best = count
    print(f"RESULT edge_static_cpu_ratio {ratio:.2f}")
    print(f"RESULT edge_cameras_per_2_cores {best}")
    print(f"RESULT detector_batch_speedup {speedup:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
