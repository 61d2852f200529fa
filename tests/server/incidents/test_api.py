"""The incident REST API on a real app and PostgreSQL: alerts at one site open one incident; it
is acknowledged, its SOP ticked, resolved and closed (the SOP gate refusing first); the timeline
holds every change with its actor; everything survives a restart; the dashboard stream carries
the incident changes; an escalation notice reaches a local webhook receiver once per level."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from server.alerts.component import AlertComponent
from server.app import create_app
from server.settings import Settings
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import make_settings, running_app, wait_until
from tests.server.incidents.appkit import fire, incidents_of, wait_for_alerts

SECRET = "incident-api-secret-0123456789"
STREAMS = """
version: 1
mqtt: {{topic_prefix: unused, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}, {{id: tran-de, name: Tran De}}]
sensors:
  - {{id: sal-1, name: Salinity 1, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-2, name: Salinity 2, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-3, name: Salinity 3, kind: salinity, unit: "‰", site: tran-de, range: {{min: 0, max: 45}}}}
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}", max_attempts: 3}}
sops:
  - id: salinity-sop
    title: {{vi: Xâm nhập mặn, en: Salinity intrusion}}
    types: [salinity]
    steps:
      - {{id: notify-station, text: {{vi: Báo trạm thủy nông, en: Notify the irrigation station}}}}
      - {{id: close-gate, text: {{vi: Đóng cống, en: Close the sluice gate}}}}
      - {{id: loudspeakers, text: {{vi: Loa phường, en: Loudspeakers}}, required: false}}
escalations:
  - id: duty
    sites: [long-phu]
    levels: [{{channels: [hook]}}, {{after: {level2}, channels: [hook]}}]
    repeat_after: 1h
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    incident: {{type: salinity, window: 15m}}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


def settings_for(pg_database: str, tmp_path: Path, receiver: Receiver, level2: str = "1h") -> Settings:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(url=receiver.url, secret=SECRET, level2=level2), encoding="utf-8")
    return make_settings(pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False)


async def test_alerts_at_one_site_open_one_incident_handled_to_closed_and_kept_across_a_restart(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        first = await wait_for_alerts(client, 1)
        await fire(app, "sal-2")
        await fire(app, "sal-3")  # another site: its own incident
        incident = await wait_for_alerts(client, 2)
        assert incident["id"] == first["id"] and incident["state"] == "open" and incident["severity"] == "critical"
        assert incident["sop_id"] == "salinity-sop"
        assert len(await incidents_of(client, site="tran-de")) == 1
        path = f"/api/incidents/{incident['id']}"

        ack = await client.post(f"{path}/transition", json={"to": "acknowledged", "note": "đã nhận"})
        assert ack.status_code == 200 and ack.json()["acknowledged_by"].startswith("key:")
        assert (await client.post(f"{path}/steps/notify-station", json={"done": True})).status_code == 200
        assert (await client.post(f"{path}/steps/no-such-step", json={"done": True})).status_code == 404
        assert (await client.post(f"{path}/comments", json={"text": "Đã gọi trạm thủy nông"})).status_code == 200
        assert (await client.post(f"{path}/transition", json={"to": "resolved"})).status_code == 200
        refused = await client.post(f"{path}/transition", json={"to": "closed"})
        assert refused.status_code == 409 and "close-gate" in refused.json()["detail"]
        assert (await client.post(f"{path}/transition", json={"to": "open"})).status_code == 409
        await client.post(f"{path}/steps/close-gate", json={"done": True})
        closed = await client.post(f"{path}/transition", json={"to": "closed"})
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        timeline = (await client.get(f"{path}/timeline")).json()

    kinds = [entry["kind"] for entry in timeline if entry["kind"] != "escalation"]  # the ticker's, at any time
    assert kinds == ["opened", "linked", "linked", "state", "step", "comment", "state", "step", "state"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    acted = [e for e in timeline if e["kind"] in {"state", "step", "comment"}]
    assert [e["kind"] for e in acted] == ["state", "step", "comment", "state", "step", "state"]
    assert all(e["actor"] and e["actor"].startswith("key:") for e in acted)

    app = create_app(settings)
    async with running_app(settings, app) as client:
        again = (await client.get(path)).json()
        assert again["state"] == "closed" and set(again["steps_done"]) == {"notify-station", "close-gate"}
        assert (await client.get(f"{path}/timeline")).json() == timeline
        assert (await client.post(f"{path}/comments", json={"text": "late"})).status_code == 409
        assert (await client.get("/api/incidents/not-a-uuid")).status_code == 404


async def test_an_operator_opens_an_incident_from_an_alert_and_links_and_unlinks_another(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-3")
        tran_de = await wait_for_alerts(client, 1, site="tran-de")
        alert_id = tran_de["alerts"][0]["id"]
        again = await client.post("/api/incidents", json={"alert_id": alert_id})
        assert again.status_code == 409 and "already in incident" in again.json()["detail"]
        unlinked = await client.delete(f"/api/incidents/{tran_de['id']}/alerts/{alert_id}")
        assert unlinked.status_code == 200 and unlinked.json()["alerts"] == []
        opened = await client.post("/api/incidents", json={"alert_id": alert_id, "type": "drill"})
        assert opened.status_code == 201 and opened.json()["type"] == "drill"
        assert opened.json()["opened_by"].startswith("key:")
        path = f"/api/incidents/{opened.json()['id']}/attachments"
        missing = await client.post(path, json={"kind": "snapshot", "ref": "no-such-event"})
        assert missing.status_code == 404 and "no event snapshot" in missing.json()["detail"]
        assert (await client.post(path, json={"kind": "clip", "ref": "clip-42"})).status_code == 200
        sops = (await client.get("/api/sops")).json()
        assert [s["id"] for s in sops] == ["salinity-sop"] and sops[0]["steps"][0]["text"]["vi"] == "Báo trạm thủy nông"


async def test_the_dashboard_stream_carries_incident_changes(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app):
        hub = next(c for c in app.state.ioc.components if isinstance(c, AlertComponent)).hub
        subscription = hub.subscribe()
        await fire(app, "sal-1")
        seen: list[dict[str, Any]] = []

        async def got_incident() -> bool:
            while not subscription.queue.empty():
                message = subscription.queue.get_nowait()
                if message is not None:
                    seen.append(message)
            return any(m["type"] == "incident" for m in seen)

        await wait_until(got_incident, timeout=10, what="an incident message on the dashboard stream")
        message = next(m for m in seen if m["type"] == "incident")
        assert message["incident"]["state"] == "open"
        assert [e["kind"] for e in message["entries"]] == ["opened", "linked"]
        hub.unsubscribe(subscription)


async def test_escalation_notifies_each_level_once_and_stops_at_the_acknowledgement(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver, level2="2s")
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)

        async def notices(count: int) -> bool:
            return len([b for b in receiver.accepted if b["event"] == "incident_escalation"]) >= count

        await wait_until(lambda: notices(2), timeout=10, what="two escalation levels")
        await client.post(f"/api/incidents/{incident['id']}/transition", json={"to": "acknowledged"})
        sent = [b for b in receiver.accepted if b["event"] == "incident_escalation"]
        levels = [(b["alert"]["labels"]["round"], b["alert"]["labels"]["level"]) for b in sent]  # type: ignore[index]
        assert levels == [("0", "0"), ("0", "1")]
        assert all(b["alert"]["labels"]["incident_id"] == incident["id"] for b in sent)  # type: ignore[index]
        assert len(set(receiver.attempts)) == len(receiver.attempts)  # one delivery id per notice
        metrics = (await client.get("/metrics")).text
    assert "ioc_incident_notices_total 2.0" in metrics and "ioc_incidents_active 1.0" in metrics
    assert "ioc_incident_failures_total 0.0" in metrics


async def test_an_alert_resolved_while_incidents_were_down_is_followed_at_the_next_start(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)
    alert_id = incident["alerts"][0]["id"]
    # the engine saved the resolution, the process died before the incident service saw it
    async with await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as conn:
        await conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE id = %s", (alert_id,))

    app = create_app(settings)
    async with running_app(settings, app) as client:
        again = (await client.get(f"/api/incidents/{incident['id']}")).json()
        timeline = (await client.get(f"/api/incidents/{incident['id']}/timeline")).json()
    assert again["alerts"][0]["state"] == "resolved"
    followed = [e for e in timeline if e["kind"] == "alert"]
    assert [e["data"]["state"] for e in followed] == ["resolved"]


async def test_closing_an_incident_whose_alert_still_fires_opens_no_second_one_after_a_restart(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)
        path = f"/api/incidents/{incident['id']}"
        await client.post(f"{path}/override", json={"reason": "diễn tập"})
        await client.post(f"{path}/transition", json={"to": "resolved"})
        assert (await client.post(f"{path}/transition", json={"to": "closed"})).status_code == 200

    app = create_app(settings)
    async with running_app(settings, app) as client:  # the alert, still firing, is in the feed's snapshot
        alert_id = incident["alerts"][0]["id"]
        assert (await client.get(f"/api/alerts/{alert_id}")).json()["state"] == "firing"
        await fire(app, "sal-1", 6.0)
        again = await client.post("/api/incidents", json={"alert_id": alert_id})
        listed = await incidents_of(client)
    assert again.status_code == 409 and [i["id"] for i in listed] == [incident["id"]]
