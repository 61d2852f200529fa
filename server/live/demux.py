"""A packet reader for RTSP H.264 passed through: one thread per camera demuxes the stream and hands
packets to asyncio through a bounded queue (the oldest is dropped and counted when the pull falls
behind), with a sentinel at the end.

It replaces aiortc's `MediaPlayer(decode=False)` here because that one drops every packet without a
timestamp, and FFmpeg's RTSP demuxer gives none to the first packets of a session: often the very
keyframe a new viewer needs, so the picture waited a whole GOP for the next one. Packets that come
before the first timestamp are stamped one frame apart from 0 and sent at once (a few, bounded);
the stream's own timestamps are shifted to follow them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TypeAlias, cast

import av
from av.container import InputContainer
from av.stream import Stream

from server.live.decode import SourceEndedError
from server.live.handoff import NewestQueue

logger = logging.getLogger(__name__)

Packet: TypeAlias = "av.Packet[Stream]"

MAX_UNSTAMPED = 8
"""packets without a timestamp before the first one that has it; more are dropped"""


class PacketStamper:
    """Stamps the pts-less packets at the start of a stream one frame apart from 0, as they come,
    and shifts the stream's own timestamps to follow them."""

    def __init__(self, fps: float) -> None:
        self._fps = fps
        self._unstamped = 0
        self._shift: int | None = None
        self.dropped = 0

    def stamp(self, packet: Packet) -> Packet | None:
        """`packet` with its timestamps set, or None when it is dropped."""
        if self._shift is None:
            step = self._step(packet.time_base)
            if packet.pts is None:
                return self._stamp_unstamped(packet, step)
            self._shift = step * self._unstamped - packet.pts
        elif packet.pts is None:
            self.dropped += 1
            return None
        packet.pts = packet.dts = packet.pts + self._shift
        return packet

    def _stamp_unstamped(self, packet: Packet, step: int) -> Packet | None:
        if self._unstamped >= MAX_UNSTAMPED:
            self.dropped += 1
            return None
        packet.pts = packet.dts = step * self._unstamped
        self._unstamped += 1
        return packet

    def _step(self, time_base: Fraction | None) -> int:
        return max(1, round(1 / (time_base * Fraction(self._fps).limit_denominator(1000)))) if time_base else 1


class PacketReader:
    """The video packets of one live stream; `recv` from asyncio, demuxing in its own thread."""

    def __init__(
        self,
        container: InputContainer,
        loop: asyncio.AbstractEventLoop,
        queue_size: int = 64,
        on_drop: Callable[[], object] | None = None,
    ) -> None:
        self._container: InputContainer | None = container
        stream = container.streams.video[0]
        self._stream = stream
        self._packets: Iterator[Packet] = cast(Iterator[Packet], container.demux(stream))
        self._stamper = PacketStamper(float(stream.average_rate or 15))
        self._queue: NewestQueue[Packet] = NewestQueue(
            loop, queue_size, lambda: SourceEndedError("the stream ended"), on_drop
        )
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-demux", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """packets the loop did not take in time, or that came before any timestamp could be given"""
        return self._queue.dropped

    async def recv(self) -> Packet:
        return await self._queue.get()

    def _next_packet(self) -> Packet:
        while True:
            try:
                packet = next(self._packets, None)
            except av.FFmpegError as exc:
                if exc.errno != errno.EAGAIN or self._container is None:
                    raise
                time.sleep(0.01)
                self._packets = cast(Iterator[Packet], self._container.demux(self._stream))
                continue
            if packet is None or not packet.size:
                raise SourceEndedError("the stream ended")
            return packet

    def _run(self) -> None:
        try:
            while not self._quit.is_set():
                packet = self._next_packet()
                stamped = self._stamper.stamp(packet)
                if stamped is not None:
                    self._queue.put_threadsafe(stamped)
                else:
                    self._queue.count_drop_threadsafe()
        except (av.FFmpegError, OSError, SourceEndedError) as exc:
            if not self._quit.is_set():
                logger.info("live demux ended: %s", exc)
        finally:
            self._queue.end_threadsafe()

    def close(self) -> None:
        """Blocking: stop the thread and close the stream."""
        self._quit.set()
        self._thread.join(timeout=5)
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
