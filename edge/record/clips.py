"""Event clips: cut from the recorded segments by remuxing (keyframe-exact, no decoding).

A clip starts on the last keyframe at or before `start` and ends with the first packet at or after
`end` (so it covers the whole window), across as many segments as needed. Events close together
on one camera share one clip (`ClipPlanner`), at most `max_clip` long.
"""

from __future__ import annotations

import hashlib
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


def _segment_packets(directory: Path, segment: Segment) -> list[_Packet]:
    found: list[_Packet] = []
    with av.open(str(directory / segment.path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base or OUT_TIME_BASE)
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            offset = int((pts - packet.dts) * base / float(OUT_TIME_BASE))
            found.append(_Packet(bytes(packet), segment.start_s + packet.dts * base, offset, bool(packet.is_keyframe)))
    return found


def select_packets(packets: list[_Packet], start_s: float, end_s: float) -> list[_Packet]:
    """From the last keyframe at or before `start_s` to the first packet at or after `end_s`."""
    first = 0
    for i, packet in enumerate(packets):
        if packet.wall_s > start_s:
            break
        if packet.keyframe:
            first = i
    while first < len(packets) and not packets[first].keyframe:
        first += 1  # the recording starts after `start_s`: begin on its first keyframe
    chosen: list[_Packet] = []
    for packet in packets[first:]:
        chosen.append(packet)
        if packet.wall_s >= end_s:
            break
    return chosen


def cut_clip(directory: Path, segments: list[Segment], start_s: float, end_s: float, out: Path) -> CutClip | None:
    """Remux [start_s, end_s] of `segments` (one camera, oldest first) into `out`; None if nothing is recorded."""
    if not segments:
        return None
    packets = [p for segment in segments for p in _segment_packets(directory, segment)]
    chosen = select_packets(packets, start_s, end_s)
    if not chosen:
        return None
    with av.open(str(directory / segments[0].path)) as template:
        _write(template.streams.video[0], chosen, out)
    frame_s = (chosen[-1].wall_s - chosen[-2].wall_s) if len(chosen) > 1 else 0.0
    return CutClip(out, chosen[0].wall_s, chosen[-1].wall_s + frame_s, _sha256(out), out.stat().st_size, len(chosen))


def _write(template: Any, packets: list[_Packet], out: Path) -> None:
    part = out.with_suffix(".part")
    origin = packets[0].wall_s
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream_from_template(template)
        stream.time_base = OUT_TIME_BASE
        last = -1
        for packet in packets:
            dts = max(last + 1, round((packet.wall_s - origin) / float(OUT_TIME_BASE)))
            mux = av.Packet(packet.data)
            mux.dts, mux.pts, mux.time_base = dts, dts + packet.ticks_pts_offset, OUT_TIME_BASE
            mux.is_keyframe = packet.keyframe
            mux.stream = stream
            container.mux(mux)
            last = dts
    part.rename(out)


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
