"""Open and decode one video source with PyAV (FFmpeg), with timeouts, errors free of credentials."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import av
import av.error

from contract.config import FileSource, RtspSource
from contract.medialoop import LoopClock, loop_timing
from contract.redact import redact_text
from contract.timeutil import utc_now
from edge.source.arrival import ArrivalTimes
from edge.source.packets import PacketTap


class SourceError(Exception):
    """The source cannot be read. `reason` is safe to log and publish (no credentials)."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourceUnavailableError(SourceError):
    """Probably temporary: refused, timed out, dropped, ended."""


class SourceFinishedError(SourceError):
    """A file with `loop: false` played to its end: the camera stays offline, nothing retries."""

    permanent = True


class SourceRejectedError(SourceError):
    """Retrying soon will not help: wrong credentials, no such stream or file."""

    permanent = True


_REJECTIONS: tuple[tuple[type[BaseException], str], ...] = (
    (av.error.HTTPUnauthorizedError, "authentication failed (401 Unauthorized): check the user and password"),
    (av.error.HTTPForbiddenError, "access forbidden (403 Forbidden)"),
    (av.error.HTTPNotFoundError, "no such stream on the camera (404 Not Found): check the URL path"),
    (FileNotFoundError, "the video file does not exist"),
)
_UNAVAILABLE: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (TimeoutError, "timed out"),
    (av.error.ExitError, "timed out"),
    (av.error.EOFError, "the stream ended"),
)


def translate_error(exc: BaseException, secrets: list[str]) -> SourceError:
    """Map a PyAV / OS error onto a SourceError with a message a person can act on."""
    for kind, reason in _REJECTIONS:
        if isinstance(exc, kind):
            return SourceRejectedError(reason)
    for kind, reason in _UNAVAILABLE:
        if isinstance(exc, kind):
            return SourceUnavailableError(reason)
    detail = getattr(exc, "strerror", None) or type(exc).__name__
    return SourceUnavailableError(redact_text(str(detail), secrets))


def url_secrets(url: str) -> list[str]:
    password = urlsplit(url).password
    return [password, unquote(password)] if password else []


@dataclass(frozen=True)
class DecodedFrame:
    frame: av.VideoFrame
    t: float  # the stream's clock in seconds (monotonic for live sources, media time for files)
    ts: datetime  # capture time, UTC: when its packet arrived (live) or its place in the paced playback (file)
    decode_lag_s: float = 0.0  # live: from the packet's arrival to the frame leaving the decoder


# One decoder thread per camera: on a 2-core host FFmpeg's automatic threading starts several threads
# per camera that fight each other and the detector; per-frame CPU is the same or lower with one
# (measured in bench/edge.py and models/README.md), and a worker gets its parallelism from cameras.
DECODER_THREADS = 1


def _configure_decoder(stream: Any) -> None:
    stream.codec_context.thread_count = DECODER_THREADS


# FFmpeg's own socket timeout fires up to twice late (MEDIA.md); PyAV's read timeout (the stall
# timeout, passed to av.open) fires on time, so FFmpeg's is only a backstop.
_FFMPEG_TIMEOUT_FACTOR = 3


def _rtsp_options(source: RtspSource) -> dict[str, str]:
    stall_us = int(source.stall_timeout.total_seconds() * 1_000_000)
    return {
        "rtsp_transport": source.transport,
        "timeout": str(stall_us * _FFMPEG_TIMEOUT_FACTOR),
        "fflags": "nobuffer",
        "probesize": "32768",
        "analyzeduration": "500000",
    }


def _never() -> bool:
    return False


MAX_IDLE_GOP_S = 4.0
"""Keyframes-only decoding is used only while keyframes come at least this often: on a longer GOP
(vtest.avi has one keyframe per 25 s) returning motion would go unseen for that long."""


class KeyframeInterval:
    """Where the last keyframe was and how far apart keyframes are (seconds of stream time)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._last: float | None = None
        self.seconds: float | None = None
        """the longest keyframe interval seen (None: fewer than two keyframes and none overdue)"""

    def position(self, index: int, at_s: float | None) -> float:
        return at_s if at_s is not None else index / self._rate

    def packet(self, position: float, keyframe: bool) -> None:
        if self._last is not None:
            gap = position - self._last
            if keyframe or gap > MAX_IDLE_GOP_S:  # an overdue keyframe already tells the GOP is long
                self.seconds = max(self.seconds or 0.0, gap)
        if keyframe:
            self._last = position

    def short(self) -> bool:
        """No keyframe interval longer than MAX_IDLE_GOP_S seen (keyframes-only decoding may be used)."""
        return self.seconds is None or self.seconds <= MAX_IDLE_GOP_S


class VideoStream:
    """One open source. `frames()` yields decoded frames until the source fails (SourceError).

    `keyframes_only()` is asked before each packet is decoded: while it says True the decoder skips
    every frame but keyframes (`skip_frame = "NONKEY"`), so an idle camera costs a fraction of a
    full decode; the caller switches back right after a keyframe, whose successors decode cleanly.
    """

    def __init__(
        self,
        source: RtspSource | FileSource,
        base_dir: Path,
        stop: threading.Event,
        packets: PacketTap | None = None,
    ) -> None:
        """`packets` receives each demuxed video packet before it is decoded (e.g. the recorder)."""
        self._source = source
        self._packets = packets
        self._base_dir = base_dir
        self._stop = stop
        self._container: Any = None
        self._secrets = url_secrets(source.url) if isinstance(source, RtspSource) else []
        self._keyframes_only: Callable[[], bool] = _never
        self._on_packet: Callable[[], None] | None = None
        self._arrivals = ArrivalTimes()
        self._stall_s = source.stall_timeout.total_seconds() if isinstance(source, RtspSource) else None
        self.last_frame_at = time.monotonic()
        self.last_packet_at = self.last_frame_at
        """when the camera last sent data (a demuxed packet): the stall clock, since decoded frames
        come only once a GOP while decoding keyframes only"""

    def open(self) -> None:
        try:
            self._container = self._open_container()
            if not self._container.streams.video:
                raise SourceRejectedError("the source has no video stream")
        except SourceError:
            self.close()
            raise
        except (av.error.FFmpegError, OSError) as exc:
            self.close()
            raise translate_error(exc, self._secrets) from None

    def _open_container(self) -> Any:
        source = self._source
        if isinstance(source, RtspSource):
            timeouts = (source.connect_timeout.total_seconds(), source.stall_timeout.total_seconds())
            return av.open(source.url, options=_rtsp_options(source), timeout=timeouts)
        path = Path(source.path)
        return av.open(str(path if path.is_absolute() else self._base_dir / path))

    def close(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            container.close()

    def frames(
        self, keyframes_only: Callable[[], bool] = _never, on_packet: Callable[[], None] | None = None
    ) -> Iterator[DecodedFrame]:
        """`on_packet` is called for each demuxed video packet (decoded or skipped)."""
        self._keyframes_only, self._on_packet = keyframes_only, on_packet
        try:
            if isinstance(self._source, RtspSource):
                yield from self._live_frames(self._source)
            else:
                yield from self._file_frames(self._source)
        except (av.error.FFmpegError, OSError) as exc:
            raise self._stall_or(exc) from None

    def _stall_or(self, exc: BaseException) -> SourceError:
        """A read that failed after the stall timeout without a frame is a stall, whatever FFmpeg says."""
        if self._stall_s is not None and time.monotonic() - self.last_packet_at >= self._stall_s * 0.9:
            return self._stalled()
        return translate_error(exc, self._secrets)

    def _stalled(self) -> SourceUnavailableError:
        return SourceUnavailableError(f"timed out: no frame for {self._stall_s:g} s")

    def _arrived(self, packet: Any) -> None:
        """Restart the stall clock for a packet with data. One that comes out only after the stall
        timeout is the rest of a frame cut short by the stall, handed out when FFmpeg's read was
        interrupted: decoding it would restart the clock and report the stall a timeout late."""
        if self._stall_s is None or not packet.size:
            return
        now = time.monotonic()
        if now - self.last_packet_at >= self._stall_s:
            raise self._stalled()
        self.last_packet_at = now

    def _decode(self, stream: Any) -> Iterator[tuple[av.VideoFrame, int]]:
        """Demux then decode (keyframes only while asked), handing each packet to the tap first.
        Yields each frame with the index of its packet (raw .264 files carry no timestamps)."""
        tap, codec, skipping = self._packets, stream.codec_context, False
        if tap is not None:
            tap.stream_started(stream)
        gop = KeyframeInterval(float(stream.guessed_rate or stream.average_rate or 25))
        for index, packet in enumerate(self._container.demux(stream)):
            self._arrived(packet)
            arrival = self._arrivals.packet(packet.pts)
            if tap is not None:
                tap.packet(packet, arrival)
            if self._on_packet is not None:
                self._on_packet()
            at_s = float(packet.pts * packet.time_base) if packet.pts is not None else None
            gop.packet(gop.position(index, at_s), packet.is_keyframe)
            wanted = gop.short() and self._keyframes_only()
            if wanted != skipping:
                codec.skip_frame, skipping = ("NONKEY" if wanted else "DEFAULT"), wanted
            for frame in packet.decode():
                yield frame, index

    def _live_frames(self, source: RtspSource) -> Iterator[DecodedFrame]:
        stream = self._container.streams.video[0]
        _configure_decoder(stream)
        self.last_frame_at = self.last_packet_at = time.monotonic()
        for frame, _ in self._decode(stream):
            self.last_frame_at = time.monotonic()
            arrival = self._arrivals.frame(frame.pts)
            yield DecodedFrame(frame, self.last_frame_at, arrival.ts, self.last_frame_at - arrival.t)
            if self._stop.is_set():
                return
        raise SourceUnavailableError("the stream ended (the camera closed the connection)")

    def _file_frames(self, source: FileSource) -> Iterator[DecodedFrame]:
        """A looping realtime file whose duration is known plays in phase with the wall clock
        (contract.medialoop: the server's live view shows the same picture at the same moment);
        otherwise it plays from its start, paced from the moment it opened (or unpaced)."""
        timing = loop_timing(self._container, self._container.streams.video[0]) if source.loop else None
        if timing is not None and source.realtime:
            yield from self._phased_file_frames(LoopClock(timing, time.time()))
        else:
            yield from self._started_file_frames(source)

    def _phased_file_frames(self, clock: LoopClock) -> Iterator[DecodedFrame]:
        """Each frame at `loop_start + t` (its `ts`, wall clock); at open the frames before the
        current position are decoded and discarded; each loop starts exactly D after the last."""
        first_loop = clock.loop_start
        while not self._stop.is_set():
            stream = self._stream_at(clock)
            rate = float(stream.guessed_rate or stream.average_rate or 25)
            catching_up = True
            for frame, index in self._decode(stream):
                place = clock.place(float(frame.time)) if frame.time is not None else index / rate
                if catching_up and clock.passed(place, 1 / rate, time.time()):
                    continue
                catching_up, due = False, clock.due(place)
                if self._stop.wait(max(0.0, due - time.time())):
                    return
                yield DecodedFrame(frame, due - first_loop, datetime.fromtimestamp(due, UTC))
                if self._stop.is_set():
                    return
            clock.next_loop()
            self._reopen()

    def _stream_at(self, clock: LoopClock) -> Any:
        """The video stream, moved to the keyframe before the clock's position at open; a file
        that cannot seek is reopened and decoded from its start instead."""
        stream = self._container.streams.video[0]
        target = clock.seek_target(stream.time_base)
        if target is not None:
            try:
                self._container.seek(target, stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                self._reopen()
                stream = self._container.streams.video[0]
        _configure_decoder(stream)
        return stream

    def _reopen(self) -> None:
        self._container.close()  # reopen: raw .264 files cannot seek
        self._container = self._open_container()

    def _started_file_frames(self, source: FileSource) -> Iterator[DecodedFrame]:
        started_wall, started_utc, offset = time.monotonic(), utc_now(), 0.0
        while not self._stop.is_set():
            last = offset
            stream = self._container.streams.video[0]
            _configure_decoder(stream)
            rate = float(stream.guessed_rate or stream.average_rate or 25)
            for frame, index in self._decode(stream):
                # raw .264 files carry no timestamps: count frames at the stream's rate instead
                t = offset + (float(frame.time) if frame.time is not None else index / rate)
                last = t
                if source.realtime and self._stop.wait(max(0.0, started_wall + t - time.monotonic())):
                    return
                yield DecodedFrame(frame, t, started_utc + timedelta(seconds=t))
                if self._stop.is_set():
                    return
            if not source.loop:
                raise SourceFinishedError("the video file ended (loop: false)")
            offset = last + 0.1
            self._reopen()
