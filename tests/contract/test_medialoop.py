"""The phase-locked loop of a video file (contract.medialoop): where a file is at a wall time, the
loop period from real PyAV containers (an MP4, a raw .264 without one), and the per-reader clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from contract.medialoop import LoopClock, LoopTiming, loop_period, loop_position, loop_timing


def write_clip(path: Path, frames: int = 30, fps: int = 10, container_format: str | None = None) -> Path:
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            picture = np.full((48, 64, 3), index * 8 % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_the_position_is_the_wall_time_modulo_the_period() -> None:
    position = loop_position(1_000.5, 3.0)
    assert position.start == 999.0 and position.offset == pytest.approx(1.5)
    at_boundary = loop_position(999.0, 3.0)
    assert at_boundary.start == 999.0 and at_boundary.offset == 0.0


def test_readers_opened_at_different_moments_agree_on_the_loop() -> None:
    """Two readers opening the same file 1.3 s apart share the loop's start and differ in offset by
    exactly the time between them: the same picture at the same moment."""
    now = 1_764_700_000.123
    first, second = loop_position(now, 79.5), loop_position(now + 1.3, 79.5)
    assert first.start == second.start
    assert second.offset - first.offset == pytest.approx(1.3, abs=1e-6)
    later = loop_position(now + 79.5, 79.5)
    assert later.start == pytest.approx(first.start + 79.5, abs=1e-6)
    assert later.offset == pytest.approx(first.offset, abs=1e-6)


@pytest.mark.parametrize("period", [0.0, -3.0, math.nan, math.inf])
def test_a_period_that_is_not_a_positive_duration_is_refused(period: float) -> None:
    with pytest.raises(ValueError, match="a loop period must be a positive number of seconds"):
        loop_position(1_000.0, period)


def test_the_position_of_a_time_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a time: nan"):
        loop_position(math.nan, 3.0)


def test_an_mp4_loops_over_its_duration(tmp_path: Path) -> None:
    with av.open(str(write_clip(tmp_path / "clip.mp4"))) as container:
        timing = loop_timing(container, container.streams.video[0])
    assert timing == LoopTiming(period=3.0, origin=0.0)


def test_a_raw_h264_file_has_no_period_so_no_phase_lock(tmp_path: Path) -> None:
    with av.open(str(write_clip(tmp_path / "clip.264", container_format="h264"))) as container:
        assert loop_timing(container, container.streams.video[0]) is None


@dataclass
class Stream:
    duration: int | None = None
    time_base: Fraction | None = None
    start_time: int | None = None
    frames: int = 0
    average_rate: Fraction | None = None


@dataclass
class Container:
    duration: int | None = None


def test_the_period_falls_back_from_the_container_to_the_stream_to_the_frame_count() -> None:
    stream = Stream(duration=900, time_base=Fraction(1, 100), frames=200, average_rate=Fraction(25))
    assert loop_period(Container(duration=12_000_000), stream) == 12.0
    assert loop_period(Container(), stream) == 9.0
    assert loop_period(Container(duration=0), Stream(frames=200, average_rate=Fraction(25))) == 8.0
    assert loop_period(Container(), Stream(frames=200)) is None
    assert loop_period(Container(), Stream(average_rate=Fraction(25))) is None


def test_the_clock_of_a_reader_paces_each_loop_exactly_one_period_after_the_last() -> None:
    timing = LoopTiming(period=3.0, origin=0.5)
    clock = LoopClock(timing, now=1_000.5)
    assert clock.loop_start == 999.0 and clock.start_offset == pytest.approx(1.5)
    assert clock.seek_target(Fraction(1, 10)) == 20  # file time 2.0 s: 1.5 s after its first frame
    assert clock.place(2.2) == pytest.approx(1.7)
    assert clock.due(1.7) == pytest.approx(1_000.7)
    assert clock.passed(1.3, 0.1, now=1_000.5) and not clock.passed(1.45, 0.1, now=1_000.5)
    clock.next_loop()
    assert clock.loop_start == 1_002.0 and clock.start_offset == 0.0
    assert clock.seek_target(Fraction(1, 10)) is None  # a new loop starts at the file's start
