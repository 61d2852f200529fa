"""One camera's packets relayed to every viewer, with the current GOP kept for the next one.

`PacketRelay` reads the camera's track from the moment its first viewer subscribes (so the camera
opens while the viewer's ICE and DTLS are still under way) and hands each packet to every viewer's
bounded queue. It keeps the packets since the last keyframe (bounded): a viewer that joins a camera
already being watched gets them first (stamped together at the newest one's time) and decodes at
once, instead of waiting for the camera's next keyframe. A viewer that falls behind loses its
queue and waits for the next keyframe (a decoder cannot use the P-frames after a gap); each
packet so lost is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TypeAlias

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.stream import Stream

Packet: TypeAlias = "av.Packet[Stream]"

logger = logging.getLogger(__name__)


class GopCache:
    """The packets since the last keyframe; forgotten when a GOP outgrows `max_packets`."""

    def __init__(self, max_packets: int = 300) -> None:
        self._max = max_packets
        self._packets: list[Packet] = []
        self.overflows = 0

    def add(self, packet: Packet) -> None:
        if packet.is_keyframe:
            self._packets = [packet]
        elif self._packets and len(self._packets) < self._max:
            self._packets.append(packet)
        elif self._packets:
            self._packets = []
            self.overflows += 1

    def packets(self) -> list[Packet]:
        return list(self._packets)

    def for_new_viewer(self) -> list[Packet]:
        """Copies of the GOP stamped one tick apart up to the newest packet's time: the new viewer
        decodes them at once and shows the current picture, and its receiver's clock is not set a
        GOP behind the camera (it would then play everything that late)."""
        if not self._packets:
            return []
        newest = self._packets[-1].pts or 0
        last = len(self._packets) - 1
        return [_stamped(packet, newest - (last - index)) for index, packet in enumerate(self._packets)]

    def clear(self) -> None:
        self._packets = []


def _stamped(packet: Packet, pts: int) -> Packet:
    copy = av.Packet(bytes(packet))
    copy.pts = copy.dts = pts
    if packet.time_base is not None:
        copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy


class ViewerTrack(MediaStreamTrack):
    """A viewer's track: its own bounded queue of packets, fed by the relay."""

    kind = "video"

    def __init__(self, relay: PacketRelay, queue_size: int, primed: list[Packet]) -> None:
        super().__init__()
        self._relay: PacketRelay | None = relay
        self._queue: deque[Packet | None] = deque(primed[-queue_size:])
        self._queue_size = queue_size
        self._ready = asyncio.Event()
        self._waiting_keyframe = not primed
        self._resyncing = False
        self.dropped = 0

    def push(self, packet: Packet | None) -> int:
        """Queue `packet` (None: the end); returns the packets this viewer lost to it."""
        if packet is None:
            self._queue.append(None)
            self._ready.set()
            return 0
        lost = 0
        if len(self._queue) >= self._queue_size:
            lost = len(self._queue)
            self._queue.clear()
            self._waiting_keyframe = self._resyncing = True
        if self._waiting_keyframe and not packet.is_keyframe:
            lost += 1 if self._resyncing else 0  # joined with nothing cached: nothing lost yet
        else:
            self._waiting_keyframe = self._resyncing = False
            self._queue.append(packet)
            self._ready.set()
        self.dropped += lost
        return lost

    async def recv(self) -> Packet:
        while self.readyState == "live" and not self._queue:
            self._ready.clear()
            await self._ready.wait()
        packet = self._queue.popleft() if self._queue else None
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        self._ready.set()
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.discard(self)


class PacketRelay:
    """Reads `source` while viewers remain; `subscribe` gives each a `ViewerTrack`."""

    def __init__(
        self,
        source: MediaStreamTrack,
        camera_id: str,
        queue_size: int = 64,
        on_drop: Callable[[int], object] | None = None,
    ) -> None:
        self._source = source
        self._camera_id = camera_id
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._viewers: set[ViewerTrack] = set()
        self.gop = GopCache()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> ViewerTrack:
        viewer = ViewerTrack(self, self._queue_size, self.gop.for_new_viewer())
        self._viewers.add(viewer)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"live-relay-{self._camera_id}")
        return viewer

    def discard(self, viewer: ViewerTrack) -> None:
        self._viewers.discard(viewer)

    async def _run(self) -> None:
        while True:
            try:
                received = await self._source.recv()
                packet = received if isinstance(received, av.Packet) else None
            except MediaStreamError:
                packet = None
            if packet is not None:
                self.gop.add(packet)
            for viewer in list(self._viewers):
                lost = viewer.push(packet)
                if lost and self._on_drop is not None:
                    self._on_drop(lost)
            if packet is None:
                self.gop.clear()
                return

    def stop(self) -> None:
        """Stop the source; the reader ends with its next packet and ends every viewer."""
        self._source.stop()

    async def wait_closed(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await task
