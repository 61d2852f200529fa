"""Delivery pieces: webhook signatures, retries and dead deliveries, the dashboard hub, CAP 1.2."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from lxml import etree

from contract.config.channels import WebhookChannel
from contract.config.root import StreamsConfig
from server.alerts.core import RuleEngine
from server.alerts.model import AlertChange
from server.alerts.observations import SensorSample
from server.notify.cap.render import cap_schema, render_cap
from server.notify.hub import AlertHub
from server.notify.outbox import MemoryOutbox
from server.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from server.notify.webhook import DELIVERY_HEADER, WebhookNotifier
from tests.server.alerts.configs import SALINITY_4, at, delivery_of, make_config, rule

SECRET = "a-very-long-shared-secret-value"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
QUICK = rule(SALINITY_4, **{"raise": {"above": 4.0}, "clear": {"below": 3.5}}, channels=["dashboard", "hook"])


def changes_for(values: list[float], config: StreamsConfig | None = None) -> list[AlertChange]:
    engine = RuleEngine(config or make_config([QUICK]))
    changes: list[AlertChange] = []
    for minute, value in enumerate(values):
        changes += engine.observe(SensorSample("sal-a", value, at(minute)))
    return changes


def test_signature_round_trip_and_rejections() -> None:
    body = b'{"alert":1}'
    ts = int(NOW.timestamp())
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)}
    assert verify(SECRET, headers, body, now=ts + 10)
    assert not verify(SECRET, headers, body + b" ", now=ts)  # body changed
    assert not verify("another-secret-of-length", headers, body, now=ts)
    assert not verify(SECRET, headers, body, now=ts + 3600)  # replayed an hour later
    assert not verify(SECRET, {TIMESTAMP_HEADER: "x"}, body, now=ts)


def channel(max_attempts: int = 3) -> WebhookChannel:
    return WebhookChannel(
        id="hook", type="webhook", url="http://receiver.test/hook", secret=SECRET, max_attempts=max_attempts
    )


async def test_webhook_retries_then_succeeds_with_a_valid_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) < 3 else 204)

    notifier = WebhookNotifier(
        channel(), lambda: NOW, retry_initial_s=0.001, retry_max_s=0.01, transport=httpx.MockTransport(handler)
    )
    await notifier.start()
    change = changes_for([5.0])[0]
    await notifier.deliver(delivery_of(change))
    await notifier.drain(timeout=5)
    await notifier.close()
    assert len(seen) == 3 and notifier.delivered == 1 and not notifier.dead
    last = seen[-1]
    assert verify(SECRET, dict(last.headers), last.content, now=NOW.timestamp())
    assert json.loads(last.content)["alert"]["id"] == change.payload.id
    assert SECRET not in str(last.headers) and SECRET.encode() not in last.content


async def test_webhook_dead_delivery_after_max_attempts_without_blocking_others() -> None:
    calls: dict[str, int] = {}
    first, second = changes_for([5.0]), changes_for([5.0], make_config([rule(QUICK, id="other")]))

    def handler(request: httpx.Request) -> httpx.Response:
        alert_id = json.loads(request.content)["alert"]["id"]
        calls[alert_id] = calls.get(alert_id, 0) + 1
        return httpx.Response(500 if alert_id == first[0].payload.id else 200)

    outbox = MemoryOutbox()
    deliveries = [delivery_of(first[0]), delivery_of(second[0])]
    outbox.add(deliveries)
    notifier = WebhookNotifier(
        channel(4),
        lambda: NOW,
        ledger=outbox,
        retry_initial_s=0.05,
        retry_max_s=0.05,
        transport=httpx.MockTransport(handler),
    )
    await notifier.start()
    for delivery in deliveries:
        await notifier.deliver(delivery)
    await asyncio.sleep(0.02)
    assert notifier.delivered == 1  # the second went through while the first waits to retry
    await notifier.drain(timeout=5)
    await notifier.close()
    assert calls[first[0].payload.id] == 4
    letters = outbox.dead_deliveries
    assert len(letters) == 1 and letters[0].delivery_id == deliveries[0].delivery_id
    assert outbox.rows == {} and outbox.delivered_ids == [deliveries[1].delivery_id]
    assert notifier.dead[0].error == "HTTP 500" and notifier.dead[0].attempts == 4


async def test_webhook_permanent_failure_is_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401)

    notifier = WebhookNotifier(
        channel(5), lambda: NOW, retry_initial_s=0.001, retry_max_s=0.01, transport=httpx.MockTransport(handler)
    )
    await notifier.start()
    await notifier.deliver(delivery_of(changes_for([5.0])[0]))
    await notifier.drain(timeout=5)
    await notifier.close()
    assert len(calls) == 1 and notifier.dead[0].error == "HTTP 401"


async def test_hub_replays_current_state_and_streams_changes() -> None:
    hub = AlertHub(queue_size=10)
    fired, resolved = changes_for([5.0, 1.0])
    hub.publish(fired.action, fired.payload)
    client = hub.subscribe()
    snapshot = await client.next()
    assert snapshot is not None and [a["id"] for a in snapshot["alerts"]] == [fired.payload.id]
    hub.publish(resolved.action, resolved.payload)
    message = await client.next()
    assert message is not None and message["action"] == "resolved"
    late = hub.subscribe()
    assert (await late.next()) == {"type": "snapshot", "alerts": []}


async def test_hub_cuts_off_a_slow_client_only() -> None:
    hub = AlertHub(queue_size=2)
    slow, fast = hub.subscribe(), hub.subscribe()
    change = changes_for([5.0])[0]
    for _ in range(3):
        hub.publish(change.action, change.payload)
        await fast.next()
    assert hub.cut_off == 1 and hub.clients == 1 and slow.cut_off and not fast.cut_off


@pytest.mark.parametrize("values", [[5.0], [5.0, 1.0]])
def test_cap_document_is_valid_cap_1_2(values: list[float]) -> None:
    config = make_config([QUICK])
    change = changes_for(values, config)[-1]
    document = render_cap(change.payload, config)
    tree = etree.fromstring(document)
    schema = cap_schema()
    assert schema.validate(tree), schema.error_log
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    assert tree.findtext("cap:info/cap:severity", namespaces=ns) == "Severe"
    assert tree.findtext("cap:sent", namespaces=ns).endswith("+07:00")  # type: ignore[union-attr]
    expected = "AllClear" if change.payload.state == "resolved" else "Monitor"
    assert tree.findtext("cap:info/cap:responseType", namespaces=ns) == expected


def test_cap_schema_rejects_an_invalid_document() -> None:
    change = changes_for([5.0])[0]
    tree = etree.fromstring(render_cap(change.payload))
    tree.find("{urn:oasis:names:tc:emergency:cap:1.2}status").text = "Maybe"  # type: ignore[union-attr]
    assert not cap_schema().validate(tree)


async def test_a_resumed_delivery_continues_with_the_attempts_it_had_made() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers[DELIVERY_HEADER])
        return httpx.Response(503)

    outbox = MemoryOutbox()
    resumed = replace(delivery_of(changes_for([5.0])[0]), attempts=3, next_attempt_at=NOW)
    outbox.add([resumed])
    notifier = WebhookNotifier(channel(4), lambda: NOW, ledger=outbox, transport=httpx.MockTransport(handler))
    await notifier.start()
    await notifier.deliver(resumed)
    await notifier.drain(timeout=5)
    await notifier.close()
    assert calls == [resumed.delivery_id]  # the fourth and last attempt only
    assert [(d.attempts, d.error) for d in outbox.dead_deliveries] == [(4, "HTTP 503")] and outbox.rows == {}
