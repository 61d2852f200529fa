"""One camera pull: its packet source (RTSP H.264 passed through, anything else transcoded once by
the pull's own encoder, `server.live.sources`) opened on demand, reopened when the source dies or
stalls, relayed to every viewer through one `PacketRelay` (which opens the camera as soon as the
first viewer subscribes and gives a new viewer the current GOP first).

Viewers subscribe to a `PullTrack` that never ends while viewers remain: when the camera dies the
track reopens it (capped, jittered backoff) and keeps timestamps continuous, so peer connections
never need `replaceTrack`. When the last viewer leaves, the track is stopped and the RTSP session
closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.stream import Stream

from contract.redact import redact_url
from server.live.decode import SourceEndedError
from server.live.h264 import with_parameter_sets
from server.live.relay import PacketRelay
from server.live.sources import PacketSource, open_source
from server.live.transcode import H264Transcoder

logger = logging.getLogger(__name__)

DEFAULT_STEP = Fraction(1, 15)


@dataclass(frozen=True)
class SourceSpec:
    """Where a camera's video comes from; `url` may hold credentials and is never logged as is."""

    camera_id: str
    url: str
    rtsp: bool = True
    tcp: bool = True
    phase_locked: bool = False
    """a looping, realtime file: played in phase with the wall clock (`ReaderOptions.phase_locked`)"""

    @property
    def redacted(self) -> str:
        return redact_url(self.url)


@dataclass
class PullStats:
    opens: int = 0
    failures: int = 0
    packets: int = 0
    keyframes: int = 0
    last_packet_at: float | None = None
    open_since: float | None = None
    recent: list[float] = field(default_factory=list)

    def fps(self, now: float) -> float:
        window = [t for t in self.recent if now - t <= 2.0]
        return round(len(window) / 2.0, 1)


class PullTrack(MediaStreamTrack):
    """The single source track of a camera's relay."""

    kind = "video"

    def __init__(self, pull: CameraPull) -> None:
        super().__init__()
        self._pull = pull

    async def recv(self) -> av.Packet[Stream]:
        if self.readyState != "live":
            raise MediaStreamError
        return await self._pull.next_packet()


class CameraPull:
    """Owns the RTSP session of one camera while it has viewers."""

    def __init__(
        self,
        spec: SourceSpec,
        open_timeout_s: float,
        read_timeout_s: float,
        max_backoff_s: float,
        on_failure: Callable[[], object] | None = None,
        on_drop: Callable[[], object] | None = None,
        on_viewer_drop: Callable[[int], object] | None = None,
    ) -> None:
        self.spec = spec
        self._on_viewer_drop = on_viewer_drop
        self._on_failure = on_failure
        self._on_drop = on_drop
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_backoff_s = max_backoff_s
        self._lock = asyncio.Lock()
        self._source: PacketSource | None = None
        self._transcode_rtsp = False
        self.encoder = H264Transcoder()
        """the camera's one encoder, used when its source cannot be passed through"""
        self._relay: PacketRelay | None = None
        self._track: PullTrack | None = None
        self._viewers: set[MediaStreamTrack] = set()
        self._offset = 0
        self._last_pts: int | None = None
        self._step = 0
        self._new_generation = True
        self._failures_in_row = 0
        self.keyframe: av.Packet[Stream] | None = None
        self.keyframe_event = asyncio.Event()
        self.stats = PullStats()

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def is_open(self) -> bool:
        return self._source is not None

    @property
    def mode(self) -> str | None:
        """'passthrough' or 'transcode' while open"""
        return self._source.mode if self._source is not None else None

    @property
    def codec(self) -> str | None:
        return self._source.codec if self._source is not None else None

    def subscribe(self) -> MediaStreamTrack:
        """A new viewer's track; the first viewer starts the pull."""
        if self._track is None or self._relay is None:
            self._track = PullTrack(self)
            self._relay = PacketRelay(self._track, self.spec.camera_id, on_drop=self._on_viewer_drop)
            logger.info("camera %s: live pull started", self.spec.camera_id)
        proxy = self._relay.subscribe()
        self.encoder.request_keyframe()
        self._viewers.add(proxy)
        return proxy

    async def unsubscribe(self, proxy: MediaStreamTrack) -> None:
        """A viewer left; the last one stops the pull and closes the camera."""
        proxy.stop()
        self._viewers.discard(proxy)
        if not self._viewers:
            await self.close()

    async def close(self) -> None:
        track, self._track, relay, self._relay = self._track, None, self._relay, None
        if relay is not None:
            relay.stop()
        async with self._lock:
            await self._close_source()
        if relay is not None:
            await relay.wait_closed()
        if track is not None:
            logger.info("camera %s: live pull closed (no viewer left)", self.spec.camera_id)

    async def next_packet(self) -> av.Packet[Stream]:
        while True:
            source = await self._ensure_open()
            try:
                packet = await asyncio.wait_for(source.recv(), self._read_timeout_s)
            except (MediaStreamError, SourceEndedError, TimeoutError):
                if self._track is None or self._track.readyState != "live":
                    raise MediaStreamError from None  # closed with its last viewer: nothing to reopen
                logger.warning("camera %s: stream ended or stalled; reopening", self.spec.camera_id)
                async with self._lock:
                    if self._source is source:
                        await self._close_source()
                continue
            return self._accept(packet, source.extradata)

    async def _ensure_open(self) -> PacketSource:
        while True:
            if self._track is None or self._track.readyState != "live":
                raise MediaStreamError
            async with self._lock:
                if self._source is not None:
                    return self._source
                if await self._open():
                    assert self._source is not None
                    return self._source
            await asyncio.sleep(self._backoff())

    async def _open(self) -> bool:
        loop = asyncio.get_running_loop()
        spec = self.spec
        args = (spec.url, spec.rtsp, spec.tcp, self._open_timeout_s, self._read_timeout_s, self.encoder, loop)
        try:
            opener = functools.partial(open_source, phase_locked=spec.phase_locked)
            self._source = await loop.run_in_executor(None, opener, *args, self._transcode_rtsp, self._on_drop)
        except (av.FFmpegError, OSError, TimeoutError, SourceEndedError) as exc:
            self.stats.failures += 1
            self._failures_in_row += 1
            if self._on_failure is not None:
                self._on_failure()
            if self._failures_in_row == 1:
                logger.warning("camera %s: cannot open %s: %s", spec.camera_id, spec.redacted, exc)
            return False
        if self._failures_in_row:
            logger.info("camera %s: reopened after %d failures", spec.camera_id, self._failures_in_row)
        if self._source.mode == "transcode" and not self._transcode_rtsp:
            self._transcode_rtsp = spec.rtsp
            logger.info(
                "camera %s: %s video is transcoded to H.264 once for all viewers", spec.camera_id, self._source.codec
            )
        self._failures_in_row = 0
        self._new_generation = True
        self.stats.opens += 1
        self.stats.open_since = time.monotonic()
        return True

    def _backoff(self) -> float:
        base = min(self._max_backoff_s, 0.5 * float(2 ** min(self._failures_in_row, 6)))
        return base * random.uniform(0.5, 1.0)

    async def _close_source(self) -> None:
        source, self._source = self._source, None
        self.stats.open_since = None
        if source is not None:
            await source.close()

    def _accept(self, packet: av.Packet[Stream], extradata: bytes | None) -> av.Packet[Stream]:
        """Continuous timestamps across reopens; SPS/PPS on keyframes; remember the last keyframe."""
        assert packet.pts is not None
        if self._new_generation:
            step = self._step or int(DEFAULT_STEP / packet.time_base) if packet.time_base else 1
            self._offset = 0 if self._last_pts is None else self._last_pts + step - packet.pts
            self._new_generation = False
        pts = packet.pts + self._offset
        if self._last_pts is not None and pts > self._last_pts:
            self._step = pts - self._last_pts
        packet.pts = pts
        packet.dts = pts
        self._last_pts = pts
        packet = with_parameter_sets(packet, extradata)
        self._count(packet)
        return packet

    def _count(self, packet: av.Packet[Stream]) -> None:
        now = time.monotonic()
        self.stats.packets += 1
        self.stats.last_packet_at = now
        self.stats.recent = [t for t in self.stats.recent[-60:] if now - t <= 2.0] + [now]
        if packet.is_keyframe:
            self.stats.keyframes += 1
            self.keyframe = packet
            self.keyframe_event.set()
            self.keyframe_event = asyncio.Event()
