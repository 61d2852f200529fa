"""Every field the edge publishes with a detection event is stored and shown: a line crossing's
running counts in both directions (count_in / count_out) and an occupancy event's threshold reach
the database, the events API and the overlay stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from contract.payloads import DetectionEventPayload
from server.app import create_app
from server.store.records import EVENT_FIELDS
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until


def test_every_payload_field_has_a_stored_column() -> None:
    wire_only = {"v", "ts", "snapshot"}  # version, frame time (stored as `time`), inline JPEG (stored apart)
    assert set(DetectionEventPayload.model_fields) - wire_only <= set(EVENT_FIELDS)


async def test_line_counts_and_threshold_are_stored_and_served(
    pg_database: str, mqtt_broker: MosquittoBroker, publisher: Publisher, streams_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path)
    now = datetime.now(UTC).isoformat()
    base = {"v": 1, "camera_id": "gate", "ts": now}
    crossing = {**base, "id": "evt-line-0001", "kind": "line_crossed", "line": "door", "direction": "in",
                "count": 7, "count_in": 7, "count_out": 3, "track_id": 12}  # fmt: skip
    crowded = {**base, "id": "evt-zone-0001", "kind": "zone_occupancy", "zone": "entrance", "count": 9, "threshold": 8}
    app = create_app(settings)
    async with running_app(settings, app) as client:
        watcher = app.state.ioc.overlay.subscribe("gate")
        topic = f"{topic_prefix}/cameras/gate/events"
        publisher.publish_all([(topic, json.dumps(crossing)), (topic, json.dumps(crowded))])

        async def stored() -> bool:
            return await count_rows(pg_database, "SELECT count(*) FROM detection_events") == 2

        await wait_until(stored, 10, "both events")
        line = (await client.get("/api/events/evt-line-0001")).json()
        assert (line["count_in"], line["count_out"], line["count"], line["direction"]) == (7, 3, 7, "in")
        zone = (await client.get("/api/events/evt-zone-0001")).json()
        assert (zone["threshold"], zone["count"], zone["count_in"]) == (8, 9, None)
        assert line["snapshot_url"] is None and "snapshot_sha256" not in line
        listed = (await client.get("/api/events", params={"camera_id": "gate"})).json()["items"]
        assert {item["id"]: item["count_out"] for item in listed} == {"evt-line-0001": 3, "evt-zone-0001": None}

        assert (await watcher.next())["type"] == "snapshot"  # type: ignore[index]
        drawn = (await watcher.next())["detection"]  # type: ignore[index]
        assert (drawn["id"], drawn["count_in"], drawn["count_out"]) == ("evt-line-0001", 7, 3)
        assert isinstance(drawn["lag_ms"], int) and drawn["ts"].startswith(now[:19])
