"""A looping file camera played in phase with the wall clock on both sides: the edge's file reader
and the server's live decoder, opened 1.3 s apart on the same 3 s clip, show the same picture (a
bright square whose x position is the frame index) at the same wall time, across loop boundaries;
the edge stamps each frame with `loop start + t`, and each loop starts exactly D after the last."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from contract.config import FileSource
from edge.source.stream import VideoStream
from server.live.decode import FrameReader, ReaderOptions, open_container
from tests.server.console.indexed_clip import FPS, FRAMES, PERIOD, frame_index, write_indexed_clip


@dataclass(frozen=True)
class Seen:
    wall: float
    index: int
    ts: datetime | None = None


def read_edge(clip: Path, until: float, seen: list[Seen]) -> None:
    stop = threading.Event()
    stream = VideoStream(FileSource(type="file", path=str(clip), loop=True, realtime=True), clip.parent, stop)
    stream.open()
    try:
        for decoded in stream.frames():
            seen.append(Seen(time.time(), frame_index(decoded.frame), decoded.ts))
            if time.time() >= until:
                return
    finally:
        stream.close()


async def read_server(clip: Path, until: float) -> list[Seen]:
    options = ReaderOptions(str(clip), paced=True, phase_locked=True, max_fps=30, queue_size=2)
    loop = asyncio.get_running_loop()
    reader = FrameReader(options, await loop.run_in_executor(None, open_container, options), loop)
    seen: list[Seen] = []
    try:
        while time.time() < until:
            frame = await reader.recv()
            seen.append(Seen(time.time(), frame_index(frame)))
    finally:
        await loop.run_in_executor(None, reader.close)
    return seen


def apart(a: int, b: int) -> int:
    """Frames between two indexes of the looping file (index 29 is next to index 0)."""
    return min((a - b) % FRAMES, (b - a) % FRAMES)


def wrapped(seen: list[Seen]) -> bool:
    return any(later.index < earlier.index for earlier, later in itertools.pairwise(seen))


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_indexed_clip(tmp_path / "indexed.mp4")


async def test_edge_and_server_show_the_same_frame_at_the_same_moment_across_loops(clip: Path) -> None:
    until = time.time() + 6.0
    edge_seen: list[Seen] = []
    edge = threading.Thread(target=read_edge, args=(clip, until, edge_seen), daemon=True)
    edge.start()
    await asyncio.sleep(1.3)  # the server opens the file later, at another place in it
    server_seen = await read_server(clip, until)
    await asyncio.get_running_loop().run_in_executor(None, edge.join, 10)

    assert len(edge_seen) >= 5.5 * FPS and len(server_seen) >= 4 * FPS, (len(edge_seen), len(server_seen))
    assert wrapped(edge_seen) and wrapped(server_seen), "both readers crossed a loop boundary"
    # the edge: each frame stamped at its loop's start (a multiple of D) plus its place in the file
    for seen in edge_seen:
        assert seen.ts is not None
        assert apart(round(seen.ts.timestamp() % PERIOD * FPS), seen.index) == 0, seen
    stamps = [seen.ts.timestamp() for seen in edge_seen if seen.ts is not None]
    steps = np.diff(stamps)
    assert steps == pytest.approx(np.full(len(steps), 1 / FPS), abs=1e-3), "no gap or drift at a loop boundary"
    delays = [seen.wall - seen.ts.timestamp() for seen in edge_seen[1:] if seen.ts is not None]
    assert float(np.median(delays)) < 0.5 / FPS, "the edge delivers each frame when it is due"
    # the server's picture at each moment is the edge's picture of that moment (within one frame)
    for seen in server_seen:
        shown = [edge for edge in edge_seen if edge.ts is not None and edge.ts.timestamp() <= seen.wall]
        assert shown, seen
        assert apart(seen.index, shown[-1].index) <= 1, (seen, shown[-1])
