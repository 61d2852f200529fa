"""Cameras whose video cannot be passed through (files, MPEG-4, H.264 in MP4) are transcoded once per
camera by its shared encoder, watched by real aiortc peers; the MJPEG fallback really streams."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from server.live.decode import FrameReader, ReaderOptions, open_container
from server.live.hub import LiveHub
from server.live.pull import SourceSpec
from server.live.settings import LiveSettings
from server.metrics import Metrics
from tests.fixtures.rtsp import find_test_video
from tests.server.console.test_live import Watcher


@pytest.fixture(scope="session")
def mpeg4_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenCV's vtest.avi (MPEG-4 part 2, 768x576, 10 fps) when installed; else a made MPEG-4 AVI."""
    found = find_test_video()
    if found is not None:
        return found
    return _ffmpeg_clip(tmp_path_factory.mktemp("clips") / "made.avi", ["-c:v", "mpeg4"])


@pytest.fixture(scope="session")
def mp4_h264_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s H.264 MP4 (AVCC packets, not Annex-B: the kind a browser never gets from pass-through)."""
    return _ffmpeg_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", ["-c:v", "libx264", "-preset", "ultrafast"])


@pytest.fixture(scope="session")
def h265_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 s H.265 MP4: WebRTC (aiortc) cannot carry H.265, so it is transcoded like a file."""
    codec = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    return _ffmpeg_clip(tmp_path_factory.mktemp("clips") / "clip265.mp4", codec)


def _ffmpeg_clip(out: Path, codec: list[str]) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    src = ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=15", "-t", "3"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *src, *codec, str(out)], check=True, timeout=60)
    return out


def file_hub(*paths: Path) -> LiveHub:
    settings = LiveSettings(host_addresses=["127.0.0.1"], read_timeout_s=3.0, reopen_max_backoff_s=1.0)
    sources = {f"cam-{i}": SourceSpec(f"cam-{i}", str(path), rtsp=False) for i, path in enumerate(paths)}
    return LiveHub(settings, sources)


async def test_a_file_camera_is_transcoded_once_for_all_its_viewers(mpeg4_clip: Path) -> None:
    hub = file_hub(mpeg4_clip)
    first, second = Watcher(), Watcher()
    try:
        await first.watch(hub, "cam-0")
        await first.wait_frames(5, timeout=15)
        await second.watch(hub, "cam-0")
        await second.wait_frames(5, timeout=10)
        status = hub.status()["cam-0"]
        assert status["mode"] == "transcode" and status["codec"] in ("msmpeg4v3", "mpeg4", "msmpeg4")
        assert status["viewers"] == 2 and status["opens"] == 1

        encoded, seen = status["encoded"], (first.frames, second.frames)
        await asyncio.sleep(2.0)
        encoded = hub.status()["cam-0"]["encoded"] - encoded
        got = first.frames - seen[0], second.frames - seen[1]
        assert min(got) >= 10, f"viewers got {got} frames in 2 s"
        # one encoder for both viewers: as many pictures encoded as one viewer receives, not two
        assert encoded <= max(got) * 1.3 + 3, f"{encoded} pictures encoded for {got} received"
    finally:
        await first.close()
        await second.close()
        await hub.stop()
    assert hub.status()["cam-0"]["pulling"] is False


async def test_an_h265_camera_is_transcoded_and_plays(h265_clip: Path) -> None:
    hub = file_hub(h265_clip)
    watcher = Watcher()
    try:
        await watcher.watch(hub, "cam-0")
        await watcher.wait_frames(15, timeout=15)
        assert watcher.size == (640, 360)
        status = hub.status()["cam-0"]
        assert status["mode"] == "transcode" and status["codec"] == "hevc"
    finally:
        await watcher.close()
        await hub.stop()


async def test_an_h264_mp4_file_plays_and_loops(mp4_h264_clip: Path) -> None:
    """3 s clip: after 5 s of watching the video still runs (the file looped, time kept going)."""
    hub = file_hub(mp4_h264_clip)
    watcher = Watcher()
    try:
        await watcher.watch(hub, "cam-0")
        await watcher.wait_frames(10, timeout=15)
        assert watcher.size == (640, 360)
        await asyncio.sleep(4.0)
        await watcher.wait_frames(20, timeout=5)
        assert hub.status()["cam-0"]["opens"] == 1  # looping is no reopen
    finally:
        await watcher.close()
        await hub.stop()


async def test_the_mjpeg_fallback_streams_pictures_from_one_shared_decoder(mpeg4_clip: Path) -> None:
    hub = file_hub(mpeg4_clip)
    try:
        feed = hub.mjpeg("cam-0")
        pictures: list[bytes] = []
        async for jpeg in feed.pictures():
            pictures.append(jpeg)
            if len(pictures) == 3:
                # a second client shares the same feed
                other = await anext(aiter(hub.mjpeg("cam-0").pictures()))
                assert other[:2] == b"\xff\xd8"
            if len(pictures) >= 8:
                break
        assert all(p[:2] == b"\xff\xd8" and len(p) > 5000 for p in pictures)
        assert len(set(pictures)) >= 6, "the pictures do not change: not a live stream"
        await asyncio.sleep(0.2)
        assert feed.clients == 0
        assert hub.status()["cam-0"]["pulling"] is False  # the last client gone, the camera closed
    finally:
        await hub.stop()


async def test_a_viewer_that_never_connects_is_closed_on_the_server(mp4_h264_clip: Path) -> None:
    """The browser went away between its offer and the answer: nobody will close the viewer, so the hub does."""
    settings = LiveSettings(host_addresses=["127.0.0.1"], connect_timeout_s=1.0)
    hub = LiveHub(settings, {"cam-0": SourceSpec("cam-0", str(mp4_h264_clip), rtsp=False)})
    browser = Watcher()
    try:
        await browser.pc.setLocalDescription(await browser.pc.createOffer())
        viewer_id, _ = await hub.answer("cam-0", browser.pc.localDescription.sdp, "test")
        await browser.pc.close()  # never applies the answer
        assert hub.viewer(viewer_id) is not None
        await asyncio.sleep(1.5)
        assert hub.viewer(viewer_id) is None
        assert hub.status()["cam-0"]["viewers"] == 0
    finally:
        await hub.stop()


async def test_a_decoder_whose_encoder_falls_behind_keeps_the_newest_and_counts_the_drops(mp4_h264_clip: Path) -> None:
    metrics = Metrics()
    hub = LiveHub(
        LiveSettings(host_addresses=["127.0.0.1"]),
        {"cam-0": SourceSpec("cam-0", str(mp4_h264_clip), rtsp=False)},
        metrics=metrics,
    )
    options = ReaderOptions(str(mp4_h264_clip), paced=True, max_fps=30, queue_size=2)
    drops = metrics.live_decode_dropped.labels("cam-0").inc
    reader = FrameReader(options, open_container(options), asyncio.get_running_loop(), on_drop=drops)
    try:
        await asyncio.sleep(1.5)  # about 20 pictures decoded, nobody reads them
        assert reader.dropped >= 10
        assert metrics.registry.get_sample_value("ioc_live_decode_dropped_total", {"camera": "cam-0"}) == reader.dropped
        first = await reader.recv()
        assert first.time is not None and first.time >= 0.8  # one of the newest (after ~1.5 s), not the first
    finally:
        await asyncio.get_running_loop().run_in_executor(None, reader.close)
        await hub.stop()
