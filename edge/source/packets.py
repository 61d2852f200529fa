"""The packet hook: each demuxed (still encoded) video packet handed to registered sinks before
decoding, e.g. the recorder, which remuxes the camera's own H.264/H.265 without transcoding.

The capture thread never waits on a sink: a `PacketTap` copies the packet once and offers it to
every sink; a sink keeps what it is offered in a `PacketQueue` (bounded; when full, the new packet
is dropped and counted, and the consumer is told so it can resynchronise on the next keyframe).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from contract.config import Camera
from edge.source.arrival import Arrival, arrived_now


@dataclass(frozen=True)
class StreamInfo:
    """Starts each connection (`session`): what a muxer needs to write the packets that follow."""

    session: int
    codec: str  # FFmpeg's codec name: "h264", "hevc"
    width: int
    height: int
    extradata: bytes  # SPS/PPS (e.g. from the SDP), empty when the camera sends them in-band only
    time_base: Fraction | None


@dataclass(frozen=True)
class VideoPacket:
    session: int
    data: bytes
    pts: int | None  # in `time_base` units, None when the source has no timestamps (raw .264)
    dts: int | None
    time_base: Fraction | None
    keyframe: bool
    t: float  # monotonic seconds when demuxed
    ts: datetime  # UTC when demuxed


PacketItem = StreamInfo | VideoPacket


class PacketSink(Protocol):
    def offer(self, item: PacketItem) -> None:
        """Take `item` without blocking (queue it or drop it, counted)."""


class PacketTapUser(Protocol):
    """Told when the worker starts or stops a camera, to register its sinks on the camera's tap
    (e.g. the recorder); registered with `EdgeWorker.add_packet_tap_user`."""

    def camera_started(self, camera: Camera, tap: PacketTap) -> None: ...

    def camera_stopped(self, camera_id: str) -> None: ...


class PacketQueue:
    """A bounded queue between the capture thread and one sink's own thread.

    When full, the newest packet is dropped (`dropped` counts it) and `get` reports the loss with
    the next item it returns, so that the consumer can skip to the next keyframe. StreamInfo items
    are never dropped (they are rare and say a new connection starts)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[tuple[PacketItem, bool]] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._lost = False
        self.dropped = 0

    def offer(self, item: PacketItem) -> None:
        with self._cond:
            if isinstance(item, VideoPacket) and len(self._items) >= self._maxsize:
                self.dropped += 1
                self._lost = True
                return
            self._items.append((item, self._lost))
            self._lost = False
            self._cond.notify()

    def get(self, timeout: float) -> tuple[PacketItem, bool] | None:
        """The next item and whether packets were dropped just before it, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._items.popleft()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def _fraction(value: Any) -> Fraction | None:
    return Fraction(value.numerator, value.denominator) if value is not None else None


class PacketTap:
    """Where the demux loop hands packets to the sinks registered for one camera."""

    def __init__(self) -> None:
        self._sinks: tuple[PacketSink, ...] = ()
        self._lock = threading.Lock()
        self._session = 0
        self._info: StreamInfo | None = None

    def add(self, sink: PacketSink) -> None:
        """Register `sink`; it is told at once about the connection in progress, if any."""
        with self._lock:
            self._sinks = (*self._sinks, sink)
            if self._info is not None:
                sink.offer(self._info)

    def remove(self, sink: PacketSink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    @property
    def active(self) -> bool:
        return bool(self._sinks)

    def stream_started(self, stream: Any) -> None:
        """A new connection: `stream` is PyAV's input video stream."""
        self._session += 1
        ctx = stream.codec_context
        info = StreamInfo(
            session=self._session,
            codec=str(ctx.name),
            width=int(ctx.width or 0),
            height=int(ctx.height or 0),
            extradata=bytes(ctx.extradata or b""),
            time_base=_fraction(stream.time_base),
        )
        with self._lock:
            self._info = info
            for sink in self._sinks:
                sink.offer(info)

    def packet(self, packet: Any, arrival: Arrival | None = None) -> None:
        """One demuxed PyAV packet (before it is decoded), stamped `arrival` (now by default).
        Costs nothing when no sink is registered."""
        sinks = self._sinks
        if not sinks or packet.size == 0:
            return
        arrival = arrival or arrived_now()
        item = VideoPacket(
            session=self._session,
            data=bytes(packet),
            pts=packet.pts,
            dts=packet.dts,
            time_base=_fraction(packet.time_base),
            keyframe=bool(packet.is_keyframe),
            t=arrival.t,
            ts=arrival.ts,
        )
        for sink in sinks:
            sink.offer(item)
