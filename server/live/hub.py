"""The live hub: camera pulls (one per camera, only while watched) and the viewers' peer connections.

LiveError
 ├── UnknownCameraError   no such camera, or it cannot be viewed live
 ├── TooManyViewersError  the configured viewer limit is reached
 └── BadOfferError        the browser's SDP offer is unusable
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.live.jpeg import keyframe_to_jpeg
from server.live.mjpeg import MjpegFeed
from server.live.pull import CameraPull, SourceSpec
from server.live.settings import LiveSettings
from server.live.webrtc import add_sendonly_video, drop_mdns_candidates, gather_extra_addresses, rtc_configuration
from server.metrics import Metrics

logger = logging.getLogger(__name__)


class LiveError(Exception):
    pass


class UnknownCameraError(LiveError):
    pass


class TooManyViewersError(LiveError):
    pass


class BadOfferError(LiveError):
    pass


@dataclass
class Viewer:
    id: str
    camera_id: str
    pc: RTCPeerConnection
    track: MediaStreamTrack
    user: str
    started: float
    connect_check: asyncio.Task[None] | None = None


class LiveHub:
    def __init__(
        self, settings: LiveSettings, sources: Mapping[str, SourceSpec], metrics: Metrics | None = None
    ) -> None:
        self.settings = settings
        self._metrics = metrics
        self._pulls = {camera_id: self._new_pull(spec) for camera_id, spec in sources.items()}
        self._viewers: dict[str, Viewer] = {}
        self._feeds: dict[str, MjpegFeed] = {}

    def _new_pull(self, spec: SourceSpec) -> CameraPull:
        settings, metrics = self.settings, self._metrics
        failures = metrics.live_open_failures.labels(spec.camera_id).inc if metrics is not None else None
        drops = metrics.live_decode_dropped.labels(spec.camera_id).inc if metrics is not None else None
        lost = metrics.live_viewer_dropped.labels(spec.camera_id).inc if metrics is not None else None
        timeouts = (settings.open_timeout_s, settings.read_timeout_s, settings.reopen_max_backoff_s)
        return CameraPull(spec, *timeouts, on_failure=failures, on_drop=drops, on_viewer_drop=lost)

    @property
    def camera_ids(self) -> list[str]:
        return sorted(self._pulls)

    async def reconfigure(self, sources: Mapping[str, SourceSpec]) -> None:
        """Follow a reloaded streams.yaml: a removed or changed camera's viewers are closed with its
        pull (a changed one gets a new pull), an added camera becomes viewable."""
        for camera_id, pull in list(self._pulls.items()):
            if sources.get(camera_id) != pull.spec:
                await self._remove(camera_id)
        added = [camera_id for camera_id in sources if camera_id not in self._pulls]
        for camera_id in added:
            self._pulls[camera_id] = self._new_pull(sources[camera_id])
        if added:
            logger.info("live view: cameras %s added or changed", ", ".join(sorted(added)))

    async def _remove(self, camera_id: str) -> None:
        for viewer in [v for v in self._viewers.values() if v.camera_id == camera_id]:
            await self.close_viewer(viewer.id)
        feed = self._feeds.pop(camera_id, None)
        if feed is not None:
            await feed.stop()
        await self._pulls.pop(camera_id).close()
        logger.info("camera %s: removed from live view (streams.yaml changed)", camera_id)

    def pull(self, camera_id: str) -> CameraPull:
        pull = self._pulls.get(camera_id)
        if pull is None:
            raise UnknownCameraError(f"camera '{camera_id}' has no live source")
        return pull

    def mjpeg(self, camera_id: str) -> MjpegFeed:
        """The camera's shared MJPEG feed (the fallback), made on first use."""
        pull = self.pull(camera_id)
        feed = self._feeds.get(camera_id)
        if feed is None:
            feed = self._feeds[camera_id] = MjpegFeed(pull)
        return feed

    async def answer(self, camera_id: str, offer_sdp: str, user: str) -> tuple[str, str]:
        """Answer a browser's (fully gathered) offer; returns (viewer id, answer SDP)."""
        pull = self.pull(camera_id)
        if len(self._viewers) >= self.settings.max_viewers:
            if self._metrics is not None:
                self._metrics.live_refused.inc()
            raise TooManyViewersError(f"{len(self._viewers)} live viewers already; try again later")
        if "m=video" not in offer_sdp:
            raise BadOfferError("the offer has no video section")
        pc = RTCPeerConnection(rtc_configuration(self.settings))
        track = pull.subscribe()
        viewer = Viewer(uuid.uuid4().hex, camera_id, pc, track, user, time.monotonic())
        self._viewers[viewer.id] = viewer
        self._count_viewers()
        try:
            add_sendonly_video(pc, track)
            await pc.setRemoteDescription(RTCSessionDescription(drop_mdns_candidates(offer_sdp), "offer"))
            gather_extra_addresses(pc, self.settings.host_addresses)
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, AssertionError) as exc:
            await self.close_viewer(viewer.id)
            raise BadOfferError(f"the offer was refused: {exc}") from exc
        self._watch(viewer)
        logger.info("camera %s: viewer %s (%s) joined; %d watching", camera_id, viewer.id[:8], user, pull.viewers)
        return viewer.id, pc.localDescription.sdp

    def _watch(self, viewer: Viewer) -> None:
        """A viewer is closed when its connection fails or closes, or never connects (a browser that
        went away before it did leaves no one to say so)."""

        @viewer.pc.on("connectionstatechange")
        async def on_state() -> None:
            if viewer.pc.connectionState in ("failed", "closed"):
                await self.close_viewer(viewer.id)

        async def unless_connected() -> None:
            await asyncio.sleep(self.settings.connect_timeout_s)
            if viewer.id in self._viewers and viewer.pc.connectionState != "connected":
                logger.info("camera %s: viewer %s never connected; closed", viewer.camera_id, viewer.id[:8])
                await self.close_viewer(viewer.id)

        viewer.connect_check = asyncio.create_task(unless_connected())

    async def close_viewer(self, viewer_id: str) -> bool:
        viewer = self._viewers.pop(viewer_id, None)
        if viewer is None:
            return False
        self._count_viewers()
        if viewer.connect_check is not None and viewer.connect_check is not asyncio.current_task():
            viewer.connect_check.cancel()
        pull = self._pulls[viewer.camera_id]
        await pull.unsubscribe(viewer.track)
        with contextlib.suppress(Exception):
            await viewer.pc.close()
        logger.info("camera %s: viewer %s left; %d watching", viewer.camera_id, viewer_id[:8], pull.viewers)
        return True

    def _count_viewers(self) -> None:
        if self._metrics is not None:
            self._metrics.live_viewers.set(len(self._viewers))

    def viewer(self, viewer_id: str) -> Viewer | None:
        return self._viewers.get(viewer_id)

    async def snapshot(self, camera_id: str, timeout_s: float = 5.0) -> bytes | None:
        """A JPEG of the next keyframe (the current one when the camera is being watched)."""
        pull = self.pull(camera_id)
        recent = pull.keyframe
        if recent is None or pull.viewers == 0:
            recent = await self._next_keyframe(pull, timeout_s)
        if recent is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(None, keyframe_to_jpeg, recent)

    async def _next_keyframe(self, pull: CameraPull, timeout_s: float) -> Any:
        track = pull.subscribe()
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                packet = await asyncio.wait_for(track.recv(), max(0.01, deadline - time.monotonic()))
                if getattr(packet, "is_keyframe", False):
                    return packet
        except (TimeoutError, MediaStreamError) as exc:
            logger.info("camera %s: no keyframe for a snapshot: %s", pull.spec.camera_id, type(exc).__name__)
        finally:
            await pull.unsubscribe(track)
        return None

    def status(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {
            camera_id: {
                "viewers": pull.viewers,
                "pulling": pull.is_open,
                "mode": pull.mode,
                "codec": pull.codec,
                "encoded": pull.encoder.frames_encoded,
                "mjpeg_clients": self._feeds[camera_id].clients if camera_id in self._feeds else 0,
                "fps": pull.stats.fps(now),
                "opens": pull.stats.opens,
                "failures": pull.stats.failures,
            }
            for camera_id, pull in self._pulls.items()
        }

    async def stop(self) -> None:
        for feed in self._feeds.values():
            await feed.stop()
        for viewer_id in list(self._viewers):
            await self.close_viewer(viewer_id)
        for pull in self._pulls.values():
            await pull.close()
