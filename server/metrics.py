"""Prometheus metrics, on a registry owned by the app (no global registry)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_in = Counter("ioc_ingest_messages", "MQTT messages received", ["kind"], registry=r)
        self.rows_written = Counter("ioc_ingest_rows_written", "new rows committed", ["table"], registry=r)
        self.duplicates = Counter("ioc_ingest_duplicates", "redelivered rows already stored", ["table"], registry=r)
        self.dead_letters = Counter("ioc_ingest_dead_letters", "messages or readings refused", ["reason"], registry=r)
        self.batch_rows = Histogram(
            "ioc_ingest_batch_rows",
            "readings per committed batch",
            buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 50000),
            registry=r,
        )
        self.lag = Histogram(
            "ioc_ingest_lag_seconds",
            "from arrival at the server to commit",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.write_failures = Counter("ioc_ingest_write_failures", "failed batch writes", ["kind"], registry=r)
        self.dropped = Counter(
            "ioc_ingest_dropped",
            "messages let go neither stored nor acked (the server stopped while the buffer was full); redelivered",
            registry=r,
        )
        self.unacked = Counter(
            "ioc_ingest_unacked",
            "committed messages not acked because their broker connection was lost (redelivered, stored once)",
            registry=r,
        )
        self.backpressure_pauses = Counter(
            "ioc_ingest_backpressure_pauses", "times reading from the broker paused (inbound buffer full)", registry=r
        )
        self.backpressure_seconds = Counter(
            "ioc_ingest_backpressure_seconds", "time reading from the broker was paused", registry=r
        )
        self.ingest_restarts = Counter(
            "ioc_ingest_restarts", "ingest tasks restarted after an exception", ["task"], registry=r
        )
        self.ingest_stalls = Counter(
            "ioc_ingest_stalls", "times ingest stalled (no commit while messages waited)", registry=r
        )
        self.ingest_settled = Counter(
            "ioc_ingest_settled",
            "messages settled with the transport: ack (stored), terminate (dead letter), retry (delivered again)",
            ["outcome"],
            registry=r,
        )
        self.ingest_up = Gauge("ioc_ingest_up", "1 while every ingest task runs and commits", registry=r)
        self.pending = Gauge("ioc_ingest_pending_messages", "received, not yet committed and acked", registry=r)
        self.db_up = Gauge("ioc_database_up", "1 when the last write or check succeeded", registry=r)
        self.mqtt_connected = Gauge("ioc_mqtt_connected", "1 while connected to the broker", registry=r)
        self.pool_size = Gauge("ioc_db_pool_connections", "connections in the pool", registry=r)
        self.pool_available = Gauge("ioc_db_pool_available", "idle connections in the pool", registry=r)
        self.pool_waiting = Gauge("ioc_db_pool_waiting", "callers waiting for a connection", registry=r)
        self.observer_failures = Counter("ioc_observer_failures", "exceptions raised by ingest observers", registry=r)
        self.sensors_online = Gauge("ioc_sensors_online", "sensors currently online", registry=r)
        self.live_viewers = Gauge("ioc_live_viewers", "live viewers (WebRTC peer connections) now", registry=r)
        self.live_refused = Counter(
            "ioc_live_viewers_refused", "live viewers refused: the viewer limit was reached", registry=r
        )
        self.live_decode_dropped = Counter(
            "ioc_live_decode_dropped",
            "pictures a transcoded camera's decoder (or packets a passed-through camera's reader) dropped because"
            " the pull fell behind (the newest are kept)",
            ["camera"],
            registry=r,
        )
        self.live_viewer_dropped = Counter(
            "ioc_live_viewer_dropped",
            "packets a live viewer lost for falling behind (it resumes at the next keyframe)",
            ["camera"],
            registry=r,
        )
        self.live_open_failures = Counter(
            "ioc_live_open_failures", "failed attempts to open a camera for live view", ["camera"], registry=r
        )
        self.overlay_cut_off = Counter(
            "ioc_overlay_clients_cut_off", "overlay clients dropped for falling behind", registry=r
        )
        self.overlay_refused = Counter(
            "ioc_overlay_clients_refused", "overlay clients refused: the per-camera limit was reached", registry=r
        )
        self.leader = Gauge(
            "ioc_leader", "1 while this replica is the leader (runs alerts, outbox, retention)", registry=r
        )
        self.leader_changes = Counter(
            "ioc_leader_changes", "leadership gained or lost by this replica", ["change"], registry=r
        )
        self.overlay_stale = Counter(
            "ioc_overlay_events_stale", "detection events too old to draw, not fanned out", registry=r
        )
        self.overlay_frames = Counter(
            "ioc_overlay_frames",
            "live detection frames from the edge, by outcome: received (fanned out), invalid, dropped "
            "(no room), unknown (camera), stale (picture too old to draw)",
            ["outcome"],
            registry=r,
        )


@dataclass(frozen=True)
class AlertCollector(Collector):
    """The alert engine's own counts, read when /metrics is scraped (the engine keeps plain ints)."""

    failures: Callable[[], int]
    ws_cut_off: Callable[[], int]
    outbox_pending: Callable[[], int]
    unsaved_dropped: Callable[[], int]
    deliveries: Callable[[], Mapping[tuple[str, str], int]]

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "ioc_alert_failures", "alert engine saves or ticks that failed (saves are retried)", self.failures()
        )
        yield CounterMetricFamily(
            "ioc_alert_ws_cut_off", "dashboard clients cut off for falling behind", self.ws_cut_off()
        )
        yield CounterMetricFamily(
            "ioc_alert_unsaved_dropped", "alert changes dropped while the database was down", self.unsaved_dropped()
        )
        yield GaugeMetricFamily(
            "ioc_alert_outbox_pending",
            "alert changes and deliveries not yet saved, delivered or dead",
            self.outbox_pending(),
        )
        deliveries = CounterMetricFamily(
            "ioc_alert_deliveries", "alert deliveries finished, by channel and outcome", labels=["channel", "outcome"]
        )
        for (channel, outcome), count in sorted(self.deliveries().items()):
            deliveries.add_metric([channel, outcome], count)
        yield deliveries


@dataclass(frozen=True)
class ReplicaCollector(Collector):
    """Shared replicas: the counts of the NOTIFY / LISTEN plumbing, read when /metrics is scraped."""

    notify_failures: Callable[[], int]
    listener_failures: Callable[[], int]
    commands_expired: Callable[[], int]
    tail_rows: Callable[[], Mapping[str, int]]
    tail_evicted: Callable[[], int]

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "ioc_replica_notify_failures",
            "post-commit NOTIFYs that failed (the leader's poll still finds the rows)",
            self.notify_failures(),
        )
        yield CounterMetricFamily(
            "ioc_replica_listener_failures", "LISTEN notifications whose handling failed", self.listener_failures()
        )
        yield CounterMetricFamily(
            "ioc_replica_commands_expired",
            "operator actions sent to the leader that no leader took in time (refused with 503, never applied)",
            self.commands_expired(),
        )
        rows = CounterMetricFamily(
            "ioc_replica_tail_rows", "rows the leader's database tail handed to the alert engine", labels=["kind"]
        )
        for kind, count in self.tail_rows().items():
            rows.add_metric([kind], count)
        yield rows
        yield CounterMetricFamily(
            "ioc_replica_tail_keys_evicted",
            "evaluated keys forgotten while still in the look-back window (such a row may be evaluated again)",
            self.tail_evicted(),
        )
