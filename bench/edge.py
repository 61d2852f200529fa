"""Edge worker benchmark. Prints RESULT lines; baselines are measured in the same run.

    .venv/bin/python bench/edge.py --quick [--only static|cameras|idle|spool|flap|batch]

All figures are CPU-time based (getrusage of this process), so that other work on a shared host
changes them little; wall-clock figures are printed alongside for reference only.

- edge_static_cpu_ratio: CPU per frame of the whole camera pipeline (decode, sample, motion gate,
  detector and tracker on refresh) on a static 720p15 stream, divided by the CPU per frame of
  decoding the same stream alone. Both run CPU-bound over the same minutes of media time (sampling,
  motion gate and refresh follow the stream's clock), so the refresh inferences are included; the
  median of several runs is reported.
- edge_cameras_per_2_cores: the largest number of 720p cameras (busy scene, 5 fps detection,
  yolo11n int8 @320) that run in real time with no detection frame dropped, >= 95 % of the
  detection rate, and CPU headroom left (this process under 90 % of 2 cores). The search starts at
  2 and jumps to the count that the measured CPU per camera projects, then steps around it.
- edge_static_cameras_per_2_cores: the same search on a static 720p15 scene (keyframes only while
  idle), starting from the count the first run's CPU per camera projects.
- spool_replay_events_per_s: a spool of 20,000 events (5,000 quick) replayed to a private Mosquitto
  by the worker's sender, connect included.
- spool_flap_delivered_pct: ten link outages of 1.2 s (a loopback proxy cut) under 1,500 events/s;
  distinct events at a subscriber on the broker over events sent (duplicates printed beside).
- detector_batch_speedup: CPU per frame of one-at-a-time inference over CPU per frame of batched
  inference (batches of 8), same 8 frames, median of several alternating rounds.
Streams are local H.264 files decoded by the same code path as RTSP, without the network.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.config import Camera, FileSource, OnnxDetector
from edge.detect.loop import DetectionLoop
from edge.detect.protocol import Detector
from edge.detect.registry import create_detector
from edge.pipeline import CameraPipeline
from edge.source.stream import VideoStream
from edge.source.supervisor import CameraSupervisor, ReconnectPolicy

REPO = Path(__file__).resolve().parents[1]
CORES = 2
HEADROOM = 0.9  # a sustained count leaves 10 % of the 2 cores free
DETECT_FPS = 5
STREAM_FPS = 15
WARMUP_S = 2.0


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


def cpu_seconds() -> float:
    """CPU of this process, all threads (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


REGIONS: dict[str, object] = {}  # detect.regions of every camera (set from --max-regions)


def make_camera(camera_id: str, clip: Path, realtime: bool) -> Camera:
    return Camera.model_validate(
        {
            "id": camera_id,
            "name": camera_id,
            "site": "bench",
            "worker": "bench",
            "source": {"type": "file", "path": str(clip), "realtime": realtime},
            "detect": {"fps": DETECT_FPS, "detector": "bench", "regions": REGIONS},
            "motion": {"refresh_interval": "10s"},
        }
    )


class Cameras:
    """Camera pipelines, their supervisors and one detection loop, as the worker wires them."""

    def __init__(self, cameras: list[Camera], detector: Detector) -> None:
        self.loop = DetectionLoop(lambda _name: detector)
        self.pipelines: list[CameraPipeline] = []
        self.supervisors: list[CameraSupervisor] = []
        for camera in cameras:
            pipeline = CameraPipeline(camera, "bench", detector.names, lambda _e: None, "bench")
            self.loop.add(pipeline)
            policy = ReconnectPolicy()
            supervisor = CameraSupervisor(
                camera, pipeline.queue, pipeline.counters, lambda *_: None, policy, REPO, pipeline.is_tracking
            )
            self.pipelines.append(pipeline)
            self.supervisors.append(supervisor)

    def start(self) -> None:
        self.loop.start()
        for supervisor in self.supervisors:
            supervisor.start()

    def stop_capture(self) -> None:
        for supervisor in self.supervisors:
            supervisor.stop()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the detector has taken every queued frame (and finished the last one)."""
        deadline = time.monotonic() + timeout
        while any(len(p.queue) for p in self.pipelines) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        self.loop.stop()

    def crops(self) -> int:
        return sum(p.counters.region_crops for p in self.pipelines)

    def totals(self) -> tuple[int, int, int]:
        """media frames in, inferences, frames dropped by the detection queues"""
        frames = sum(p.counters.packets_in for p in self.pipelines)
        inferences = sum(p.counters.inferences for p in self.pipelines)
        return frames, inferences, sum(p.queue.dropped for p in self.pipelines)


# --- edge_static_cpu_ratio -------------------------------------------------------------------------


def decode_alone(clip: Path, frames: int) -> float:
    """CPU per frame of decoding `frames` frames of the looping clip, nothing else."""
    stop = threading.Event()
    began = cpu_seconds()
    stream = VideoStream(FileSource(type="file", path=str(clip), realtime=False), REPO, stop)
    stream.open()
    count = 0
    for _ in stream.frames():
        count += 1
        if count >= frames:
            break
    stream.close()
    return (cpu_seconds() - began) / count


def pipeline_alone(clip: Path, detector: Detector, frames: int) -> tuple[float, int, int]:
    """CPU per frame of the whole pipeline over `frames` frames; inferences and drops."""
    began = cpu_seconds()
    cameras = Cameras([make_camera("static", clip, realtime=False)], detector)
    cameras.start()
    counters = cameras.pipelines[0].counters
    while counters.packets_in < frames:  # media frames: idle, most are never decoded
        time.sleep(0.005)
    cameras.stop_capture()
    cameras.drain()
    _, inferences, dropped = cameras.totals()
    return (cpu_seconds() - began) / counters.packets_in, inferences, dropped


def static_ratio(clip: Path, detector: Detector, media_s: float, rounds: int) -> float:
    frames = int(media_s * STREAM_FPS)
    ratios: list[float] = []
    for index in range(rounds):
        if index % 2:  # alternate the order: the host's load drifts
            full, inferences, dropped = pipeline_alone(clip, detector, frames)
            decode = decode_alone(clip, frames)
        else:
            decode = decode_alone(clip, frames)
            full, inferences, dropped = pipeline_alone(clip, detector, frames)
        ratios.append(full / decode)
        print(
            f"static 720p15, {media_s:.0f} s of video: decode alone {decode * 1000:.2f} ms CPU/frame, "
            f"pipeline {full * 1000:.2f} ms CPU/frame ({inferences} inferences, {dropped} dropped): "
            f"{ratios[-1]:.3f}"
        )
    return statistics.median(ratios)


# --- edge_cameras_per_2_cores ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    count: int
    inferences: int
    expected: float
    dropped: int
    cpu_cores: float  # this process's CPU over the window, in cores
    host_busy: float  # the whole host's busy fraction over the window (others included)
    frames: int = 0  # media frames read (decoded or skipped as idle)
    expected_frames: float = 0.0
    idle_scene: bool = False  # a static scene: the motion gate holds detection back by design

    @property
    def sustained(self) -> bool:
        in_time = self.frames >= 0.95 * self.expected_frames
        detects = self.idle_scene or self.inferences >= 0.95 * self.expected
        return self.dropped == 0 and in_time and detects and self.cpu_cores <= HEADROOM * CORES

    @property
    def cores_per_camera(self) -> float:
        return self.cpu_cores / self.count


def host_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole host since boot, from /proc/stat (0, 0 elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def run_realtime(count: int, clip: Path, detector: Detector, seconds: float, idle_scene: bool = False) -> Run:
    cameras = Cameras([make_camera(f"cam{i}", clip, realtime=True) for i in range(count)], detector)
    cameras.start()
    time.sleep(WARMUP_S)
    frames_0, inferences_0, dropped_0 = cameras.totals()
    cpu_0, wall_0, host_0 = cpu_seconds(), time.monotonic(), host_ticks()
    time.sleep(seconds)
    frames_1, inferences_1, dropped_1 = cameras.totals()
    cpu_1, wall_1, host_1 = cpu_seconds(), time.monotonic(), host_ticks()
    crops = cameras.crops()
    cameras.stop_capture()
    cameras.loop.stop()
    elapsed = wall_1 - wall_0
    run = Run(
        count=count,
        inferences=inferences_1 - inferences_0,
        expected=count * DETECT_FPS * elapsed,
        dropped=dropped_1 - dropped_0,
        cpu_cores=(cpu_1 - cpu_0) / elapsed,
        host_busy=busy_fraction(host_0, host_1),
        frames=frames_1 - frames_0,
        expected_frames=count * STREAM_FPS * elapsed,
        idle_scene=idle_scene,
    )
    verdict = "sustained" if run.sustained else "NOT sustained"
    print(
        f"{count} cameras: {run.frames} frames of {run.expected_frames:.0f}, "
        f"{run.inferences} inferences of {run.expected:.0f} expected, {run.dropped} dropped, "
        f"this process {run.cpu_cores:.2f} cores ({run.cores_per_camera:.3f} per camera), "
        f"host {run.host_busy * 100:.0f} % busy, {crops} region crops: {verdict}"
    )
    return run


def cameras_per_cores(clip: Path, detector: Detector, seconds: float, max_runs: int, start: int = 2) -> int:
    """Largest sustained count: start at `start`, jump to the CPU projection, then step by one.
    `start` above 2 means a static scene (detection held back by the motion gate by design)."""
    runs: dict[int, Run] = {}
    count = start
    for _ in range(max_runs):
        run = runs[count] = run_realtime(count, clip, detector, seconds, idle_scene=start > 2)
        good = [n for n, r in runs.items() if r.sustained]
        bad = [n for n, r in runs.items() if not r.sustained]
        best, worst = max(good, default=0), min(bad, default=math.inf)
        if best + 1 >= worst:
            break
        projected = int(HEADROOM * CORES / max(run.cores_per_camera, 1e-3))
        if run.sustained:
            candidate = max(count + 1, min(projected, count * 2 if start == 2 else min(count * 4, 128)))
        else:
            candidate = max(best + 1, min(count - 1, projected)) if best + 1 < count else best
        count = int(min(candidate, worst - 1))
        if count in runs or count < 1:
            break
    sustained = [n for n, r in runs.items() if r.sustained]
    measured = [r for r in runs.values() if r.sustained] or list(runs.values())  # drops understate the cost
    if measured:
        per_camera = statistics.median(r.cores_per_camera for r in measured)
        print(f"CPU per camera {per_camera:.3f} cores: {HEADROOM * CORES / per_camera:.1f} cameras fit 2 idle cores")
    return max(sustained, default=0)


# --- detector_batch_speedup -----------------------------------------------------------------------


def batch_speedup(detector: Detector, frames: Sequence[npt.NDArray[np.uint8]], rounds: int) -> float:
    detector.detect(list(frames), 0.25)
    ratios: list[float] = []
    for index in range(rounds):
        timings: dict[str, tuple[float, float]] = {}
        for mode in ("single", "batched") if index % 2 == 0 else ("batched", "single"):
            cpu, wall = cpu_seconds(), time.perf_counter()
            if mode == "single":
                for frame in frames:
                    detector.detect([frame], 0.25)
            else:
                detector.detect(list(frames), 0.25)
            timings[mode] = (cpu_seconds() - cpu, time.perf_counter() - wall)
        ratios.append(timings["single"][0] / timings["batched"][0])
        print(
            f"{len(frames)} frames: one at a time {timings['single'][0] * 1000 / len(frames):.1f} ms CPU/frame "
            f"({timings['single'][1] * 1000 / len(frames):.1f} wall), batched "
            f"{timings['batched'][0] * 1000 / len(frames):.1f} ms CPU/frame "
            f"({timings['batched'][1] * 1000 / len(frames):.1f} wall): {ratios[-1]:.2f}"
        )
    return statistics.median(ratios)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    figures = ["static", "cameras", "idle", "spool", "flap", "batch"]
    parser.add_argument("--only", choices=figures, help="measure one figure only")
    parser.add_argument("--max-regions", type=int, help="detect.regions.max_regions (0: regions off)")
    args = parser.parse_args()
    if args.max_regions is not None:
        REGIONS.update({"enabled": False} if args.max_regions == 0 else {"max_regions": args.max_regions})
    wanted = {args.only} if args.only else set(figures)
    model = find("IOC_TEST_MODEL", REPO.parent / "shared/models/yolo11n_int8_320.onnx")
    video = find("IOC_TEST_VIDEO", REPO.parent / "shared/data/vtest.avi")
    work = Path(tempfile.gettempdir()) / "ioc-bench-edge"
    work.mkdir(exist_ok=True)
    static = encode(["-f", "lavfi", "-i", "smptehdbars=size=1280x720:rate=15", "-t", "4"], work / "static.264")
    busy = encode(["-i", str(video), "-t", "20", "-vf", "scale=1280:720", "-r", "15"], work / "busy.264")
    from edge.track import CameraTracker

    CameraTracker(5.0, {})  # build the tracker once before anything is timed
    detector = create_detector(OnnxDetector(type="onnx", model=str(model), imgsz=320, max_batch=8), REPO)
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = [np.asarray(cv2.resize(capture.read()[1], (1280, 720)), np.uint8) for _ in range(8)]
    results: dict[str, str] = {}
    if "batch" in wanted:
        speedup = batch_speedup(detector, frames, 3 if args.quick else 9)
        results["batch"] = f"RESULT detector_batch_speedup {speedup:.2f} ratio"
    if "static" in wanted:
        ratio = static_ratio(static, detector, 150.0 if args.quick else 600.0, 3)
        results["static"] = f"RESULT edge_static_cpu_ratio {ratio:.2f} ratio"
    if "cameras" in wanted:
        cameras = cameras_per_cores(busy, detector, 5.0 if args.quick else 20.0, 3 if args.quick else 8)
        results["cameras"] = f"RESULT edge_cameras_per_2_cores {cameras} cameras"
    if "idle" in wanted:
        idle = cameras_per_cores(static, detector, 5.0 if args.quick else 20.0, 3 if args.quick else 8, start=8)
        results["idle"] = f"RESULT edge_static_cameras_per_2_cores {idle} cameras"
    if "spool" in wanted:
        from bench.edge_spool import replay_rate

        results["spool"] = f"RESULT spool_replay_events_per_s {replay_rate(5000 if args.quick else 20000):.0f} events/s"
    if "flap" in wanted:
        from bench.edge_spool import flap_delivered_pct

        pct = flap_delivered_pct(10, 1500.0, 1.2, 0.7 if args.quick else 2.0)
        results["flap"] = f"RESULT spool_flap_delivered_pct {pct:.2f} percent"
    print("\n".join(results[key] for key in figures if key in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
