"""Recording benchmark. Prints RESULT lines; the baseline (recording off) is measured in the same run.

    .venv/bin/python bench/record.py --quick

- record_cpu_per_camera_pct: CPU of recording one 720p15 camera, in % of one core. The same
  VideoStream decodes the same 720p15 H.264 (in MP4, with timestamps) CPU-bound, once with the
  packet tap feeding a SegmentWriter and once without; the difference in CPU per frame (whole
  process, getrusage) times 15 fps. Alternating rounds, median. Goal <= 1 % (remux only).
- record_disk_mb_per_hour: the segments' bytes per hour of video; record_overhead_pct: how much
  larger the segments are than the camera's own stream (the container only).
- clip_ready_s: from an event's end to its clip being playable on the server: a real-time stream
  recorded by a Recorder (pre/post-roll 2 s), one event, the clip cut, uploaded over HTTP to the
  real server (uvicorn, PostgreSQL: a scratch database made and dropped by the benchmark) and
  fetched back. Goal <= post-roll + 5 s. Skipped with a message when PostgreSQL is not reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.config import FileSource
from contract.config.record import RecordSettings
from contract.payloads import DetectionEventPayload
from contract.timeutil import utc_now
from edge.record.index import SegmentIndex
from edge.record.recorder import Recorder
from edge.record.segments import SegmentWriter
from edge.record.stats import RecordStats
from edge.source.packets import PacketTap
from edge.source.stream import VideoStream

FPS = 15
POST_ROLL_S = 2.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_clip(directory: Path, seconds: int) -> Path:
    out = directory / f"720p15_{seconds}s.mp4"
    args = ["-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}", "-t", str(seconds)]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0", "-g", str(FPS)]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, *x264, "-b:v", "2M", str(out)], check=True)
    return out


def stream_bytes(clip: Path) -> int:
    import av

    with av.open(str(clip)) as container:
        return sum(p.size for p in container.demux(video=0))


def decode_pass(clip: Path, tap: PacketTap | None) -> tuple[float, int]:
    """CPU seconds and frames of decoding the whole clip once (CPU-bound)."""
    stop = threading.Event()
    stream = VideoStream(FileSource(type="file", path=str(clip), loop=False, realtime=False), clip.parent, stop, tap)
    stream.open()
    frames = 0
    start = cpu_seconds()
    try:
        for _ in stream.frames():
            frames += 1
    except Exception:  # the file ended (SourceUnavailableError)
        pass
    finally:
        stream.close()
    return cpu_seconds() - start, frames


def recording_pass(clip: Path, directory: Path) -> tuple[float, int, RecordStats, int]:
    index = SegmentIndex(directory / "index.sqlite3")
    stats = RecordStats()
    writer = SegmentWriter(
        "bench", RecordSettings(mode="continuous", segment=timedelta(seconds=1)), directory, index, stats
    )
    writer.start()
    tap = PacketTap()
    tap.add(writer)
    start = cpu_seconds()
    _, frames = decode_pass(clip, tap)
    while len(writer.queue):
        time.sleep(0.01)
    writer.stop()
    used = cpu_seconds() - start
    index.close()
    return used, frames, stats, writer.queue.dropped


def bench_cpu(work: Path, quick: bool) -> None:
    seconds = 20 if quick else 60
    clip = make_clip(work, seconds)
    rounds = 3 if quick else 5
    decode_pass(clip, None)  # warm up
    off, on, last_stats, dropped = [], [], RecordStats(), 0
    for i in range(rounds):
        cpu, frames = decode_pass(clip, PacketTap())
        off.append(cpu / frames)
        out = work / f"rec{i}"
        out.mkdir()
        cpu, frames, last_stats, dropped = recording_pass(clip, out)
        on.append(cpu / frames)
    per_frame = statistics.median(on) - statistics.median(off)
    off_ms, on_ms = statistics.median(off) * 1000, statistics.median(on) * 1000
    print(f"INFO ms/frame: decode only {off_ms:.3f}, with recording {on_ms:.3f}; packets dropped {dropped}")
    print(f"INFO rounds off {[round(x * 1000, 3) for x in off]} on {[round(x * 1000, 3) for x in on]} ms/frame")
    print(f"RESULT record_cpu_per_camera_pct {per_frame * FPS * 100:.2f} %")
    raw = stream_bytes(clip)
    mb_per_hour = last_stats.bytes_written / seconds * 3600 / 1e6
    print(f"RESULT record_disk_mb_per_hour {mb_per_hour:.0f} MB/h")
    print(f"RESULT record_overhead_pct {(last_stats.bytes_written / raw - 1) * 100:.2f} %")


def bench_clip_ready(work: Path) -> None:
    try:
        import psycopg

        admin_dsn = os.environ.get("IOC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"bench_record_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
    except Exception as exc:
        print(f"SKIP clip_ready_s: PostgreSQL not reachable ({exc})")
        return
    try:
        _clip_ready(work, admin_dsn.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


STREAMS = """
version: 1
mqtt: {{topic_prefix: bench{tag}}}
sites: [{{id: site, name: Site}}]
edge_workers: [{{id: edge-bench}}]
cameras:
  - id: cam
    name: Cam
    site: site
    worker: edge-bench
    source: {{type: file, path: "{clip}", realtime: true, loop: true}}
    record: {{mode: events, segment: 4s, pre_roll: 2s, post_roll: {post}s}}
"""


def _clip_ready(work: Path, database_url: str) -> None:
    import httpx
    import uvicorn

    from server.app import create_app
    from server.auth.roles import Role
    from server.auth.tokens import new_api_key
    from server.evidence.settings import EvidenceSettings
    from server.settings import Settings

    clip = make_clip(work, 10)
    streams = work / "streams.yaml"
    streams.write_text(STREAMS.format(tag=uuid.uuid4().hex[:6], clip=clip, post=POST_ROLL_S), encoding="utf-8")
    from contract.config import load_config

    camera = load_config(streams).cameras[0]
    settings = Settings(database_url=database_url, config=streams, ingest_enabled=False)
    app = create_app(settings, evidence=EvidenceSettings(clip_dir=work / "clips"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    key = new_api_key()
    loop: Any = server.servers[0].get_loop() if server.servers else None
    job = app.state.ioc.auth.store.create_api_key("bench-edge", key.prefix, key.sha256, Role.OPERATOR, None)
    asyncio.run_coroutine_threadsafe(job, loop).result(30)
    recorder = Recorder(work / "rec", 1 << 30, "edge-bench", 100, f"http://127.0.0.1:{port}", key.key)
    recorder.start()
    tap = PacketTap()
    recorder.camera_started(camera, tap)
    stop = threading.Event()
    stream = VideoStream(camera.source, work, stop, tap)
    stream.open()
    reader = threading.Thread(target=lambda: [None for _ in stream.frames()], daemon=True)
    reader.start()
    try:
        time.sleep(4.0)  # pre-roll recorded
        event_id = uuid.uuid4().hex
        ended = utc_now()
        recorder.on_event(DetectionEventPayload(id=event_id, camera_id="cam", kind="object_seen", ts=ended))
        headers = {"X-API-Key": key.key}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                found = client.get("/api/evidence/clips", params={"event": event_id}).json()
                if found and client.get(found[0]["url"]).status_code == 200:
                    ready = (utc_now() - ended).total_seconds()
                    print(f"INFO clip {found[0]['duration_s']} s, {found[0]['bytes']} bytes; post-roll {POST_ROLL_S} s")
                    print(f"RESULT clip_ready_s {ready:.2f} s")
                    break
                time.sleep(0.1)
            else:
                print("RESULT clip_ready_s nan s (no clip within 40 s)")
    finally:
        stop.set()
        reader.join(5)
        stream.close()
        recorder.camera_stopped("cam")
        recorder.stop()
        server.should_exit = True
        thread.join(20)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (< 1 min in all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        work = Path(tmp)
        bench_cpu(work, args.quick)
        bench_clip_ready(work)


if __name__ == "__main__":
    main()
