"""Incidents with two replicas (shared mode, real PostgreSQL): they run where the alert engine
runs, on the leader; a follower reads them (list, item, timeline, report) and serves handover
notes from the database, and refuses changes with 503 instead of acting on a copy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.server.alerts.receiver import Receiver
from tests.server.helpers import make_settings, wait_until
from tests.server.incidents.test_api import SECRET, STREAMS
from tests.server.replicas.replicas import RETRY_S, replica


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


async def test_a_follower_reads_incidents_and_refuses_changes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(url=receiver.url, secret=SECRET, level2="1h"), encoding="utf-8")
    settings = make_settings(
        pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False, replica_mode="shared",
        leader_retry_s=RETRY_S, replica_tail_poll_s=0.2,
    )  # fmt: skip
    async with replica("a", settings) as a, replica("b", settings) as b:
        leader, follower = (a, b) if a.is_leader else (b, a)
        at = datetime.now(UTC) - timedelta(minutes=1)
        await follower.store("sal-1", at, 5.0, datetime.now(UTC))  # stored anywhere, evaluated by the leader

        async def opened() -> bool:
            return len((await follower.client.get("/api/incidents")).json()) == 1

        await wait_until(opened, timeout=15, what="the incident, read on the follower")
        incident = (await follower.client.get("/api/incidents")).json()[0]
        path = f"/api/incidents/{incident['id']}"
        assert (await follower.client.get(path)).json()["state"] == "open"
        assert [e["kind"] for e in (await follower.client.get(f"{path}/timeline")).json()][:2] == ["opened", "linked"]
        assert (await follower.client.get("/api/reports/incidents")).json()["incidents"] == 1
        refused = await follower.client.post(f"{path}/transition", json={"to": "acknowledged"})
        assert refused.status_code == 503 and "leader" in refused.json()["detail"]
        assert (await leader.client.post(f"{path}/transition", json={"to": "acknowledged"})).status_code == 200
        note = await follower.client.post("/api/handover", json={"text": "ca sau theo dõi tiếp"})
        assert note.status_code == 201 and note.json()["items"][0]["state"] == "acknowledged"
