"""Deliveries and evaluation survive a restart (real PostgreSQL, a real local HTTP receiver, two
app lifetimes): a webhook answering 503 while the server stops during the retry backoff gets the
alert after the restart, or, after `max_attempts`, it is kept in `alert_dead_deliveries`; data
stored but never evaluated before a stop is evaluated at the next start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from server.alerts.component import AlertComponent
from server.alerts.repository import AlertQuery
from server.app import create_app
from server.settings import Settings
from server.store.base import WriteBatch
from server.store.records import StoredReading
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import count_rows, make_settings, running_app, wait_until

SECRET = "outbox-restart-secret-0123456789"
STREAMS = (
    STREAMS_HEAD
    + """
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}", max_attempts: {attempts}}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    channels: [dashboard, hook]
"""
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(SECRET, status=503)
    yield found
    found.close()


def settings_for(pg_database: str, tmp_path: Path, receiver: Receiver, attempts: int) -> Settings:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix="unused", url=receiver.url, secret=SECRET, attempts=attempts))
    return make_settings(pg_database, "mqtt://127.0.0.1:1", config, ingest_enabled=False)


def component_of(app: FastAPI) -> AlertComponent:
    return next(c for c in app.state.ioc.components if isinstance(c, AlertComponent))


async def fire(app: FastAPI, sensor: str = "sal-1") -> None:
    now = datetime.now(UTC)
    await component_of(app).engine.on_readings([StoredReading(sensor, now, 5.0, now)])


async def first_attempt_recorded(pg_database: str, receiver: Receiver) -> None:
    """Wait until the receiver refused the first POST and the outbox recorded the retry."""
    query = "SELECT count(*) FROM alert_outbox WHERE state = 'pending' AND attempts >= 1"
    await wait_until(lambda: _rows(pg_database, query, 1), timeout=15, what="a recorded first attempt")
    assert len(receiver.attempts) >= 1


async def test_a_webhook_refused_with_503_before_a_stop_is_delivered_after_the_restart(
    pg_database: str, tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = settings_for(pg_database, tmp_path, receiver, attempts=5)
    app = create_app(settings)
    async with running_app(settings, app):
        await fire(app)
        await first_attempt_recorded(pg_database, receiver)
    # stopped during the backoff (what SIGTERM does: the lifespan ends); the receiver recovers
    assert await count_rows(pg_database, "SELECT count(*) FROM alert_outbox WHERE state = 'pending'") == 1
    refused = len(receiver.attempts)
    receiver.status = 204

    app = create_app(settings)
    async with running_app(settings, app) as client:
        await wait_until(lambda: _true(len(receiver.accepted) == 1), timeout=15, what="the delivery after restart")
        query = "SELECT count(*) FROM alert_outbox WHERE state = 'delivered'"
        await wait_until(lambda: _rows(pg_database, query, 1), timeout=10, what="the row marked delivered")
        metrics = (await client.get("/metrics")).text
    assert receiver.accepted[0]["event"] == "firing" and receiver.bad_signatures == 0
    assert len(set(receiver.attempts)) == 1 and len(receiver.attempts) == refused + 1  # one delivery id throughout
    assert any("resuming 1 pending alert deliveries (hook)" in r.getMessage() for r in caplog.records)
    assert 'ioc_alert_deliveries_total{channel="hook",outcome="delivered"} 1.0' in metrics
    assert "ioc_alert_failures_total 0.0" in metrics and "ioc_alert_ws_cut_off_total 0.0" in metrics
    assert "ioc_alert_outbox_pending 0.0" in metrics


async def test_a_webhook_out_of_attempts_after_the_restart_is_kept_as_a_dead_delivery(
    pg_database: str, tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(pg_database, tmp_path, receiver, attempts=2)
    app = create_app(settings)
    async with running_app(settings, app):
        await fire(app)
        await first_attempt_recorded(pg_database, receiver)
        alert_id = (await component_of(app).engine.alerts(AlertQuery(state="firing")))[0].id
    assert len(receiver.attempts) == 1

    app = create_app(settings)
    async with running_app(settings, app):
        query = "SELECT count(*) FROM alert_dead_deliveries WHERE attempts = 2 AND error = 'HTTP 503'"
        await wait_until(lambda: _rows(pg_database, query, 1), timeout=15, what="the dead delivery")
    assert len(receiver.attempts) == 2 and receiver.accepted == []
    assert await count_rows(pg_database, "SELECT count(*) FROM alert_outbox") == 0
    kept = "SELECT count(*) FROM alert_dead_deliveries WHERE alert_id = %s AND payload->>'state' = 'firing'"
    assert await count_rows(pg_database, kept, alert_id) == 1
    assert any("dead after 2 attempts" in r.getMessage() for r in caplog.records)


async def test_readings_stored_but_never_evaluated_are_evaluated_at_the_next_start(
    pg_database: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.status = 204
    settings = settings_for(pg_database, tmp_path, receiver, attempts=5)
    app = create_app(settings)
    async with running_app(settings, app) as client:
        # the ingest committed these, then the process died before its observers ran
        now = datetime.now(UTC)
        await app.state.ioc.store.write(WriteBatch(readings=[StoredReading("sal-2", now, 6.0, now)]))
        assert (await client.get("/api/alerts")).json() == []

    app = create_app(settings)
    async with running_app(settings, app) as client:
        alerts = (await client.get("/api/alerts", params={"state": "firing"})).json()
        await wait_until(lambda: _true(len(receiver.accepted) == 1), timeout=15, what="the webhook of the alert")
    assert [a["subject"] for a in alerts] == ["sal-2"]

    app = create_app(settings)  # evaluated once: a third start fires nothing again
    async with running_app(settings, app) as client:
        history = (await client.get(f"/api/alerts/{alerts[0]['id']}/history")).json()
    assert [h["action"] for h in history] == ["firing"] and len(receiver.accepted) == 1


async def _rows(database_url: str, query: str, expected: int) -> bool:
    return await count_rows(database_url, query) == expected


async def _true(value: bool) -> bool:
    return value
