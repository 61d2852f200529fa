"""Shift handover and reports: the pure report figures (percentiles, SOP completion, CSV, the
printable page in Vietnamese, escaped), and on a real app a note that carries the open incidents
with what was done, acknowledged once by the next shift; the report as JSON, CSV and HTML."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.app import create_app
from server.auth.roles import Role
from server.incidents.core import IncidentDesk
from server.incidents.report import build_report, percentile, to_csv, to_html
from tests.server.alerts.configs import at
from tests.server.alerts.receiver import Receiver
from tests.server.console.keys import api_key_headers
from tests.server.helpers import running_app
from tests.server.incidents.appkit import fire, wait_for_alerts
from tests.server.incidents.configs import alert, incident_config
from tests.server.incidents.test_api import SECRET, settings_for


@pytest.mark.parametrize(
    ("values", "p50", "p90"),
    [
        ([], None, None),
        ([60.0], 60.0, 60.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 50.0, 90.0),
    ],
)
def test_percentiles_are_nearest_rank(values: list[float], p50: float | None, p90: float | None) -> None:
    assert (percentile(values, 50), percentile(values, 90)) == (p50, p90)


def test_report_figures_from_incidents() -> None:
    config = incident_config()
    desk = IncidentDesk(config)
    handled = desk.on_alert(alert("salinity-intrusion", "sal-a", at(0)), "firing", at(0))
    crowd = desk.on_alert(alert("market-crowd", "gate", at(0), site="tran-de", severity="warning"), "firing", at(0))
    assert handled is not None and crowd is not None
    one, two = handled.incident.id, crowd.incident.id
    desk.transition(one, "acknowledged", "an", at(4))
    desk.tick_step(one, "notify-station", True, "an", at(5))
    desk.tick_step(one, "close-gate", True, "an", at(6))
    desk.transition(one, "resolved", "an", at(30))
    desk.transition(two, "acknowledged", "binh", at(10))
    incidents = [handled.incident, crowd.incident]
    report = build_report(incidents, config, None, at(-60), at(120), [("sal-a", 3), ("gate", 1)])
    assert report.incidents == 2 and report.by_type == {"salinity": 1, "crowd": 1}
    assert report.by_severity == {"critical": 1, "warning": 1}
    assert (report.ack_p50_s, report.ack_p90_s) == (240.0, 600.0)
    assert (report.resolve_p50_s, report.resolve_p90_s) == (1800.0, 1800.0)
    assert (report.sop_incidents, report.sop_completed, report.sop_steps_done_ratio) == (1, 1, 1.0)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert ["type", "salinity", "1"] in rows and ["times", "ack_p90_s", "600.0"] in rows
    assert ["top_subjects", "sal-a", "3"] in rows
    page = to_html(report)
    assert "Báo cáo sự cố" in page and "Tiếp nhận" in page and "10.0 phút" in page
    assert "Incident report" in to_html(report, "en")


def test_the_printable_page_escapes_what_it_shows() -> None:
    config = incident_config()
    report = build_report([], config, "<script>x</script>", at(0), at(1), [("<b>cam</b>", 1)])
    page = to_html(report)
    assert "<script>x" not in page and "&lt;script&gt;" in page and "&lt;b&gt;cam" in page


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


async def test_a_handover_note_carries_the_open_incidents_and_the_next_shift_acknowledges_it(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)
        path = f"/api/incidents/{incident['id']}"
        await client.post(f"{path}/transition", json={"to": "acknowledged"})
        await client.post(f"{path}/steps/notify-station", json={"done": True})
        await client.post(f"{path}/comments", json={"text": "Đã báo trạm, chờ đóng cống"})
        written = await client.post("/api/handover", json={"text": "Ca đêm: còn 1 sự cố mặn ở Long Phú"})
        assert written.status_code == 201, written.text
        note = written.json()
        item = next(i for i in note["items"] if i["id"] == incident["id"])
        assert item["state"] == "acknowledged" and item["steps_done"] == ["notify-station"]
        assert [d["kind"] for d in item["done"]] == ["linked", "state", "step", "comment"]
        current = (await client.get("/api/handover/current")).json()
        assert current["note"]["id"] == note["id"] and current["note"]["acknowledged_by"] is None
        assert [i["id"] for i in current["open"]] == [incident["id"]]
        assert current["open"][0]["done"] == []  # nothing done since the note

        next_shift = await api_key_headers(app, Role.RESPONDER)
        acked = await client.post(f"/api/handover/{note['id']}/acknowledge", headers=next_shift)
        assert acked.status_code == 200 and acked.json()["acknowledged_by"].startswith("key:test-responder")
        again = await client.post(f"/api/handover/{note['id']}/acknowledge", headers=next_shift)
        assert again.status_code == 409

        report = (await client.get("/api/reports/incidents", params={"site": "long-phu"})).json()
        assert report["incidents"] == 1 and report["by_type"] == {"salinity": 1} and report["ack_p50_s"] >= 0
        assert report["top_subjects"] == [{"subject": "sal-1", "alerts": 1}]
        exported = await client.get("/api/reports/incidents", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv") and "salinity,1" in exported.text
        page = await client.get("/api/reports/incidents", params={"format": "html"})
        assert page.headers["content-type"].startswith("text/html") and "Báo cáo sự cố" in page.text
        other = (await client.get("/api/reports/incidents", params={"site": "tran-de"})).json()
        assert other["incidents"] == 0 and other["top_subjects"] == []
