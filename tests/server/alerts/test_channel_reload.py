"""Channels follow streams.yaml while the server runs (real Mosquitto, PostgreSQL and HTTP
receivers): an added webhook gets the next alert; a changed URL sends new alerts to the new
receiver while a delivery already retrying at the old one still completes there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from server.alerts.component import AlertComponent
from server.app import create_app
from tests.fixtures.services import MosquittoBroker
from tests.server.alerts.configs import STREAMS_HEAD
from tests.server.alerts.receiver import Receiver
from tests.server.helpers import Publisher, make_settings, running_app, wait_until

SECRET = "reload-secret-0123456789"

HOOK = """
channels:
  - {{id: hook, type: webhook, url: "http://127.0.0.1:{port}/hook", secret: "{secret}", max_attempts: 6}}
"""
RULE = """
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    channels: {channels}
"""


def streams(prefix: str, hook_port: int | None) -> str:
    text = STREAMS_HEAD.format(prefix=prefix)
    if hook_port is not None:
        text += HOOK.format(port=hook_port, secret=SECRET)
    channels = "[dashboard, hook]" if hook_port is not None else "[dashboard]"
    return text + RULE.format(channels=channels)


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    first, second = Receiver(SECRET, failures=3), Receiver(SECRET)
    yield first, second
    first.close()
    second.close()


def component_of(app: FastAPI) -> AlertComponent:
    return next(c for c in app.state.ioc.components if isinstance(c, AlertComponent))


def reading(prefix: str, sensor: str, value: float) -> tuple[str, str]:
    at = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    return f"{prefix}/sensors/{sensor}", json.dumps({"value": value, "ts": at})


async def test_webhook_channel_added_then_changed_while_running(
    pg_database: str,
    mqtt_broker: MosquittoBroker,
    topic_prefix: str,
    tmp_path: Path,
    receivers: tuple[Receiver, Receiver],
) -> None:
    first, second = receivers
    config = tmp_path / "streams.yaml"
    config.write_text(streams(topic_prefix, hook_port=None))
    settings = make_settings(pg_database, mqtt_broker.url, config, config_reload_interval_s=0.1)
    app = create_app(settings)
    publisher = Publisher(mqtt_broker.host, mqtt_broker.port)
    async with running_app(settings, app):
        dispatcher = component_of(app).engine.dispatcher
        assert "hook" not in dispatcher.notifiers

        config.write_text(streams(topic_prefix, hook_port=first.port))  # add the webhook channel
        await wait_until(lambda: _true("hook" in dispatcher.notifiers), timeout=10, what="the hook channel to load")
        old_hook = dispatcher.notifiers["hook"]
        publisher.publish_all([reading(topic_prefix, "sal-1", 5.0)])
        await wait_until(lambda: _true(len(first.attempts) >= 1), timeout=10, what="a first attempt at the new hook")

        config.write_text(streams(topic_prefix, hook_port=second.port))  # its URL changes mid-retry
        await wait_until(
            lambda: _true(dispatcher.notifiers["hook"] is not old_hook), timeout=10, what="the hook to be rebuilt"
        )
        assert first.subjects == [] and dispatcher.retiring == 1  # sal-1's delivery is still retrying
        publisher.publish_all([reading(topic_prefix, "sal-2", 5.0)])
        await wait_until(lambda: _true(second.subjects == ["sal-2"]), timeout=10, what="sal-2 at the new URL")
        await wait_until(lambda: _true(first.subjects == ["sal-1"]), timeout=30, what="sal-1's retry at the old URL")
        await wait_until(lambda: _true(dispatcher.retiring == 0), timeout=10, what="the old hook to close")
    publisher.close()
    assert len(first.attempts) == 4 and second.subjects == ["sal-2"]
    assert first.bad_signatures == second.bad_signatures == 0


async def _true(value: bool) -> bool:
    return value
