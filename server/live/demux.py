"""A packet reader for RTSP H.264 passed through: one thread per camera demuxes the stream and hands
packets to asyncio through a bounded queue (the oldest is dropped and counted when the pull falls
behind), with a sentinel at the end.

It replaces aiortc's `MediaPlayer(decode=False)` here because that one drops every packet without a
timestamp, and FFmpeg's RTSP demuxer gives none to the first packets of a session: often the very
keyframe a new viewer needs, so the picture waited a whole GOP for the next one. Packets that come
before the first timestamp are held (a few, bounded) and stamped one frame apart before it;
timestamps then start at 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TypeAlias, cast

import av
from av.container import InputContainer
from av.stream import Stream

from server.live.decode import SourceEndedError

logger = logging.getLogger(__name__)

Packet: TypeAlias = "av.Packet[Stream]"

MAX_UNSTAMPED = 8
"""packets without a timestamp held before the first one that has it; more are dropped"""


class PacketStamper:
    """Gives pts-less packets at the start of a stream timestamps one frame apart, before the first
    stamped packet; all timestamps are shifted to start at 0."""

    def __init__(self, fps: float) -> None:
        self._fps = fps
        self._held: list[Packet] = []
        self._shift: int | None = None
        self.dropped = 0

    def stamp(self, packet: Packet) -> list[Packet]:
        """The packets ready to send once `packet` has come (none, one, or the held ones too)."""
        if self._shift is None:
            if packet.pts is None:
                return self._hold(packet)
            step = self._step(packet.time_base)
            self._shift = step * len(self._held) - packet.pts
            for index, held in enumerate(self._held):
                held.pts = held.dts = step * index
            ready, self._held = [*self._held, packet], []
        elif packet.pts is None:
            self.dropped += 1
            return []
        else:
            ready = [packet]
        packet.pts = packet.dts = packet.pts + self._shift
        return ready

    def _hold(self, packet: Packet) -> list[Packet]:
        if len(self._held) >= MAX_UNSTAMPED:
            self.dropped += 1
        else:
            self._held.append(packet)
        return []

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
        self._loop = loop
        self._queue: deque[Packet | None] = deque()
        self._queue_size = queue_size
        self._ready = asyncio.Event()
        self._quit = threading.Event()
        self.dropped = 0
        self._on_drop = on_drop
        self._thread = threading.Thread(target=self._run, name="live-demux", daemon=True)
        self._thread.start()

    async def recv(self) -> Packet:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        packet = self._queue.popleft()
        if packet is None:
            self._queue.append(None)
            raise SourceEndedError("the stream ended")
        return packet

    def _hand_over(self, packet: Packet | None) -> None:
        if packet is not None and len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self._count_drop()
        self._queue.append(packet)
        self._ready.set()

    def _count_drop(self) -> None:
        self.dropped += 1
        if self._on_drop is not None:
            self._on_drop()

    def _deliver(self, packet: Packet | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            self._loop.call_soon_threadsafe(self._hand_over, packet)

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
                dropped = self._stamper.dropped
                for ready in self._stamper.stamp(packet):
                    self._deliver(ready)
                if self._stamper.dropped > dropped:
                    with contextlib.suppress(RuntimeError):
                        self._loop.call_soon_threadsafe(self._count_drop)
        except (av.FFmpegError, OSError, SourceEndedError) as exc:
            if not self._quit.is_set():
                logger.info("live demux ended: %s", exc)
        finally:
            self._deliver(None)

    def close(self) -> None:
        """Blocking: stop the thread and close the stream."""
        self._quit.set()
        self._thread.join(timeout=5)
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
