"""Event clips: cut from the recorded segments by remuxing (keyframe-exact, no decoding).

A clip starts on the last keyframe at or before `start` and ends with the first packet at or after
`end` (so it covers the whole window), across as many segments as needed. Events close together
on one camera share one clip (`ClipPlanner`), at most `max_clip` long.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from contract.config.record import RecordSettings
from edge.record.index import Segment

OUT_TIME_BASE = Fraction(1, 90000)


@dataclass(frozen=True)
class CutClip:
    path: Path
    start_s: float  # UTC epoch of its first frame
    end_s: float  # UTC epoch of the end of its last frame
    sha256: str
    bytes: int
    packets: int


@dataclass(frozen=True)
class _Packet:
    data: bytes
    wall_s: float
    ticks_pts_offset: int  # pts - dts, kept for streams with B-frames
    keyframe: bool


def _segment_packets(directory: Path, segments: list[Segment]) -> Generator[_Packet, None, None]:
    """The segments' packets in order, read one segment at a time (a clip is never all in memory)."""
    for segment in segments:
        with av.open(str(directory / segment.path)) as container:
            stream = container.streams.video[0]
            base = float(stream.time_base or OUT_TIME_BASE)
            for packet in container.demux(stream):
                if packet.size == 0 or packet.dts is None:
                    continue
                pts = packet.pts if packet.pts is not None else packet.dts
                offset = int((pts - packet.dts) * base / float(OUT_TIME_BASE))
                wall_s = segment.start_s + packet.dts * base
                yield _Packet(bytes(packet), wall_s, offset, bool(packet.is_keyframe))


def select_packets(packets: Iterable[_Packet], start_s: float, end_s: float) -> Generator[_Packet, None, None]:
    """From the last keyframe at or before `start_s` (or the first keyframe after it, when the
    recording starts later) to the first packet at or after `end_s`. Buffers one GOP at most."""
    gop: list[_Packet] = []
    started = False
    for packet in packets:
        if not started:
            if packet.wall_s <= start_s:
                if packet.keyframe:
                    gop = [packet]
                elif gop:
                    gop.append(packet)
                continue
            if not gop and not packet.keyframe:
                continue  # nothing recorded at `start_s`: begin on the next keyframe
            started = True
            yield from gop
        yield packet
        if packet.wall_s >= end_s:
            return


def cut_clip(directory: Path, segments: list[Segment], start_s: float, end_s: float, out: Path) -> CutClip | None:
    """Remux [start_s, end_s] of `segments` (one camera, oldest first) into `out`; None if nothing is recorded."""
    if not segments:
        return None
    with av.open(str(directory / segments[0].path)) as template:
        chosen = select_packets(_segment_packets(directory, segments), start_s, end_s)
        with contextlib.closing(chosen):
            written = _write(template.streams.video[0], chosen, out)
    if written is None:
        return None
    first_s, last_s, frame_s, count = written
    return CutClip(out, first_s, last_s + frame_s, _sha256(out), out.stat().st_size, count)


def _write(template: Any, packets: Iterator[_Packet], out: Path) -> tuple[float, float, float, int] | None:
    """Mux `packets` into `out`: (first wall time, last wall time, last frame's length, count), or
    None (no file) when there is no packet."""
    first = next(packets, None)
    if first is None:
        return None
    part = out.with_suffix(".part")
    origin, previous, last, frame_s, count = first.wall_s, first.wall_s, -1, 0.0, 0
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream_from_template(template)
        stream.time_base = OUT_TIME_BASE
        for packet in itertools.chain([first], packets):
            dts = max(last + 1, round((packet.wall_s - origin) / float(OUT_TIME_BASE)))
            mux = av.Packet(packet.data)
            mux.dts, mux.pts, mux.time_base = dts, dts + packet.ticks_pts_offset, OUT_TIME_BASE
            mux.is_keyframe = packet.keyframe
            mux.stream = stream
            container.mux(mux)
            if count:
                frame_s = packet.wall_s - previous
            last, previous, count = dts, packet.wall_s, count + 1
    part.rename(out)
    return origin, previous, frame_s, count


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class PlannedClip:
    camera_id: str
    start_s: float  # the window asked for: the first event's start minus pre-roll
    end_s: float  # the last event's end plus post-roll
    event_ids: list[str] = field(default_factory=list)
    first_event_s: float = 0.0
    last_event_s: float = 0.0


class ClipPlanner:
    """Groups one camera's events into clip windows; `due()` hands over the windows that have ended."""

    def __init__(self, camera_id: str, settings: RecordSettings) -> None:
        self.camera_id = camera_id
        self._settings = settings
        self._open: PlannedClip | None = None
        self._due: list[PlannedClip] = []

    def add(self, event_id: str, start_s: float, end_s: float) -> PlannedClip:
        """Add an event [start_s, end_s]; returns the clip window it joined (or opened)."""
        pre, post = self._settings.pre_roll.total_seconds(), self._settings.post_roll.total_seconds()
        current = self._open
        if current is not None:
            joins = start_s - pre <= current.end_s
            fits = max(current.end_s, end_s + post) - current.start_s <= self._settings.max_clip.total_seconds()
            if joins and fits:
                current.end_s = max(current.end_s, end_s + post)
                current.last_event_s = max(current.last_event_s, end_s)
                current.event_ids.append(event_id)
                return current
            self._due.append(current)
        self._open = PlannedClip(self.camera_id, start_s - pre, end_s + post, [event_id], start_s, end_s)
        return self._open

    def due(self, now_s: float) -> list[PlannedClip]:
        if self._open is not None and self._open.end_s <= now_s:
            self._due.append(self._open)
            self._open = None
        due, self._due = self._due, []
        return due

    def defer(self, clip: PlannedClip) -> None:
        """Hand `clip` back: it is due again on the next `due()` (its end is not recorded yet)."""
        self._due.append(clip)

    @property
    def pending_end_s(self) -> float | None:
        return self._open.end_s if self._open is not None else None
