"""The MJPEG fallback of one camera: the pull's H.264 decoded once (every frame, so P-frames show
too) and a JPEG made at most `fps` times a second, shared by every MJPEG client of the camera.
It runs only while a client reads it; each client gets the newest picture (never a backlog)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import av
from aiortc.mediastreams import MediaStreamError
from av.stream import Stream
from av.video.frame import VideoFrame

from server.live.jpeg import encode_jpeg
from server.live.pull import CameraPull

logger = logging.getLogger(__name__)


class H264Pictures:
    """Blocking: decode H.264 packets, one at a time (in an executor)."""

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("h264", "r")

    def decode(self, packet: av.Packet[Stream]) -> VideoFrame | None:
        try:
            frames = self._decoder.decode(av.Packet(bytes(packet)))
        except av.FFmpegError:
            return None
        video = [frame for frame in frames if isinstance(frame, VideoFrame)]
        return video[-1] if video else None


class MjpegFeed:
    def __init__(self, pull: CameraPull, fps: float = 5.0, max_width: int = 960) -> None:
        self._pull = pull
        self._interval = 1.0 / fps
        self._max_width = max_width
        self._clients = 0
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self.jpeg: bytes | None = None
        self.sequence = 0

    @property
    def clients(self) -> int:
        return self._clients

    async def pictures(self, timeout_s: float = 10.0) -> AsyncIterator[bytes]:
        """The camera's JPEGs as they are made; ends after `timeout_s` without one."""
        self._clients += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mjpeg-{self._pull.spec.camera_id}")
        seen = self.sequence
        try:
            while True:
                seen = await asyncio.wait_for(self._next_after(seen), timeout_s)
                assert self.jpeg is not None
                yield self.jpeg
        finally:
            self._clients -= 1
            if self._clients == 0:
                await self.stop()

    async def _next_after(self, seen: int) -> int:
        async with self._changed:
            await self._changed.wait_for(lambda: self.sequence != seen)
            return self.sequence

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        track = self._pull.subscribe()
        pictures = H264Pictures()
        last = 0.0
        try:
            while True:
                packet = await track.recv()
                if not isinstance(packet, av.Packet):
                    continue
                frame = await loop.run_in_executor(None, pictures.decode, packet)
                if frame is None or time.monotonic() - last < self._interval:
                    continue
                last = time.monotonic()
                jpeg = await loop.run_in_executor(None, encode_jpeg, frame, self._max_width, 6)
                async with self._changed:
                    self.jpeg, self.sequence = jpeg, self.sequence + 1
                    self._changed.notify_all()
        except MediaStreamError:
            logger.info("camera %s: MJPEG feed stopped (the pull closed)", self._pull.spec.camera_id)
        finally:
            await self._pull.unsubscribe(track)
