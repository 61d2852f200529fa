"""A looping video file played in phase with the wall clock, like a live camera.

Every reader of the same file (the edge's detector, the server's live transcoder) shows the same
picture at the same moment: the file's loops start at the multiples of its duration D since the
Unix epoch, so at unix time `now` the picture is the file's frame at `now mod D`, whoever opened it
and whenever. `loop_timing` derives D (and where the file's clock starts) the same way on both
sides, from the PyAV container, without importing PyAV here (the objects are only read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

AV_TIME_BASE = 1_000_000
"""FFmpeg's container time unit (microseconds)"""


class _Stream(Protocol):
    @property
    def duration(self) -> int | None: ...

    @property
    def time_base(self) -> Fraction | None: ...

    @property
    def start_time(self) -> int | None: ...

    @property
    def frames(self) -> int: ...

    @property
    def average_rate(self) -> Fraction | None: ...


class _Container(Protocol):
    @property
    def duration(self) -> int | None: ...


@dataclass(frozen=True)
class LoopTiming:
    period: float
    """D: one loop of the file, in seconds"""
    origin: float
    """the file's clock at its start (its first timestamp), seconds: a frame's place is `frame.time - origin`"""


@dataclass(frozen=True)
class LoopPosition:
    start: float
    """unix time the current loop began (a multiple of D)"""
    offset: float
    """seconds into the file: 0 <= offset < D"""


def loop_position(now: float, period: float) -> LoopPosition:
    """Where a file of duration `period` is at unix time `now` when played in phase with the clock."""
    if not math.isfinite(period) or period <= 0:
        raise ValueError(f"a loop period must be a positive number of seconds, not {period!r}")
    if not math.isfinite(now):
        raise ValueError(f"not a time: {now!r}")
    start = math.floor(now / period) * period
    offset = now - start
    if offset >= period:  # rounding at a loop boundary
        start, offset = start + period, 0.0
    return LoopPosition(start, max(0.0, offset))


def _positive(value: float) -> float | None:
    return value if math.isfinite(value) and value > 0 else None


def _seconds(ticks: int | None, time_base: Fraction | None) -> float | None:
    if ticks is None or time_base is None:
        return None
    return _positive(float(ticks * time_base))


def loop_period(container: _Container, stream: _Stream) -> float | None:
    """D: the container's duration, else the stream's, else its frame count over its frame rate;
    None when none is known (a raw .264 file): such a file cannot be played in phase."""
    if container.duration is not None:
        found = _positive(container.duration / AV_TIME_BASE)
        if found is not None:
            return found
    found = _seconds(stream.duration, stream.time_base)
    if found is not None:
        return found
    rate = stream.average_rate
    if stream.frames > 0 and rate:
        return _positive(stream.frames / float(rate))
    return None


def loop_timing(container: _Container, stream: _Stream) -> LoopTiming | None:
    """The file's loop period and clock origin, or None when its duration is unknown."""
    period = loop_period(container, stream)
    if period is None:
        return None
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    return LoopTiming(period, origin)


class LoopClock:
    """One reader's phase-locked playback: where to start, and when each frame is due.

    At open the reader starts at `start_offset` (frames before it are decoded and discarded, from the
    keyframe before it when the file can seek); a frame at file time `t` (`frame.time - origin`) is
    due at `loop_start + t`; at the end of the file `next_loop` moves `loop_start` on by exactly D.
    """

    def __init__(self, timing: LoopTiming, now: float) -> None:
        position = loop_position(now, timing.period)
        self.timing = timing
        self.loop_start = position.start
        self.start_offset = position.offset

    def place(self, frame_time: float) -> float:
        """A frame's place in the file (seconds from its start) from its timestamp."""
        return frame_time - self.timing.origin

    def due(self, place: float) -> float:
        """Unix time at which the frame at `place` is the picture."""
        return self.loop_start + place

    def passed(self, place: float, interval: float, now: float) -> bool:
        """The frame's successor (one frame interval later) is already due: at open, skip it."""
        return self.due(place) + interval <= now

    def next_loop(self) -> None:
        self.loop_start += self.timing.period
        self.start_offset = 0.0

    def seek_target(self, time_base: Fraction | None) -> int | None:
        """The timestamp (in the stream's `time_base`) to seek back from at open, or None: start at
        the beginning (nothing to skip, or no time base)."""
        if self.start_offset <= 0 or not time_base:
            return None
        return int((self.start_offset + self.timing.origin) / time_base)
