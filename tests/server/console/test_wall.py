"""The video wall in real Chromium: nine tiles decoding live video at once (RTSP H.264 passed
through and files transcoded once), truthful badges, layouts saved per user, pages, site groups,
the MJPEG fallback with its reason, and viewers closed on the server when the browser stops watching.
Screenshots go to artifacts/console/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.auth.roles import Role
from tests.fixtures.rtsp import RtspServerFactory
from tests.server.console.conftest import ARTIFACTS, PASSWORDS, LiveServer, log_in, serve_console
from tests.server.helpers import make_settings

SITES = [("long-phu", "Huyện Long Phú", 9.61, 106.12), ("vinh-chau", "Thị xã Vĩnh Châu", 9.33, 105.98),
         ("tp-soc-trang", "TP. Sóc Trăng", 9.60, 105.97)]  # fmt: skip


def wall_streams(prefix: str, sources: list[str]) -> str:
    sites = "".join(
        f"  - {{id: {sid}, name: {name}, timezone: Asia/Ho_Chi_Minh, location: {{lat: {lat}, lon: {lon}}}}}\n"
        for sid, name, lat, lon in SITES
    )
    cameras = "".join(
        f"  - {{id: cam-{i}, name: Camera số {i}, site: {SITES[i % 3][0]}, worker: edge-1, source: {source}}}\n"
        for i, source in enumerate(sources)
    )
    return (
        f"version: 1\nmqtt: {{topic_prefix: {prefix}, shared_group: null}}\nsites:\n{sites}"
        f"edge_workers:\n  - id: edge-1\ncameras:\n{cameras}"
    )


@pytest.fixture
def wall_console(
    tmp_path: Path,
    topic_prefix: str,
    rtsp_server: RtspServerFactory,
    moving_clip: Path,
    pg_database: str,
    mqtt_broker: object,
) -> Iterator[LiveServer]:
    """Nine cameras on three sites: six RTSP H.264 mounts (passed through), three files (transcoded)."""
    server = rtsp_server({f"m{i}": moving_clip for i in range(6)}, fps=15)
    sources = [f'{{type: rtsp, url: "{server.url(f"m{i}")}"}}' for i in range(6)]
    sources += [f'{{type: file, path: "{moving_clip}"}}'] * 3
    streams = tmp_path / "streams.yaml"
    streams.write_text(wall_streams(topic_prefix, sources), encoding="utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, streams)  # type: ignore[attr-defined]
    with serve_console(settings) as served:
        yield served


FRAMES = (
    "() => Promise.all([...document.querySelectorAll('#wall .tile')].map((t) => Live.framesDecoded(t.dataset.camera)))"
)


def viewers(served: LiveServer) -> int:
    return sum(camera["viewers"] for camera in served.app.state.ioc.live.status().values())


def wait_viewers(served: LiveServer, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while viewers(served) != count:
        assert time.monotonic() < deadline, f"{viewers(served)} viewers on the server, expected {count}"
        time.sleep(0.1)


def test_nine_tiles_decode_live_video_at_once(wall_console: LiveServer, page: object) -> None:
    log_in(page, wall_console.url, "viewer", PASSWORDS[Role.VIEWER])
    page.wait_for_function("() => document.querySelectorAll('#wall .tile').length === 9")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#wall .tile')].every((t) => t.dataset.state === 'live')", timeout=60000
    )
    first = page.evaluate(FRAMES)  # type: ignore[attr-defined]
    time.sleep(2.0)
    second = page.evaluate(FRAMES)  # type: ignore[attr-defined]
    rising = [b - a for a, b in zip(first, second, strict=True)]
    assert all(step >= 8 for step in rising), f"framesDecoded per tile in 2 s: {rising}"
    badges = page.eval_on_selector_all("#wall .tile .badge", "els => els.map((e) => e.textContent)")  # type: ignore[attr-defined]
    assert badges == ["Đang phát"] * 9
    status = wall_console.app.state.ioc.live.status()
    assert [status[f"cam-{i}"]["mode"] for i in range(9)] == ["passthrough"] * 6 + ["transcode"] * 3
    sites = page.eval_on_selector_all("#wall .tile .site", "els => els.map((e) => e.textContent)")  # type: ignore[attr-defined]
    assert sites[:3] == ["Huyện Long Phú", "Thị xã Vĩnh Châu", "TP. Sóc Trăng"]
    page.screenshot(path=str(ARTIFACTS / "wall-9.png"))  # type: ignore[attr-defined]

    # Layout 4: only four tiles hold a viewer; the server closes the five others.
    page.click("#wall-layouts button[data-layout='4']")  # type: ignore[attr-defined]
    wait_viewers(wall_console, 4, timeout=10)
    assert page.inner_text("#wall-page") == "1 / 3"  # type: ignore[attr-defined]
    page.click("#wall-next")  # type: ignore[attr-defined]
    names = page.eval_on_selector_all("#wall .tile .name", "els => els.map((e) => e.textContent)")  # type: ignore[attr-defined]
    assert names == [f"Camera số {i}" for i in range(4, 8)]

    # Saved per user: a reload keeps layout 4 and page 2.
    page.reload()  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelectorAll('#wall .tile').length === 4")  # type: ignore[attr-defined]
    assert page.inner_text("#wall-page") == "2 / 3"  # type: ignore[attr-defined]

    # A site's group; then 1 large + 5 small.
    page.select_option("#wall-group", "vinh-chau")  # type: ignore[attr-defined]
    names = page.eval_on_selector_all("#wall .tile .name", "els => els.map((e) => e.textContent)")  # type: ignore[attr-defined]
    assert names == ["Camera số 1", "Camera số 4", "Camera số 7"]
    page.select_option("#wall-group", "")  # type: ignore[attr-defined]
    page.click("#wall-layouts button[data-layout='1+5']")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#wall .tile')].every((t) => t.dataset.state === 'live')", timeout=40000
    )
    big, small = page.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('#wall .tile')].slice(0, 2).map((t) => t.getBoundingClientRect().width)"
    )
    assert big > 1.8 * small
    page.screenshot(path=str(ARTIFACTS / "wall-1-5.png"))  # type: ignore[attr-defined]

    # The fallback says why, and shows real pictures.
    page.evaluate("() => Live.fallback('cam-0', document.querySelector('.tile[data-camera=cam-0]'), 'no_frames')")  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('.tile[data-camera=cam-0] img')?.naturalWidth === 640")  # type: ignore[attr-defined]
    assert page.inner_text(".tile[data-camera=cam-0] .mode") == "MJPEG: WebRTC không có hình"  # type: ignore[attr-defined]
    page.wait_for_selector(".tile[data-camera=cam-0][data-state=fallback]")  # type: ignore[attr-defined]
    page.click("#lang-toggle")  # type: ignore[attr-defined]
    assert page.inner_text(".tile[data-camera=cam-0] .mode") == "MJPEG: WebRTC gave no picture"  # type: ignore[attr-defined]
    page.screenshot(path=str(ARTIFACTS / "wall-fallback-en.png"))  # type: ignore[attr-defined]
    assert wall_console.app.state.ioc.live.status()["cam-0"]["mjpeg_clients"] == 1

    # A double-click puts a tile full screen; the tour turns the pages by itself.
    page.dblclick(".tile[data-camera=cam-1]")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.fullscreenElement?.dataset.camera === 'cam-1'"
        " || document.querySelector('.tile[data-camera=cam-1]').classList.contains('zoomed')"
    )
    page.evaluate("() => document.fullscreenElement && document.exitFullscreen()")  # type: ignore[attr-defined]
    page.evaluate("() => { Wall.TOUR_MS = 700; }")  # type: ignore[attr-defined]
    before = page.inner_text("#wall-page")  # type: ignore[attr-defined]
    page.click("#wall-tour")  # type: ignore[attr-defined]
    assert page.get_attribute("#wall-tour", "aria-pressed") == "true"  # type: ignore[attr-defined]
    page.wait_for_function(f"() => document.getElementById('wall-page').textContent !== {before!r}")  # type: ignore[attr-defined]
    page.click("#wall-tour")  # type: ignore[attr-defined]

    # The browser stops watching (the page goes away): every viewer is closed on the server.
    page.goto("about:blank")  # type: ignore[attr-defined]
    wait_viewers(wall_console, 0, timeout=10)


def test_a_dead_camera_never_shows_a_green_badge(
    tmp_path: Path,
    topic_prefix: str,
    pg_database: str,
    mqtt_broker: object,
    page: object,
) -> None:
    streams = tmp_path / "streams.yaml"
    streams.write_text(wall_streams(topic_prefix, ['{type: rtsp, url: "rtsp://127.0.0.1:9/none"}']), encoding="utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, streams)  # type: ignore[attr-defined]
    with serve_console(settings) as served:
        log_in(page, served.url, "viewer", PASSWORDS[Role.VIEWER])
        page.wait_for_selector("#wall .tile")  # type: ignore[attr-defined]
        seen = set()
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            seen.add(page.get_attribute("#wall .tile", "data-state"))  # type: ignore[attr-defined]
            time.sleep(0.5)
        assert "live" not in seen and "fallback" not in seen, seen
        assert seen & {"no_video", "connecting"}
        assert page.inner_text("#wall .tile .badge") in ("Không có hình", "Đang kết nối")  # type: ignore[attr-defined]
        page.screenshot(path=str(ARTIFACTS / "wall-dead-camera.png"))  # type: ignore[attr-defined]
