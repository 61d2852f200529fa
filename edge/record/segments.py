"""One camera's segment writer: remuxes its packets (no decoding, no encoding) into MP4 segments.

Runs in its own thread, fed by a bounded `PacketQueue` that the capture thread never waits on.
Each segment starts on a keyframe, is written as `<name>.part` and renamed to `.mp4` when complete,
then indexed. A connection that ends (or packets lost in the queue) closes the segment at the last
good packet; the next one starts on the next keyframe, so a camera outage leaves a gap, never a
broken file. A write error (a full disk) abandons the segment, is counted and logged once, and
the writer tries again on the next keyframe.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from contract.config.record import RecordSettings
from edge.record.annexb import length_size, probe_bytes, to_annexb
from edge.record.index import NewSegment, SegmentIndex, epoch, utc
from edge.record.stats import RecordStats
from edge.source.packets import PacketItem, PacketQueue, StreamInfo, VideoPacket

logger = logging.getLogger(__name__)

OUT_TIME_BASE = Fraction(1, 90000)
IDLE_CLOSE_S = 2.0  # no packet for this long: the camera is gone, close the segment
QUEUE_PACKETS = 900  # about a minute at 15 fps
_RAW_FORMATS = {"h264": "h264", "hevc": "hevc"}


def stream_template(info: StreamInfo, keyframe: bytes) -> Any:
    """An input container over the first keyframe (and the SDP's SPS/PPS): its stream is the template
    the MP4 stream copies its codec parameters from (no encoder is opened)."""
    fmt = _RAW_FORMATS.get(info.codec)
    if fmt is None:
        raise ValueError(f"cannot record codec '{info.codec}' (H.264 and H.265 only)")
    return av.open(io.BytesIO(probe_bytes(info.codec, info.extradata, keyframe)), format=fmt)


@dataclass
class _Open:
    container: Any
    stream: Any
    part: Path
    final: Path
    start_s: float  # UTC epoch of the first packet
    start_t: float  # its monotonic time
    base: int | None  # its dts (or pts) in the source time base
    last_ticks: int = -1
    delta_ticks: int = 6000  # one frame, estimated from the last two packets (15 fps to start)
    packets: int = 0


class SegmentWriter:
    """`offer()` packets; `start()` / `stop()` the writer thread."""

    def __init__(
        self, camera_id: str, settings: RecordSettings, directory: Path, index: SegmentIndex, stats: RecordStats
    ) -> None:
        self.camera_id = camera_id
        self.queue = PacketQueue(QUEUE_PACKETS)
        self._settings = settings
        self._directory = directory / camera_id
        self._index = index
        self._stats = stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"record-{camera_id}", daemon=True)
        self._info: StreamInfo | None = None
        self._template: Any = None
        self._open: _Open | None = None
        self._failing = False
        self._split_at = float("inf")
        self._prefix: int | None = None  # NAL length-prefix size of an MP4-style source

    def split_after(self, epoch_s: float) -> None:
        """Close the segment at the first keyframe after `epoch_s` (a clip's end), not at its full length."""
        self._split_at = min(self._split_at, epoch_s)

    def offer(self, item: PacketItem) -> None:
        self.queue.offer(item)

    def start(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        for leftover in self._directory.glob("*.part"):  # a segment cut short by a crash
            leftover.unlink(missing_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self.queue.get(IDLE_CLOSE_S)
            if got is None:
                self._close()
                continue
            item, lost = got
            try:
                self._handle(item, lost)
            except Exception:
                logger.exception("camera %s: recording failed on a packet; starting a new segment", self.camera_id)
                self._abandon()
        self._close()
        self._drop_template()

    def _handle(self, item: PacketItem, lost: bool) -> None:
        if isinstance(item, StreamInfo):
            self._close()
            self._drop_template()
            self._info = item
            self._prefix = length_size(item.codec, item.extradata)
            return
        info = self._info
        if info is None or item.session != info.session:
            return  # packets of a connection we were not told about: wait for its StreamInfo
        if lost:
            self._close()
        current = self._open
        if current is not None and item.keyframe and self._due(current, item):
            self._close()
            current = None
        if current is None:
            if not item.keyframe:
                return  # a segment starts on a keyframe
            current = self._begin(info, item)
            if current is None:
                return
        self._write(current, item)

    def _due(self, current: _Open, packet: VideoPacket) -> bool:
        if epoch(packet.ts) >= self._split_at:
            self._split_at = float("inf")
            return True
        return packet.t - current.start_t >= self._settings.segment.total_seconds()

    def _begin(self, info: StreamInfo, packet: VideoPacket) -> _Open | None:
        try:
            if self._template is None:
                self._template = stream_template(info, packet.data)
            name = utc(epoch(packet.ts)).strftime("%Y%m%dT%H%M%S_%f")
            final = self._directory / f"{name}.mp4"
            part = final.with_suffix(".part")
            container = av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"})
            stream = container.add_stream_from_template(self._template.streams.video[0])
            stream.time_base = OUT_TIME_BASE
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            self._write_failed(exc)
            return None
        base = packet.dts if packet.dts is not None else packet.pts
        self._open = _Open(container, stream, part, final, epoch(packet.ts), packet.t, base)
        return self._open

    def _ticks(self, current: _Open, value: int | None, packet: VideoPacket) -> int:
        if value is not None and current.base is not None and packet.time_base is not None:
            return int((value - current.base) * packet.time_base / OUT_TIME_BASE)
        return int((packet.t - current.start_t) / OUT_TIME_BASE)  # no timestamps: the arrival clock

    def _write(self, current: _Open, packet: VideoPacket) -> None:
        dts = self._ticks(current, packet.dts if packet.dts is not None else packet.pts, packet)
        if dts <= current.last_ticks:
            dts = current.last_ticks + 1  # timestamps must grow in MP4
        pts = max(dts, self._ticks(current, packet.pts, packet)) if packet.pts is not None else dts
        out = av.Packet(to_annexb(packet.data, self._prefix))
        out.dts, out.pts, out.time_base = dts, pts, OUT_TIME_BASE
        out.is_keyframe = packet.keyframe
        out.stream = current.stream
        try:
            current.container.mux(out)
        except (OSError, av.error.FFmpegError) as exc:
            self._write_failed(exc)
            self._abandon()
            return
        if current.last_ticks >= 0:
            current.delta_ticks = max(1, dts - current.last_ticks)
        current.last_ticks = dts
        current.packets += 1
        self._stats.packets += 1

    def _close(self) -> None:
        current, self._open = self._open, None
        if current is None:
            return
        end_s = current.start_s + (current.last_ticks + current.delta_ticks) * float(OUT_TIME_BASE)
        relative = str(current.final.relative_to(self._directory.parent))
        codec = self._info.codec if self._info else "h264"
        try:
            current.container.close()
            current.part.rename(current.final)
            size = current.final.stat().st_size
            self._index.add(NewSegment(self.camera_id, relative, current.start_s, end_s, size, current.packets, codec))
        except (OSError, av.error.FFmpegError, sqlite3.Error) as exc:
            self._write_failed(exc)
            current.part.unlink(missing_ok=True)
            current.final.unlink(missing_ok=True)
            return
        self._stats.segments += 1
        self._stats.bytes_written += size
        if self._failing:
            self._failing = False
            logger.info("camera %s: recording works again", self.camera_id)

    def _abandon(self) -> None:
        current, self._open = self._open, None
        if current is None:
            return
        with contextlib.suppress(Exception):
            current.container.close()
        current.part.unlink(missing_ok=True)

    def _drop_template(self) -> None:
        if self._template is not None:
            template, self._template = self._template, None
            template.close()

    def _write_failed(self, exc: BaseException) -> None:
        self._stats.write_errors += 1
        self._stats.last_error = str(getattr(exc, "strerror", None) or exc)
        if not self._failing:
            self._failing = True
            logger.error(
                "camera %s: cannot write the recording (%s); detection goes on, retrying on the next keyframe",
                self.camera_id,
                self._stats.last_error,
            )
