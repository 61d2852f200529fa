"""A decoding reader for sources that cannot be passed through: one thread per camera decodes the
video (a looped file paced at its frame rate, or a live stream as it comes) and hands pictures to
asyncio through a bounded queue that keeps the newest (drops are counted), with a sentinel at the end.

It replaces aiortc's `MediaPlayer(decode=True)` here because that one keeps an unbounded queue and
loses its pacing when a file loops (the whole file then plays at decoding speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
from av.container import InputContainer
from av.video.frame import VideoFrame

from contract.medialoop import LoopClock, loop_timing
from server.live.handoff import NewestQueue

logger = logging.getLogger(__name__)


class SourceEndedError(Exception):
    """The source ended or failed; the pull reopens it."""


@dataclass(frozen=True)
class ReaderOptions:
    url: str
    format: str | None = None
    options: dict[str, str] | None = None
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    paced: bool = False
    """a file: deliver at its frame rate (and loop it); a live stream is delivered as it comes"""
    phase_locked: bool = False
    """a paced file whose duration is known plays in phase with the wall clock (contract.medialoop),
    showing the picture the edge sees at the same moment; otherwise from its start"""
    max_fps: float = 15.0
    queue_size: int = 2


def open_container(options: ReaderOptions) -> InputContainer:
    """Blocking: open the source (run it in an executor)."""
    container = av.open(
        options.url,
        format=options.format,
        options=options.options or {},
        timeout=(options.open_timeout_s, options.read_timeout_s),
    )
    if not container.streams.video:
        container.close()
        raise SourceEndedError("the source has no video stream")
    return container


class FrameReader:
    """Decoded pictures of one source; `recv` from asyncio, decoding in its own thread."""

    def __init__(
        self,
        options: ReaderOptions,
        container: InputContainer,
        loop: asyncio.AbstractEventLoop,
        on_drop: Callable[[], object] | None = None,
    ) -> None:
        self._options = options
        self._container: InputContainer | None = container
        self._frames: Iterator[VideoFrame] = container.decode(video=0)
        self._queue: NewestQueue[VideoFrame] = NewestQueue(
            loop, options.queue_size, lambda: SourceEndedError("the source ended"), on_drop
        )
        self._quit = threading.Event()
        self.codec = container.streams.video[0].codec_context.name
        rate = container.streams.video[0].average_rate
        self.fps = float(rate) if rate else 15.0
        self.max_fps = options.max_fps
        self._clock = self._loop_clock(container) if options.paced and options.phase_locked else None
        self._catching_up = self._clock is not None
        self._thread = threading.Thread(target=self._run, name="live-decode", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """pictures the loop did not take in time (the newest were kept)"""
        return self._queue.dropped

    async def recv(self) -> VideoFrame:
        return await self._queue.get()

    @staticmethod
    def _loop_clock(container: InputContainer) -> LoopClock | None:
        timing = loop_timing(container, container.streams.video[0])
        return LoopClock(timing, time.time()) if timing is not None else None

    def _seek_in_phase(self, clock: LoopClock) -> None:
        """At open: to the keyframe before the clock's position (a file that cannot seek is read
        from its start; the frames before the position are decoded and discarded either way)."""
        container = self._container
        if container is None:
            return
        stream = container.streams.video[0]
        target = clock.seek_target(stream.time_base)
        if target is None:
            return
        try:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.close()
            self._container = container = open_container(self._options)
        self._frames = container.decode(video=0)

    def _in_phase(self, frame: VideoFrame, clock: LoopClock) -> bool:
        """Wait until the frame is the picture (its loop's start + its place); False: at open, it
        has already passed (skip it, undecoded time is not paced)."""
        place = clock.place(float(frame.time)) if frame.time is not None else 0.0
        if self._catching_up and clock.passed(place, 1.0 / self.fps, time.time()):
            return False
        self._catching_up = False
        self._quit.wait(max(0.0, clock.due(place) - time.time()))
        return True

    def _run(self) -> None:
        step = 1.0 / min(self.fps, self._options.max_fps)
        due = time.monotonic()
        last_sent = 0.0
        try:
            if self._clock is not None:
                self._seek_in_phase(self._clock)
            while not self._quit.is_set():
                frame = self._next_frame()
                now = time.monotonic()
                if self._clock is not None:
                    if not self._in_phase(frame, self._clock):
                        continue
                    now = time.monotonic()
                elif self._options.paced:
                    due = max(due + 1.0 / self.fps, now - 1.0)
                    if due > now:
                        time.sleep(due - now)
                    now = time.monotonic()
                if now - last_sent >= step * 0.9:
                    last_sent = now
                    self._queue.put_threadsafe(frame)
        except (av.FFmpegError, OSError, SourceEndedError) as exc:
            if not self._quit.is_set():
                logger.info("live decode of %s ended: %s", self.codec, exc)
        finally:
            self._queue.end_threadsafe()

    def _next_frame(self) -> VideoFrame:
        while True:
            with contextlib.suppress(StopIteration):
                return next(self._frames)
            if not self._options.paced or self._container is None:
                raise SourceEndedError("the stream ended")
            self._container.close()  # a file: loop by reopening (raw streams cannot seek)
            self._container = open_container(self._options)
            self._frames = self._container.decode(video=0)
            if self._clock is not None:  # the next loop starts exactly one file duration later
                self._clock.next_loop()
                self._catching_up = True

    def close(self) -> None:
        """Blocking: stop the thread and close the source."""
        self._quit.set()
        self._thread.join(timeout=5)
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
