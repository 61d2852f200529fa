"""The live hub against the real GStreamer RTSP server, watched by real aiortc peers in this process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import VideoFrame

from server.live.hub import LiveHub, UnknownCameraError
from server.live.pull import SourceSpec
from server.live.settings import LiveSettings
from tests.fixtures.rtsp import RtspServerFactory


class Watcher:
    """A receiving peer (as a browser would be) that counts decoded frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self.first_frame_at: float | None = None
        self._task: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._task = asyncio.ensure_future(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.frames += 1
                    self.size = (frame.width, frame.height)
                    self.first_frame_at = self.first_frame_at or time.monotonic()
        except MediaStreamError:
            return

    async def watch(self, hub: LiveHub, camera_id: str) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        viewer_id, sdp = await hub.answer(camera_id, self.pc.localDescription.sdp, "test")
        assert "H264" in sdp and "VP8" not in sdp
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        return viewer_id

    async def wait_frames(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        start = self.frames
        while self.frames - start < count:
            assert time.monotonic() < deadline, f"only {self.frames - start} of {count} frames in {timeout}s"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        if self._task is not None:
            self._task.cancel()


@pytest.fixture
def camera(rtsp_server: RtspServerFactory, moving_clip: Path) -> tuple[RtspServerFactory, str]:
    server = rtsp_server({"cam": moving_clip}, fps=15)
    return rtsp_server, server.url("cam")


def hub_for(url: str) -> LiveHub:
    settings = LiveSettings(host_addresses=["127.0.0.1"], read_timeout_s=2.0, reopen_max_backoff_s=1.0)
    return LiveHub(settings, {"cam": SourceSpec("cam", url)})


async def test_two_viewers_share_one_pull_which_closes_after_the_last(camera: tuple[RtspServerFactory, str]) -> None:
    hub = hub_for(camera[1])
    first, second = Watcher(), Watcher()
    try:
        first_id = await first.watch(hub, "cam")
        await first.wait_frames(15, timeout=15)
        assert first.size == (640, 360)
        second_id = await second.watch(hub, "cam")
        await second.wait_frames(15, timeout=10)
        status = hub.status()["cam"]
        assert status["viewers"] == 2 and status["opens"] == 1 and status["pulling"]

        await hub.close_viewer(first_id)
        await second.wait_frames(10, timeout=5)
        assert hub.status()["cam"]["pulling"]
        await hub.close_viewer(second_id)
        assert hub.status()["cam"] == {**hub.status()["cam"], "viewers": 0, "pulling": False}
    finally:
        await first.close()
        await second.close()
        await hub.stop()


async def test_viewers_start_at_a_keyframe_without_waiting_for_the_cameras_next(
    camera: tuple[RtspServerFactory, str],
) -> None:
    """FFmpeg gives the first packets of an RTSP session no timestamp; the first is the keyframe a
    new viewer needs (dropping it cost a whole GOP). A viewer joining a watched camera gets the
    packets since its last keyframe first (the GOP here is 15 frames), stamped together at the
    newest one's time, then the live packets."""
    hub = hub_for(camera[1])
    pull = hub.pull("cam")
    first = pull.subscribe()
    try:
        seen = [await asyncio.wait_for(first.recv(), 10) for _ in range(6)]
        assert all(isinstance(p, av.Packet) and p.pts is not None for p in seen)
        assert seen[0].is_keyframe and not any(p.is_keyframe for p in seen[1:])  # type: ignore[union-attr]
        assert [p.pts for p in seen] == sorted({p.pts for p in seen})  # type: ignore[type-var]
        second = pull.subscribe()
        joined = [await asyncio.wait_for(second.recv(), 1) for _ in range(7)]
        assert [bytes(p) for p in joined[:6]] == [bytes(p) for p in seen] and joined[0].is_keyframe  # type: ignore[union-attr]
        newest = seen[-1].pts
        assert [p.pts for p in joined[:6]] == [newest - 5 + i for i in range(6)]  # type: ignore[operator]
        assert joined[6] is await asyncio.wait_for(first.recv(), 1)  # then live, as the first viewer
    finally:
        await pull.close()
        await hub.stop()


async def test_the_pull_reopens_when_the_camera_dies_and_video_resumes(camera: tuple[RtspServerFactory, str]) -> None:
    factory, url = camera
    hub = hub_for(url)
    watcher = Watcher()
    try:
        await watcher.watch(hub, "cam")
        await watcher.wait_frames(10, timeout=15)
        server = factory.servers[0]
        server.kill()
        await asyncio.sleep(1.0)
        server.start()  # same port
        await watcher.wait_frames(15, timeout=20)
        assert hub.status()["cam"]["opens"] >= 2
    finally:
        await watcher.close()
        await hub.stop()


async def test_snapshot_is_a_jpeg_of_the_camera(camera: tuple[RtspServerFactory, str]) -> None:
    hub = hub_for(camera[1])
    try:
        jpeg = await hub.snapshot("cam", timeout_s=10)
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8" and len(jpeg) > 2000
        assert hub.status()["cam"]["pulling"] is False  # nobody watches: the pull is closed again
        with pytest.raises(UnknownCameraError, match="'nope' has no live source"):
            await hub.snapshot("nope")
    finally:
        await hub.stop()
