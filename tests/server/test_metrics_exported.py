"""Every metric the server declares is really driven: one running server is made to do each thing
a metric counts (ingest, duplicates, dead letters, a refused batch, a failing observer, overlay
and live-view drops), then /metrics is scraped and every declared family must show it.

A metric added to `server.metrics.Metrics` without a scenario here fails this test: add how to
drive it (or, for one owned elsewhere, where it is driven) to `EXPECTED`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.ingest.observers import NullObserver
from server.live.settings import LiveSettings
from server.metrics import Metrics
from server.overlay.fanout import OverlaySettings
from server.store.records import StoredReading
from tests.fixtures.services import MosquittoBroker, free_port
from tests.server.helpers import Publisher, count_rows, make_settings, running_app, wait_until, write_streams

Samples = dict[str, float]
"""sample name with labels (`ioc_ingest_rows_written_total{table="readings"}`) -> value"""


def positive(name: str) -> Callable[[Samples], bool]:
    return lambda samples: any(value > 0 for key, value in samples.items() if key.startswith(name))


def equals(name: str, expected: float) -> Callable[[Samples], bool]:
    return lambda samples: samples.get(name) == expected


EXPECTED: dict[str, Callable[[Samples], bool]] = {
    "ioc_ingest_messages": positive("ioc_ingest_messages_total"),
    "ioc_ingest_rows_written": positive('ioc_ingest_rows_written_total{table="detection_events"}'),
    "ioc_ingest_duplicates": positive('ioc_ingest_duplicates_total{table="readings"}'),
    "ioc_ingest_dead_letters": positive('ioc_ingest_dead_letters_total{reason="store_rejected"}'),
    "ioc_ingest_batch_rows": positive("ioc_ingest_batch_rows_count"),
    "ioc_ingest_lag_seconds": positive("ioc_ingest_lag_seconds_count"),
    "ioc_ingest_write_failures": positive('ioc_ingest_write_failures_total{kind="rejected"}'),
    "ioc_ingest_pending_messages": equals("ioc_ingest_pending_messages", 0),  # all committed
    "ioc_database_up": equals("ioc_database_up", 1),
    "ioc_ingest_up": equals("ioc_ingest_up", 1),
    "ioc_ingest_settled": positive('ioc_ingest_settled_total{outcome="ack"}'),
    "ioc_mqtt_connected": equals("ioc_mqtt_connected", 1),
    "ioc_db_pool_connections": positive("ioc_db_pool_connections"),
    "ioc_db_pool_available": positive("ioc_db_pool_available"),
    "ioc_db_pool_waiting": equals("ioc_db_pool_waiting", 0),
    "ioc_observer_failures": positive("ioc_observer_failures_total"),
    "ioc_sensors_online": positive("ioc_sensors_online"),
    "ioc_live_viewers": equals("ioc_live_viewers", 1),
    "ioc_live_viewers_refused": positive("ioc_live_viewers_refused_total"),
    "ioc_live_open_failures": positive('ioc_live_open_failures_total{camera="gate"}'),
    "ioc_overlay_clients_cut_off": positive("ioc_overlay_clients_cut_off_total"),
    "ioc_overlay_clients_refused": positive("ioc_overlay_clients_refused_total"),
    "ioc_overlay_events_stale": positive("ioc_overlay_events_stale_total"),
    "ioc_overlay_frames": positive('ioc_overlay_frames_total{outcome="invalid"}'),
    "ioc_leader": equals("ioc_leader", 1),  # a single replica leads
    "ioc_leader_changes": positive('ioc_leader_changes_total{change="gained"}'),
}
DRIVEN_ELSEWHERE: dict[str, str] = {
    "ioc_ingest_restarts": "messaging: tests/messaging/test_supervisor.py (a writer that fails restarts)",
    "ioc_ingest_stalls": "messaging: tests/messaging/test_poison_and_outage.py (database cut while messages wait)",
    "ioc_ingest_dropped": "the MQTT inbound buffer, when stopping while full: tests/server/ingest/test_flow.py",
    "ioc_ingest_unacked": "committed after the connection was lost: tests/server/ingest/test_flow.py",
    "ioc_ingest_backpressure_pauses": "a full inbound buffer pauses reading: tests/server/ingest/test_flow.py",
    "ioc_ingest_backpressure_seconds": "time reading was paused: tests/server/ingest/test_flow.py",
    "ioc_alert_deliveries": "alerts: tests/server/alerts/test_outbox_restart.py scrapes it after a delivery",
    "ioc_alert_failures": "alerts: test_commit_failure.py drives engine.failures (read by the collector)",
    "ioc_alert_ws_cut_off": "alerts: the hub's cut_off count, read by the collector (alerts engineer)",
    "ioc_alert_unsaved_dropped": "alerts: changes dropped during a long outage (alerts engineer)",
    "ioc_alert_outbox_pending": "alerts: a gauge, 0 when everything is delivered (test_outbox_restart.py)",
    "ioc_live_decode_dropped": "console: tests/server/console/test_live_transcode.py (a reader nobody drains)",
    "ioc_live_viewer_dropped": "console: tests/server/console/test_live_relay.py (a viewer that reads nothing)",
    "ioc_incident_notices": "incidents: tests/server/incidents/test_api.py scrapes it after two escalation levels",
    "ioc_incidents_active": "incidents: test_api.py scrapes it (1 active incident)",
    "ioc_incident_failures": "incidents: failed saves or ticks, read by the collector (incidents engineer)",
    "ioc_incident_unsaved_dropped": "incidents: changes dropped during a long outage (incidents engineer)",
    "ioc_evidence_clips": "evidence: tests/evidence/test_cases_audit.py scrapes stored/duplicate/damaged uploads",
    "ioc_evidence_audit_failures": "evidence: audit writes that failed (evidence engineer; 0 when the DB is up)",
    "ioc_evidence_recording_requests": "evidence: tests/evidence/test_clips.py sends one over MQTT",
    "ioc_evidence_store_retries": "evidence: tests/evidence/test_s3store.py drives S3 retries (503, refused)",
    **dict.fromkeys(
        (
            "ioc_edge_stats_age_seconds",
            "ioc_edge_spool_depth",
            "ioc_edge_sender_stalled",
            "ioc_edge_dropped",
            "ioc_edge_camera_dropped",
            "ioc_edge_camera_fps",
            "ioc_edge_stats_refused",
        ),
        "the edge workers' stats: tests/server/test_edge_stats_metrics.py (MQTT and core NATS)",
    ),
}
"""Declared metrics this scenario does not drive, each with who drives it: keep this list short."""
SHARED_REPLICAS_ONLY: dict[str, str] = {
    "ioc_replica_tail_rows": "replicas (shared mode only): tests/server/replicas/test_two_replicas.py scrapes it",
    "ioc_replica_notify_failures": "replicas: 0 in test_two_replicas.py (a failed NOTIFY only delays the poll)",
    "ioc_replica_commands_expired": "replicas: test_follower_api.py (an action no leader took)",
    "ioc_replica_listener_failures": "replicas: 0 in test_two_replicas.py (a handler bug; logged with its traceback)",
    "ioc_replica_tail_keys_evicted": "replicas: 0 in test_two_replicas.py (more than 200k rows in the look-back)",
}
"""Families only a `replica_mode: shared` server exports (this scenario runs one server), each with its test."""


class Broken(NullObserver):
    async def on_readings(self, readings: Sequence[StoredReading]) -> None:
        raise RuntimeError("observer bug")


def _samples(text: str) -> tuple[set[str], Samples]:
    families, samples = set(), {}
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return families, samples


def _declared() -> set[str]:
    return {family.name for family in Metrics().registry.collect()}


def test_every_declared_metric_has_a_scenario() -> None:
    assert _declared() <= set(EXPECTED) | set(DRIVEN_ELSEWHERE)


async def _offer(client: httpx.AsyncClient) -> int:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        response = await client.post("/api/live/gate/offer", json={"sdp": pc.localDescription.sdp})
        return response.status_code
    finally:
        await pc.close()


async def test_every_declared_metric_is_driven_and_scraped(
    pg_database: str, mqtt_broker: MosquittoBroker, publisher: Publisher, tmp_path: Path, topic_prefix: str
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    streams.write_text(streams.read_text().replace("rtsp://10.0.0.1/x", f"rtsp://127.0.0.1:{free_port()}/x"))
    settings = make_settings(pg_database, mqtt_broker.url, streams)
    live = LiveSettings(max_viewers=1, open_timeout_s=1.0, read_timeout_s=1.0, reopen_max_backoff_s=0.5)
    overlay = OverlaySettings(queue_size=1, max_clients_per_camera=1)
    app = create_app(settings, live=live, overlay=overlay, observers=[Broken()])
    now = datetime.now(UTC)
    sal, events = f"{topic_prefix}/sensors/sal-1", f"{topic_prefix}/cameras/gate/events"

    def event(event_id: str, at: datetime, **fields: object) -> tuple[str, str]:
        body = {"v": 1, "id": event_id, "camera_id": "gate", "kind": "object_seen", "ts": at.isoformat(), **fields}
        return events, json.dumps(body)

    async with running_app(settings, app) as client:
        services = app.state.ioc
        first = services.overlay.subscribe("gate")  # never reads: cut off by the first detection
        with pytest.raises(ConnectionRefusedError):
            services.overlay.subscribe("gate")
        reading = json.dumps({"value": 1.0, "ts": now.isoformat()})
        publisher.publish_all([(sal, reading)])
        await wait_until(lambda: _rows(pg_database, "readings", 1), 10, "the reading")
        publisher.publish_all(
            [
                (sal, reading),  # a duplicate
                event("evt-metrics-01", now),
                event("evt-metrics-02", now - timedelta(minutes=5)),  # too old to draw
                event("evt-metrics-03", now, label="bad\u0000label"),  # the database refuses NUL
            ]
        )
        await wait_until(lambda: _rows(pg_database, "detection_events", 2), 10, "the events")
        await wait_until(lambda: _rows(pg_database, "dead_letters", 1), 10, "the refused event")
        publisher.publish_all([(f"live/{topic_prefix}/cameras/gate/detections", "{not a frame")])
        await wait_until(lambda: _frames_invalid(services), 10, "the refused live frame")
        assert first.cut_off

        assert await _offer(client) == 200
        assert await _offer(client) == 503
        assert (await client.get("/api/live/gate/snapshot.jpg")).status_code == 504  # camera refuses

        families, samples = _samples((await client.get("/metrics")).text)
        # the components' collectors too; `_created` families are the counters' creation times
        ours = {name for name in families if name.startswith("ioc_") and not name.endswith("_created")}
        assert ours == set(EXPECTED) | set(DRIVEN_ELSEWHERE)  # SHARED_REPLICAS_ONLY: none in single mode
        failing = sorted(name for name, check in EXPECTED.items() if not check(samples))
        assert failing == [], {name: [k for k in samples if k.startswith(name)] for name in failing}


async def _frames_invalid(services: object) -> bool:
    feed = services.overlay_feed  # type: ignore[attr-defined]
    return feed is not None and feed.counts["invalid"] >= 1


async def _rows(database_url: str, table: str, count: int) -> bool:
    return await count_rows(database_url, f"SELECT count(*) FROM {table}") >= count
