"""One camera pull: a `MediaPlayer(decode=False)` opened on demand, reopened when the source dies
or stalls, relayed to every viewer through one `MediaRelay`.

Viewers subscribe to a `PullTrack` that never ends while viewers remain: when the camera dies the
track reopens it (capped, jittered backoff) and keeps timestamps continuous, so peer connections
never need `replaceTrack`. When the last viewer leaves, the track is stopped and the RTSP session
closed (`MediaRelay` alone would keep reading).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.stream import Stream

from contract.redact import redact_url
from server.live.h264 import with_parameter_sets

logger = logging.getLogger(__name__)

DEFAULT_STEP = Fraction(1, 15)


@dataclass(frozen=True)
class SourceSpec:
    """Where a camera's video comes from; `url` may hold credentials and is never logged as is."""

    camera_id: str
    url: str
    rtsp: bool = True
    tcp: bool = True

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


def open_player(spec: SourceSpec, open_timeout_s: float, read_timeout_s: float) -> MediaPlayer:
    """Blocking: opens the stream (run it in an executor)."""
    if not spec.rtsp:
        return MediaPlayer(spec.url, decode=False, loop=True)
    options = {
        "rtsp_transport": "tcp" if spec.tcp else "udp",
        "timeout": str(int(read_timeout_s * 1_000_000)),
        "fflags": "nobuffer",
        "probesize": "32768",
        "analyzeduration": "500000",
    }
    return MediaPlayer(spec.url, format="rtsp", options=options, decode=False, timeout=(open_timeout_s, read_timeout_s))  # type: ignore[arg-type]


def _extradata(player: MediaPlayer) -> bytes | None:
    container = getattr(player, "_MediaPlayer__container", None)
    if container is None or not container.streams.video:
        return None
    data = container.streams.video[0].codec_context.extradata
    return bytes(data) if data else None


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
    ) -> None:
        self.spec = spec
        self._on_failure = on_failure
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_backoff_s = max_backoff_s
        self._lock = asyncio.Lock()
        self._player: MediaPlayer | None = None
        self._extradata: bytes | None = None
        self._relay: MediaRelay | None = None
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
        return self._player is not None

    def subscribe(self) -> MediaStreamTrack:
        """A new viewer's track; the first viewer starts the pull."""
        if self._track is None or self._relay is None:
            self._track = PullTrack(self)
            self._relay = MediaRelay()
            logger.info("camera %s: live pull started", self.spec.camera_id)
        proxy = self._relay.subscribe(self._track, buffered=False)
        self._viewers.add(proxy)
        return proxy

    async def unsubscribe(self, proxy: MediaStreamTrack) -> None:
        """A viewer left; the last one stops the pull and closes the camera."""
        proxy.stop()
        self._viewers.discard(proxy)
        if not self._viewers:
            await self.close()

    async def close(self) -> None:
        track, self._track, self._relay = self._track, None, None
        if track is not None:
            track.stop()
        async with self._lock:
            await self._close_player()
        if track is not None:
            logger.info("camera %s: live pull closed (no viewer left)", self.spec.camera_id)

    async def next_packet(self) -> av.Packet[Stream]:
        while True:
            player = await self._ensure_open()
            try:
                packet = await asyncio.wait_for(player.video.recv(), self._read_timeout_s)  # type: ignore[union-attr]
            except (MediaStreamError, TimeoutError):
                logger.warning("camera %s: stream ended or stalled; reopening", self.spec.camera_id)
                async with self._lock:
                    if self._player is player:
                        await self._close_player()
                continue
            if isinstance(packet, av.Packet) and packet.pts is not None:
                return self._accept(packet)

    async def _ensure_open(self) -> MediaPlayer:
        while True:
            if self._track is None or self._track.readyState != "live":
                raise MediaStreamError
            async with self._lock:
                if self._player is not None:
                    return self._player
                if await self._open():
                    assert self._player is not None
                    return self._player
            await asyncio.sleep(self._backoff())

    async def _open(self) -> bool:
        loop = asyncio.get_running_loop()
        args = (self.spec, self._open_timeout_s, self._read_timeout_s)
        try:
            self._player = await loop.run_in_executor(None, open_player, *args)
        except (av.FFmpegError, OSError, TimeoutError) as exc:
            self.stats.failures += 1
            self._failures_in_row += 1
            if self._on_failure is not None:
                self._on_failure()
            if self._failures_in_row == 1:
                logger.warning("camera %s: cannot open %s: %s", self.spec.camera_id, self.spec.redacted, exc)
            return False
        if self._failures_in_row:
            logger.info("camera %s: reopened after %d failures", self.spec.camera_id, self._failures_in_row)
        self._failures_in_row = 0
        self._extradata = _extradata(self._player)
        self._new_generation = True
        self.stats.opens += 1
        self.stats.open_since = time.monotonic()
        return True

    def _backoff(self) -> float:
        base = min(self._max_backoff_s, 0.5 * float(2 ** min(self._failures_in_row, 6)))
        return base * random.uniform(0.5, 1.0)

    async def _close_player(self) -> None:
        player, self._player = self._player, None
        self.stats.open_since = None
        if player is not None and player.video is not None:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(Exception):
                await loop.run_in_executor(None, player.video.stop)

    def _accept(self, packet: av.Packet[Stream]) -> av.Packet[Stream]:
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
        packet = with_parameter_sets(packet, self._extradata)
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
