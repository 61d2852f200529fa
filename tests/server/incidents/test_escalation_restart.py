"""Escalation that does not give up, across a restart (real PostgreSQL, a real local webhook
receiver, two app lifetimes): a level due while the server was down is sent once after the
restart, the next one follows its delay, none is skipped or repeated, and the acknowledgement
stops it. The channel's body template (Jinja2, Vietnamese) shapes what the receiver gets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.config.channels import BodyTemplate
from contract.payloads import AlertPayload
from server.app import create_app
from server.notify.outbox import Delivery
from server.notify.templates import BodyRenderer
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import count_rows, make_settings, running_app, wait_until
from tests.server.incidents.appkit import fire, wait_for_alerts

SECRET = "escalation-restart-secret-0123456789"
TEMPLATE = (
    '{"text": "Sự cố {{ alert.summary }} tại {{ alert.site }}: cấp {{ alert.labels.level }}",'
    ' "event": {{ event|tojson }}, "level": {{ alert.labels.level }}, "round": {{ alert.labels.round }},'
    ' "incident": {{ alert.labels.incident_id|tojson }}}'
)
STREAMS = """
version: 1
mqtt: {{topic_prefix: unused, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
sensors:
  - {{id: sal-1, name: Salinity 1, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
channels:
  - id: sms
    type: webhook
    url: "{url}"
    secret: "{secret}"
    template: {{vi: '{template}', en: '{{{{"text": "Incident {{{{ alert.summary }}}}"}}}}'}}
escalations:
  - id: duty
    sites: [long-phu]
    levels:
      - {{channels: [sms]}}
      - {{after: 3s, channels: [sms]}}
      - {{after: 2s, channels: [sms]}}
    repeat_after: 1h
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    incident: {{type: salinity}}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=204)
    yield found
    found.close()


def levels(receiver: Receiver) -> list[object]:
    return [body["level"] for body in receiver.accepted]


async def test_a_restart_mid_escalation_skips_no_level_and_repeats_none(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(url=receiver.url, secret=SECRET, template=TEMPLATE), encoding="utf-8")
    settings = make_settings(pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        await fire(app, "sal-1")
        incident = await wait_for_alerts(client, 1)
        await wait_until(lambda: _true(levels(receiver) == [0]), timeout=10, what="the first level")
    assert levels(receiver) == [0]
    await asyncio.sleep(3.5)  # level 1 falls due while the server is down

    app = create_app(settings)
    async with running_app(settings, app) as client:
        await wait_until(lambda: _true(levels(receiver) == [0, 1]), timeout=10, what="the overdue level, once")
        await wait_until(lambda: _true(levels(receiver) == [0, 1, 2]), timeout=10, what="the next level")
        ack = await client.post(f"/api/incidents/{incident['id']}/transition", json={"to": "acknowledged"})
        assert ack.status_code == 200
        await asyncio.sleep(1.5)
    assert levels(receiver) == [0, 1, 2]  # nothing repeated, nothing after the acknowledgement
    first = receiver.accepted[0]
    text = str(first["text"])
    assert text.startswith("Sự cố ") and text.endswith(" tại long-phu: cấp 0"), text
    assert first["event"] == "incident_escalation" and first["incident"] == incident["id"]
    assert len(set(receiver.attempts)) == 3 and receiver.bad_signatures == 0
    notices = "SELECT count(*) FROM incident_timeline WHERE kind = 'escalation' AND incident_id = %s"
    assert await count_rows(pg_database, notices, incident["id"]) == 3


def _payload() -> AlertPayload:
    return AlertPayload.model_validate(
        {"id": "a", "fingerprint": "f", "rule_id": "r", "state": "firing", "severity": "critical", "subject": "sal-1",
         "site": "long-phu", "summary": "Mặn 4‰", "started_at": "2026-03-01T00:00:00Z",
         "updated_at": "2026-03-01T00:00:00Z", "labels": {"level": "1"}}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (BodyTemplate(vi="Cảnh báo {{ alert.summary }} ({{ event }})"), "Cảnh báo Mặn 4‰ (firing)"),
        (BodyTemplate(language="en", vi="x", en="Alert {{ alert.subject }} {{ alert.labels.level }}"), "Alert sal-1 1"),
        (BodyTemplate(language="en", vi="chỉ tiếng Việt {{ lang }}"), "chỉ tiếng Việt en"),
        (BodyTemplate(vi="{{ alert.__class__.__mro__[1].__subclasses__() }}"), None),  # the sandbox refuses
        (BodyTemplate(vi="{% if %}"), None),  # a syntax error: the default body
    ],
)  # fmt: skip
def test_body_templates_render_in_the_sandbox_or_fall_back(template: BodyTemplate, expected: str | None) -> None:
    renderer = BodyRenderer("sms", template)
    rendered = renderer.render(Delivery("d", "sms", "firing", _payload()))
    assert (None if rendered is None else rendered.decode()) == expected
    assert renderer.failures == (1 if expected is None else 0)


async def _true(value: bool) -> bool:
    return value
