"""A caller scoped to a district gets full pages (real app, PostgreSQL, Mosquitto): the site scope is
part of each list's query, before its LIMIT. Each list below holds one older Long Phú row and newer
(or, for clips, earlier-sorted) Trần Đề rows; a Long Phú operator asking for `limit=2` gets the
Long Phú row, where filtering after the limit gave an empty page. Dead letters and the audit log
are scoped the same way (a row that names no site is nobody's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server.app import create_app
from server.auth.roles import Role
from server.auth.service import AuthService
from server.auth.tokens import new_api_key
from server.evidence.settings import EvidenceSettings
from server.evidence.store import ClipRecord
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until
from tests.server.incidents.appkit import fire

pytestmark = pytest.mark.timeout(90)

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Long Phú}}, {{id: tran-de, name: Trần Đề}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - {{id: cam-lp, name: Cổng chợ, site: long-phu, worker: edge-1, source: {{type: rtsp, url: "rtsp://127.0.0.1:9/a"}}}}
  - {{id: cam-td, name: Cầu tàu, site: tran-de, worker: edge-1, source: {{type: rtsp, url: "rtsp://127.0.0.1:9/b"}}}}
sensors:
  - {{id: sal-lp, name: Mặn LP, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-td-1, name: Mặn TĐ 1, kind: salinity, unit: "‰", site: tran-de, range: {{min: 0, max: 45}}}}
  - {{id: sal-td-2, name: Mặn TĐ 2, kind: salinity, unit: "‰", site: tran-de, range: {{min: 0, max: 45}}}}
rules:
  - {{id: salinity-4, type: threshold, sensor_kind: salinity, raise: {{above: 4.0}}, clear: {{below: 3.5}}}}
"""
START = datetime(2026, 3, 1, 7, 5, 0, tzinfo=UTC)
WINDOW = {"start": (START - timedelta(minutes=5)).isoformat(), "end": (START + timedelta(minutes=5)).isoformat()}


async def _key(app: FastAPI, role: Role, sites: list[str] | None) -> dict[str, str]:
    fresh = new_api_key()
    service: AuthService = app.state.ioc.auth
    await service.store.create_api_key(f"key-{fresh.prefix}", fresh.prefix, fresh.sha256, role, None, sites)
    return {"X-API-Key": fresh.key}


def _event(event_id: str, camera: str, offset_s: int) -> str:
    ts = (START + timedelta(seconds=offset_s)).isoformat()
    payload = {"v": 1, "id": event_id, "camera_id": camera, "worker_id": "edge-1", "kind": "zone_enter", "ts": ts}
    return json.dumps({**payload, "label": "person", "confidence": 0.9, "zone": "entrance"})


def _clip(clip_id: str, camera: str, offset_s: int) -> ClipRecord:
    start = START + timedelta(seconds=offset_s)
    end = start + timedelta(seconds=5)
    return ClipRecord(clip_id, camera, "edge-1", "event", None, start, end, 5.0, 10, "0" * 64, f"{clip_id}.mp4")


async def _ids(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, f"{path}: {response.text}"
    body = response.json()
    return [item["id"] for item in (body["items"] if isinstance(body, dict) else body)]


async def test_scoped_lists_fill_their_pages(
    tmp_path: Path, pg_database: str, mqtt_broker: Any, publisher: Publisher, topic_prefix: str
) -> None:
    streams = tmp_path / "streams.yaml"
    streams.write_text(STREAMS.format(prefix=topic_prefix), encoding="utf-8")
    settings = make_settings(pg_database, mqtt_broker.url, streams)
    app = create_app(settings, evidence=EvidenceSettings(clip_dir=tmp_path / "clips"))
    async with running_app(settings, app) as admin:
        lp, td = await _key(app, Role.OPERATOR, ["long-phu"]), await _key(app, Role.OPERATOR, ["tran-de"])
        everyone = dict(admin.headers)

        # alerts: the Long Phú alert first, then two newer Trần Đề ones
        for sensor in ("sal-lp", "sal-td-1", "sal-td-2"):
            await fire(app, sensor)
        alerts = await _ids(admin, "/api/alerts", everyone, limit=3)
        assert len(alerts) == 3
        assert await _ids(admin, "/api/alerts", lp, limit=2) == [alerts[2]]
        assert await _ids(admin, "/api/alerts", td, limit=2) == alerts[:2]
        assert await _ids(admin, "/api/alerts", lp, limit=2, site="tran-de") == []

        # detection events: the Long Phú event is the oldest
        topic = f"{topic_prefix}/cameras/{{}}/events"
        events = [("evt-lp-0001", "cam-lp", 0), ("evt-td-0001", "cam-td", 10), ("evt-td-0002", "cam-td", 20)]
        publisher.publish_all([(topic.format(camera), _event(i, camera, offset)) for i, camera, offset in events])

        async def stored() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM detection_events") == 3

        await wait_until(stored, 15, "three events stored")
        page = (await admin.get("/api/events", params={**WINDOW, "limit": 2}, headers=lp)).json()
        assert [e["id"] for e in page["items"]] == ["evt-lp-0001"] and page["next_cursor"] is None
        assert await _ids(admin, "/api/events", td, **WINDOW, limit=2) == ["evt-td-0002", "evt-td-0001"]
        counts = (await admin.get("/api/events/counts", params={**WINDOW, "group": "label"}, headers=lp)).json()
        assert {c["camera_id"] for c in counts} == {"cam-lp"}
        review = await _ids(admin, "/api/evidence/review", lp, **WINDOW, limit=2)
        assert review == ["evt-lp-0001"]

        # clips list oldest first: the Long Phú clip is the last
        evidence = app.state.ioc.evidence
        for clip in (
            _clip("clip-td-1", "cam-td", 0),
            _clip("clip-td-2", "cam-td", 10),
            _clip("clip-lp-1", "cam-lp", 20),
        ):
            assert await evidence.store.add_clip(clip)
        assert await _ids(admin, "/api/evidence/clips", lp, **WINDOW, limit=2) == ["clip-lp-1"]
        assert await _ids(admin, "/api/evidence/clips", everyone, **WINDOW, limit=2) == ["clip-td-1", "clip-td-2"]

        # cases newest first: the Long Phú case, then two Trần Đề ones
        for clip_id in ("clip-lp-1", "clip-td-1", "clip-td-2"):
            made = await admin.post("/api/evidence/cases", json={"title": clip_id, "clips": [clip_id]})
            assert made.status_code == 201, made.text
        cases = await _ids(admin, "/api/evidence/cases", everyone)
        assert len(cases) == 3
        assert await _ids(admin, "/api/evidence/cases", lp) == [cases[2]]
        assert await _ids(admin, "/api/evidence/cases", td) == cases[:2]
        assert [c.id for c in await evidence.store.cases(limit=1, cameras=frozenset({"cam-lp"}))] == [cases[2]]

        await _dead_letters(admin, publisher, pg_database, topic_prefix, lp, everyone)
        await _audit(app, admin, everyone)


async def _dead_letters(
    admin: httpx.AsyncClient,
    publisher: Publisher,
    pg_database: str,
    prefix: str,
    lp: dict[str, str],
    everyone: dict[str, str],
) -> None:
    """The Long Phú sensor's letter first, then Trần Đề's (by sensor and by camera topic) and one
    that names no site; a Long Phú operator sees its own, an admin every one."""
    publisher.publish_all([(f"{prefix}/sensors/sal-lp", b"{not json")])

    async def first() -> bool:
        return await count_rows(pg_database, "SELECT count(*) FROM dead_letters") == 1

    await wait_until(first, 15, "the first dead letter")
    publisher.publish_all(
        [
            (f"{prefix}/sensors/sal-td-1", b'{"value": "3.2"}'),
            (f"{prefix}/cameras/cam-td/events", b"{{"),
            (f"{prefix}/sensors/nobody", b'{"value": 1}'),
        ]
    )

    async def all_four() -> bool:
        return await count_rows(pg_database, "SELECT count(*) FROM dead_letters") == 4

    await wait_until(all_four, 15, "four dead letters")
    mine = (await admin.get("/api/dead-letters", params={"limit": 2}, headers=lp)).json()
    assert [(d["topic"], d["reason"]) for d in mine["items"]] == [(f"{prefix}/sensors/sal-lp", "malformed_json")]
    assert mine["next_before"] is None
    topics = [d["topic"] for d in (await admin.get("/api/dead-letters", headers=everyone)).json()["items"]]
    assert len(topics) == 4 and f"{prefix}/sensors/nobody" in topics


async def _audit(app: FastAPI, admin: httpx.AsyncClient, everyone: dict[str, str]) -> None:
    """A recording request at Long Phú, then two at Trần Đề: an admin scoped to Long Phú lists the
    first with `limit=2`; the cases made above are audited with their clips' sites."""
    window = {"start": START.isoformat(), "end": (START + timedelta(minutes=1)).isoformat()}
    for camera in ("cam-lp", "cam-td", "cam-td"):
        asked = await admin.post(f"/api/evidence/cameras/{camera}/recording-requests", json=window)
        assert asked.status_code == 202, asked.text
    lp_admin = await _key(app, Role.ADMIN, ["long-phu"])
    params = {"action": "recording_request", "limit": 2}
    rows = (await admin.get("/api/evidence/audit", params=params, headers=lp_admin)).json()
    assert [(r["object"], r["sites"]) for r in rows] == [("camera:cam-lp", ["long-phu"])]
    every = (await admin.get("/api/evidence/audit", params={**params, "limit": 3}, headers=everyone)).json()
    assert [r["object"] for r in every] == ["camera:cam-td", "camera:cam-td", "camera:cam-lp"]
    cases = (await admin.get("/api/evidence/audit", params={"action": "case_create"}, headers=lp_admin)).json()
    assert [r["sites"] for r in cases] == [["long-phu"]]
    all_cases = (await admin.get("/api/evidence/audit", params={"action": "case_create"}, headers=everyone)).json()
    assert sorted(r["sites"][0] for r in all_cases) == ["long-phu", "tran-de", "tran-de"]
