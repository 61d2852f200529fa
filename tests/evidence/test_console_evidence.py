"""The evidence console in real headless Chromium (Debian's, driven by Playwright) against the real
server (uvicorn, PostgreSQL, Mosquitto, a GStreamer RTSP camera for live view): the clip plays (its
time advances and frames decode), the timeline shows the recorded range and the clip, an export
downloads and its manifest verifies, the audit log lists each action (live view included) with its
user, a viewer is refused an export."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.payloads import DetectionEventPayload, RecordingRangesPayload
from server.auth.roles import Role
from server.evidence.export import verify
from tests.evidence.conftest import ServedApp, evidence_app, key_for, serve_app, wait_until
from tests.fixtures.browser import chromium_page
from tests.fixtures.services import free_port
from tests.server.console.conftest import ADMIN_PASSWORD, PASSWORDS, add_users, write_console_streams
from tests.server.helpers import Publisher

playwright_sync = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def served(
    tmp_path: Path, pg_database: str, mqtt_broker: Any, topic_prefix: str, rtsp_server: Any, moving_clip: Path
) -> Iterator[ServedApp]:
    camera = rtsp_server({"cam": moving_clip}, fps=15)
    streams = write_console_streams(tmp_path, topic_prefix, camera.url("cam"))
    app = evidence_app(pg_database, mqtt_broker.url, streams, tmp_path / "clips")
    running = serve_app(app, free_port())
    running.call(add_users(app))
    yield running
    running.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """In the province's time zone, and downloads accepted (the case export)."""
    with chromium_page(
        tmp_path / "chromium-profile",
        viewport={"width": 1400, "height": 900},
        timezone_id="Asia/Ho_Chi_Minh",
        accept_downloads=True,
    ) as opened:
        yield opened


def _upload_clip(served: ServedApp, moving_clip: Path, tmp_path: Path, start: datetime, event_ids: list[str]) -> str:
    mp4 = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-r", "15", "-i", str(moving_clip), "-c", "copy", str(mp4)], check=True
    )
    body = mp4.read_bytes()
    clip_id = uuid.uuid4().hex
    meta = {
        "clip_id": clip_id,
        "camera_id": "cam-1",
        "worker_id": "edge-1",
        "event_ids": event_ids,
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=6)).isoformat(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "duration_s": 6.0,
    }
    key = served.call(key_for(served.app, Role.OPERATOR))
    headers = {**key, "X-IOC-Clip": json.dumps(meta), "Content-Type": "video/mp4"}
    answer = httpx.post(f"{served.url}/api/evidence/clips", content=body, headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    return clip_id


def _log_in(page: Any, url: str, username: str, password: str, evidence: bool = True) -> None:
    page.goto(url)
    page.fill("#login-user", username)
    page.fill("#login-pass", password)
    page.click("#login-submit")
    page.wait_for_selector("#whoami:not(:empty)")
    if evidence:
        page.click('#tabs button[data-tab="evidence"]')


def test_evidence_console_plays_exports_verifies_and_audits(
    served: ServedApp, page: Any, mqtt_broker: Any, moving_clip: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    event_id = f"evt-{uuid.uuid4().hex[:12]}"
    event = DetectionEventPayload(
        id=event_id,
        camera_id="cam-1",
        worker_id="edge-1",
        kind="object_seen",
        ts=now - timedelta(minutes=5, seconds=-2),
    )
    prefix = served.app.state.ioc.config.mqtt.topic_prefix
    ranges = RecordingRangesPayload(
        camera_id="cam-1",
        worker_id="edge-1",
        ts=now,
        ranges=[(now - timedelta(minutes=10), now - timedelta(minutes=1))],
    )
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    try:
        recordings, events = f"{prefix}/cameras/cam-1/recordings", f"{prefix}/cameras/cam-1/events"
        publisher.publish_all([(recordings, ranges.to_json()), (events, event.to_json())])
    finally:
        publisher.close()
    wait_until(lambda: "cam-1" in served.app.state.ioc.evidence.recorded, 10, "the recorded ranges to arrive")
    wait_until(lambda: served.call(served.app.state.ioc.store.event(event_id)), 10, "the event to be stored")
    clip_id = _upload_clip(served, moving_clip, tmp_path, now - timedelta(minutes=5), [event_id])

    # an operator: the camera wall plays live (audited); the evidence timeline shows the recorded
    # range and the clip; the clip plays
    _log_in(page, served.url, "operator", PASSWORDS[Role.OPERATOR], evidence=False)
    wait_until(lambda: int(page.evaluate("() => Live.framesDecoded('cam-1')")) > 0, 30, "live video frames")
    page.click('#tabs button[data-tab="evidence"]')
    page.wait_for_selector(f'.ev-clip[data-clip="{clip_id}"]')
    recorded = page.get_attribute(".ev-rec", "data-start")
    assert recorded is not None and datetime.fromisoformat(recorded) == now - timedelta(minutes=10)
    page.click(f'tr[data-clip="{clip_id}"] .ev-play')
    page.wait_for_function(
        "() => { const v = document.getElementById('ev-video');"
        " return v.currentTime > 1.0 && v.getVideoPlaybackQuality().totalVideoFrames > 10; }",
        timeout=20000,
    )

    # review: once reviewed, "only clips to review" leaves the clip out
    page.click(f'tr[data-clip="{clip_id}"] .ev-review')
    page.wait_for_selector(f'tr[data-clip="{clip_id}"] .ev-review[disabled]')
    page.check("#ev-unreviewed")
    page.wait_for_selector(f'#ev-clips tr[data-clip="{clip_id}"]', state="detached")
    page.uncheck("#ev-unreviewed")
    page.wait_for_selector(f'#ev-clips tr[data-clip="{clip_id}"]')

    # a case from the clip, exported: the download's manifest verifies
    page.check(f'tr[data-clip="{clip_id}"] .ev-pick')
    page.fill("#ev-case-title", "Va chạm tại bến phà")
    page.fill("#ev-case-ref", "CA-2026/044")
    page.click("#ev-case-create")
    page.wait_for_selector("#ev-cases li[data-case] .ev-export")
    with page.expect_download() as download_info:
        page.click("#ev-cases li[data-case] .ev-export")
    archive = tmp_path / "export.zip"
    download_info.value.save_as(str(archive))
    result = verify(archive)
    assert result.ok and result.files == 1, result.problems
    page.click("#logout")

    # a viewer watches but is refused an export
    _log_in(page, served.url, "viewer", PASSWORDS[Role.VIEWER])
    page.wait_for_selector(f'.ev-clip[data-clip="{clip_id}"]')
    assert page.locator("#ev-cases li").count() == 0
    case_id = served.call(served.app.state.ioc.evidence.store.cases())[0].id
    code = page.evaluate(f"() => fetch('/api/evidence/cases/{case_id}/export').then((r) => r.status)")
    assert code == 403
    page.click("#logout")

    # an admin reads the audit log: each action with its user
    _log_in(page, served.url, "admin", ADMIN_PASSWORD)
    page.wait_for_selector('#ev-audit tr[data-action="export"]')
    rows = page.eval_on_selector_all(
        "#ev-audit tbody tr", "rows => rows.map((r) => [...r.cells].map((c) => c.textContent))"
    )
    by_action = {(row[2], row[1]) for row in rows}
    assert ("clip_playback", "operator") in by_action and ("export", "operator") in by_action
    assert ("case_create", "operator") in by_action and ("live_view", "operator") in by_action
    assert all(row[4] == "127.0.0.1" for row in rows)
