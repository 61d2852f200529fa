"""Review, cases, exports and the audit trail through the API (real PostgreSQL and Mosquitto, a real
H.264 clip uploaded as the edge does): the export's manifest verifies and tampering is caught, a
viewer may watch but not export, each action is in the append-only audit log with its user."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from server.auth.roles import Role
from server.evidence.export import main as export_cli
from server.evidence.export import verify
from server.evidence.settings import EvidenceSettings
from tests.evidence.conftest import key_for
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until, write_streams

pytestmark = pytest.mark.timeout(120)

JPEG = b"\xff\xd8\xff\xe0" + b"snapshot-bytes" * 10 + b"\xff\xd9"
START = datetime(2026, 3, 1, 7, 5, 0, tzinfo=UTC)  # 14:05 at the site (UTC+7)


@pytest.fixture
def mp4_clip(tmp_path: Path, moving_clip: Path) -> Path:
    out = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-r", "15", "-i", str(moving_clip), "-c", "copy", str(out)], check=True
    )
    return out


def _meta(clip: Path, clip_id: str, **extra: Any) -> dict[str, Any]:
    body = clip.read_bytes()
    return {
        "clip_id": clip_id,
        "camera_id": "gate",
        "worker_id": "edge-1",
        "event_ids": ["evt-case-1"],
        "start": START.isoformat(),
        "end": (START + timedelta(seconds=6)).isoformat(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "duration_s": 6.0,
        **extra,
    }


async def _upload(client: httpx.AsyncClient, clip: Path, meta: dict[str, Any], key: dict[str, str]) -> httpx.Response:
    headers = {**key, "X-IOC-Clip": json.dumps(meta), "Content-Type": "video/mp4"}
    return await client.post("/api/evidence/clips", content=clip.read_bytes(), headers=headers)


def _event(event_id: str) -> str:
    snapshot = {"sha256": hashlib.sha256(JPEG).hexdigest(), "data_b64": base64.b64encode(JPEG).decode()}
    payload = {
        "v": 1,
        "id": event_id,
        "camera_id": "gate",
        "worker_id": "edge-1",
        "kind": "zone_enter",
        "ts": (START + timedelta(seconds=2)).isoformat(),
        "label": "person",
        "confidence": 0.9,
        "zone": "entrance",
        "snapshot": snapshot,
    }
    return json.dumps(payload)


async def test_review_cases_export_and_audit(
    tmp_path: Path, pg_database: str, mqtt_broker: Any, publisher: Publisher, topic_prefix: str, mp4_clip: Path
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = make_settings(pg_database, mqtt_broker.url, streams)
    from server.app import create_app

    app: FastAPI = create_app(settings, evidence=EvidenceSettings(clip_dir=tmp_path / "clips"))
    async with running_app(settings, app) as admin:
        publisher.publish_all([(f"{topic_prefix}/cameras/gate/events", _event("evt-case-1"))])

        async def stored() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM detection_events") == 1

        await wait_until(stored, 15, "the event stored")
        operator, viewer = await key_for(app, Role.OPERATOR), await key_for(app, Role.VIEWER)
        clip_id = uuid.uuid4().hex

        # the edge's upload: damaged bytes are refused, a redelivery is harmless
        damaged = await _upload(admin, mp4_clip, _meta(mp4_clip, clip_id, sha256="0" * 64), operator)
        assert damaged.status_code == 422 and "damaged" in damaged.text
        assert (await _upload(admin, mp4_clip, _meta(mp4_clip, clip_id), viewer)).status_code == 403
        created = await _upload(admin, mp4_clip, _meta(mp4_clip, clip_id), operator)
        assert created.status_code == 201, created.text
        assert (await _upload(admin, mp4_clip, _meta(mp4_clip, clip_id), operator)).status_code == 200
        clips = (await admin.get("/api/evidence/clips", params={"event": "evt-case-1"})).json()
        assert [c["id"] for c in clips] == [clip_id] and clips[0]["sha256"] == hashlib.sha256(
            mp4_clip.read_bytes()
        ).hexdigest()

        metrics = (await admin.get("/metrics")).text
        for result, count in (("stored", 1), ("duplicate", 1), ("damaged", 1)):
            assert f'ioc_evidence_clips_total{{result="{result}"}} {count}.0' in metrics

        # a viewer watches the clip (audited) and the snapshot, but can neither build nor export a case
        played = await admin.get(f"/api/evidence/clips/{clip_id}/video", headers=viewer)
        assert played.status_code == 200 and played.content == mp4_clip.read_bytes()
        assert (await admin.get("/api/events/evt-case-1/snapshot", headers=viewer)).content == JPEG
        case_body = {
            "title": "Va chạm bến phà",
            "reference": "CA-2026/031",
            "note": "theo yêu cầu công an huyện",
            "clips": [clip_id],
            "snapshots": ["evt-case-1"],
        }
        assert (await admin.post("/api/evidence/cases", json=case_body, headers=viewer)).status_code == 403
        case = (await admin.post("/api/evidence/cases", json=case_body, headers=operator)).json()
        assert case["clips"] == [clip_id] and case["snapshots"] == ["evt-case-1"]
        refused = await admin.get(f"/api/evidence/cases/{case['id']}/export", headers=viewer)
        assert refused.status_code == 403

        # an operator of another district: this evidence does not exist for them (404, never 403)
        elsewhere = await key_for(app, Role.OPERATOR, sites=["tran-de"])
        assert (await admin.get("/api/evidence/clips", params={"event": "evt-case-1"}, headers=elsewhere)).json() == []
        for path in (
            f"/api/evidence/clips/{clip_id}",
            f"/api/evidence/clips/{clip_id}/video",
            f"/api/evidence/cases/{case['id']}",
            f"/api/evidence/cases/{case['id']}/export",
            "/api/evidence/snapshots/evt-case-1",
            "/api/evidence/cameras/gate/timeline",
        ):
            assert (await admin.get(path, headers=elsewhere)).status_code == 404, path
        assert (await admin.get("/api/evidence/cases", headers=elsewhere)).json() == []
        theirs = {"title": "x", "clips": [clip_id]}
        assert (await admin.post("/api/evidence/cases", json=theirs, headers=elsewhere)).status_code == 404
        assert len((await admin.get("/api/evidence/cases", headers=operator)).json()) == 1  # nothing was made

        # the export verifies; tampering with a file is caught
        exported = await admin.get(f"/api/evidence/cases/{case['id']}/export", headers=operator)
        assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
        archive = tmp_path / "export.zip"
        archive.write_bytes(exported.content)
        result = verify(archive)
        assert result.ok and result.files == 2, result.problems
        assert result.manifest_sha256 == exported.headers["x-manifest-sha256"]
        with zipfile.ZipFile(archive) as z:
            manifest = json.loads(z.read("manifest.json"))
        clip_entry = next(f for f in manifest["files"] if f["kind"] == "clip")
        assert clip_entry["start_local"] == "2026-03-01T14:05:00+07:00" and clip_entry["site_name"] == "Long Phu"
        assert clip_entry["sha256"] == clips[0]["sha256"] and manifest["exported_by"].startswith("key:key-")
        assert manifest["case"]["reference"] == "CA-2026/031"
        assert export_cli(["verify", str(archive)]) == 0
        tampered = tmp_path / "tampered.zip"
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tampered, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                target.writestr(
                    info, data.replace(b"snapshot-bytes", b"snapshot-BYTES") if info.filename.endswith(".jpg") else data
                )
        bad = verify(tampered)
        assert not bad.ok and "does not match" in bad.problems[0]
        assert export_cli(["verify", str(tampered)]) == 1

        # review state is per operator
        assert (
            await admin.post("/api/evidence/reviews", json={"event_ids": ["evt-case-1"]}, headers=viewer)
        ).status_code == 403
        assert (
            await admin.post("/api/evidence/reviews", json={"event_ids": ["evt-case-1"]}, headers=operator)
        ).status_code == 204
        window = {
            "start": (START - timedelta(minutes=1)).isoformat(),
            "end": (START + timedelta(minutes=1)).isoformat(),
        }
        mine = (
            await admin.get("/api/evidence/review", params={**window, "unreviewed": "true"}, headers=operator)
        ).json()
        others = (await admin.get("/api/evidence/review", params={**window, "unreviewed": "true"})).json()
        assert mine == [] and [i["id"] for i in others] == ["evt-case-1"] and others[0]["clip_ids"] == [clip_id]

        # the audit log: each action with its user; admins only
        assert (await admin.get("/api/evidence/audit", headers=operator)).status_code == 403
        audit = (await admin.get("/api/evidence/audit")).json()
        actions = {(a["action"], a["role"]) for a in audit}
        assert {
            ("clip_playback", "viewer"),
            ("snapshot_download", "viewer"),
            ("case_create", "operator"),
            ("export", "operator"),
        } <= actions
        export_row = next(a for a in audit if a["action"] == "export")
        assert (
            export_row["detail"]["manifest_sha256"] == result.manifest_sha256
            and export_row["object"] == f"case:{case['id']}"
        )
        assert all(a["actor"] and a["time"] for a in audit)

        # retention: a clip held by a case stays, another goes with its file; the audit log's own
        # retention may delete (nothing is that old here)
        evidence = app.state.ioc.evidence
        assert await evidence.store.expired_clips(timedelta(0)) == []
        loose = uuid.uuid4().hex
        assert (await _upload(admin, mp4_clip, _meta(mp4_clip, loose), operator)).status_code == 201
        loose_file = tmp_path / "clips" / "gate" / START.date().isoformat() / f"{loose}.mp4"
        assert loose_file.exists()
        services = app.state.ioc
        services.config = services.config.model_copy(
            update={"retention": services.config.retention.model_copy(update={"clips": timedelta(0)})}
        )
        assert await evidence.apply_retention() == (1, 0)
        assert not loose_file.exists() and (await admin.get(f"/api/evidence/clips/{loose}")).status_code == 404
        assert (await admin.get(f"/api/evidence/clips/{clip_id}")).status_code == 200
        kept = await count_rows(pg_database, "SELECT count(*) FROM audit_log")
        assert await evidence.store.expire_audit(timedelta(days=1)) == 0
        assert await count_rows(pg_database, "SELECT count(*) FROM audit_log") == kept

    # append-only: no update, no delete, except retention's own
    with psycopg.connect(pg_database) as conn:
        for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement.encode())
            conn.rollback()
    assert await count_rows(pg_database, "SELECT count(*) FROM audit_log") >= 4
