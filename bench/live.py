"""Live-view benchmark. Prints RESULT lines.

    .venv/bin/python bench/live.py --quick

- live_first_frame_ms: from sending a WebRTC offer for an idle camera (no pull open yet) to the
  first decoded frame at the viewer; includes opening RTSP and waiting for a keyframe.
- live_cpu_per_viewer_pct: CPU (% of one core) of the server process per viewer added beyond the
  first, 720p15 H.264 passed through (no transcoding); goal < 2.
- live_wall_9_cpu_pct: CPU of the server process for a 9-tile wall with one viewer: nine RTSP
  cameras (640x360 at 15 fps, the sub-stream a wall shows) passed through; goal <= 15.
- live_transcode_camera_cpu_pct: CPU of the server process for one file camera (640x360 at 15 fps)
  decoded and encoded to H.264 once, with one viewer: what a camera that cannot be passed through costs.
- overlay_lag_ms / overlay_lag_p95_ms: how far in time the overlay's box is from the object in the
  displayed frame it is drawn over (median, p95), in Chromium against a real `ioc server`, with
  detections 5 a second arriving 150 ms after their picture; goal <= 100 (bench/overlay_lag.py).
  overlay_drawn_pct: the displayed frames (away from the box's turns) that had a box.

The camera is a real GStreamer RTSP server (tests/fixtures/rtsp_server.py, Debian's python3-gi)
looping a 720p15 clip made with ffmpeg. The server side is `server.live.LiveHub` in its own
process (its CPU read from /proc); the viewers are aiortc peers in this process, which decode.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.overlay_lag import measure_overlay_lag  # noqa: E402
from ioc.netutil import free_port, wait_for_port  # noqa: E402
from server.live.hub import LiveHub  # noqa: E402
from server.live.pull import SourceSpec  # noqa: E402
from server.live.settings import LiveSettings  # noqa: E402

RTSP_SCRIPT = ROOT / "tests" / "fixtures" / "rtsp_server.py"


WALL = 9


def make_clip(directory: Path, size: str = "1280x720") -> Path:
    clip = directory / f"{size}p15.264"
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=15", "-t", "10", "-c:v", "libx264", "-preset", "veryfast"]
    args += ["-profile:v", "baseline", "-g", "15", "-bf", "0", "-sc_threshold", "0", "-bsf:v", "h264_mp4toannexb"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, "-f", "h264", str(clip)], check=True)
    return clip


def hub_process(sources: dict[str, tuple[str, bool]], pipe: Connection) -> None:
    """The server side: answers (camera, offer) arriving on `pipe` until it receives None."""

    async def serve() -> None:
        specs = {camera: SourceSpec(camera, url, rtsp=rtsp) for camera, (url, rtsp) in sources.items()}
        hub = LiveHub(LiveSettings(host_addresses=["127.0.0.1"]), specs)
        loop = asyncio.get_running_loop()
        pipe.send("ready")  # imports done, hub up, no camera open: what an idle camera means
        while (request := await loop.run_in_executor(None, pipe.recv)) is not None:
            camera, offer = request
            pipe.send(await hub.answer(camera, offer, "bench"))
        await hub.stop()

    asyncio.run(serve())


class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.first_frame = asyncio.get_running_loop().create_future()
        self.pc.on("track", lambda track: asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
                if not self.first_frame.done():
                    self.first_frame.set_result(time.monotonic())
        except MediaStreamError:
            return

    async def connect(self, pipe: Connection, camera: str = "cam") -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        loop = asyncio.get_running_loop()
        pipe.send((camera, self.pc.localDescription.sdp))
        _, sdp = await loop.run_in_executor(None, pipe.recv)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_percent(pid: int, seconds: float) -> float:
    before, start = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100.0 * (cpu_seconds(pid) - before) / (time.monotonic() - start)


async def measure(pipe: Connection, server: int, extra: int, window: float) -> tuple[float, float]:
    first = Viewer()
    sent = time.monotonic()
    await first.connect(pipe)
    first_frame_ms = (await asyncio.wait_for(first.first_frame, 30) - sent) * 1000
    await asyncio.sleep(2)
    one = await cpu_percent(server, window)
    viewers = [Viewer() for _ in range(extra)]
    for viewer in viewers:
        await viewer.connect(pipe)
    await asyncio.gather(*(asyncio.wait_for(v.first_frame, 30) for v in viewers))
    await asyncio.sleep(2)
    many = await cpu_percent(server, window)
    assert all(v.frames > 0 for v in viewers)
    for viewer in [first, *viewers]:
        await viewer.pc.close()
    return first_frame_ms, (many - one) / extra


async def watch_and_measure(pipe: Connection, server: int, cameras: list[str], window: float) -> float:
    """One viewer per camera; the server's CPU once every one is decoding."""
    await asyncio.sleep(3)  # the pulls of the previous measure are closed
    viewers = [Viewer() for _ in cameras]
    for viewer, camera in zip(viewers, cameras, strict=True):
        await viewer.connect(pipe, camera)
    await asyncio.gather(*(asyncio.wait_for(v.first_frame, 30) for v in viewers))
    await asyncio.sleep(2)
    busy = await cpu_percent(server, window)
    assert all(v.frames > 0 for v in viewers)
    for viewer in viewers:
        await viewer.pc.close()
    return busy


async def measure_all(pipe: Connection, server: int, extra: int, window: float) -> tuple[float, float, float, float]:
    first_ms, per_viewer = await measure(pipe, server, extra, window)
    wall = await watch_and_measure(pipe, server, [f"wall-{i}" for i in range(WALL)], window)
    transcode = await watch_and_measure(pipe, server, ["file"], window)
    return first_ms, per_viewer, wall, transcode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short windows (< 1 min in all)")
    parser.add_argument("--viewers", type=int, default=4, help="extra viewers beyond the first")
    parser.add_argument("--overlay-only", action="store_true", help="only the overlay's lag")
    args = parser.parse_args()
    window = 8.0 if args.quick else 30.0
    if not args.overlay_only:
        measure_live(args.viewers, window)
    with tempfile.TemporaryDirectory() as tmp:
        lag = measure_overlay_lag(Path(tmp), 5.0 if args.quick else 20.0)
    print(f"RESULT overlay_lag_ms {lag['median']:.0f} ms")
    print(f"RESULT overlay_lag_p95_ms {lag['p95']:.0f} ms")
    print(f"RESULT overlay_drawn_pct {lag['drawn_pct']:.0f} %")


def measure_live(viewers: int, window: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clip, small = make_clip(Path(tmp)), make_clip(Path(tmp), "640x360")
        port = free_port()
        mounts = ["--mount", f"cam={clip}", *[f"--mount=wall-{i}={small}" for i in range(WALL)]]
        command = ["/usr/bin/python3", str(RTSP_SCRIPT), "--port", str(port), "--fps", "15", *mounts]
        rtsp = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port("127.0.0.1", port)
            sources = {"cam": (f"rtsp://127.0.0.1:{port}/cam", True), "file": (str(small), False)}
            sources.update({f"wall-{i}": (f"rtsp://127.0.0.1:{port}/wall-{i}", True) for i in range(WALL)})
            parent, child = mp.Pipe()
            hub = mp.get_context("spawn").Process(target=hub_process, args=(sources, child))
            hub.start()
            assert hub.pid is not None
            assert parent.recv() == "ready"
            first_ms, per_viewer, wall, transcode = asyncio.run(measure_all(parent, hub.pid, viewers, window))
            parent.send(None)
            hub.join(15)
        finally:
            rtsp.terminate()
            rtsp.wait(10)
    print(f"RESULT live_first_frame_ms {first_ms:.0f} ms")
    print(f"RESULT live_cpu_per_viewer_pct {per_viewer:.2f} %")
    print(f"RESULT live_wall_9_cpu_pct {wall:.1f} %")
    print(f"RESULT live_transcode_camera_cpu_pct {transcode:.1f} %")


if __name__ == "__main__":
    main()
