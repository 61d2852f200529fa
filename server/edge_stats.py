"""The edge workers' own figures on the server's /metrics.

An edge worker has no /metrics of its own: every `stats_interval` it publishes an
`EdgeStatsPayload` (QoS 0, `<prefix>/edge/<id>/stats`) with its drops and rates. Every replica
subscribes (a plain subscription, like the live detections) and keeps the latest message of each
worker streams.yaml names; /metrics exports them when scraped. The edge's counts run from its own
start (they reset when it restarts), so they are gauges here. Messages from unknown workers or
that do not parse are counted and dropped; the first of each worker is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError

from contract.payloads import EdgeStatsPayload
from contract.topics import Topics

logger = logging.getLogger(__name__)

MAX_STATS_BYTES = 256 * 1024


@dataclass(frozen=True)
class _Latest:
    stats: EdgeStatsPayload
    at: float
    """monotonic receipt time"""


class EdgeStatsBoard(Collector):
    def __init__(
        self, topics: Topics, known_worker: Callable[[str], bool], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._topics = topics
        self._known = known_worker
        self._clock = clock
        self._latest: dict[str, _Latest] = {}
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self.refused = 0

    @property
    def topic(self) -> str:
        return f"{self._topics.prefix}/edge/+/stats"

    def offer(self, topic: str, payload: bytes) -> None:
        """From any thread (a broker client's): keep the worker's latest stats."""
        worker_id = self._topics.parse_worker_id(topic)
        if worker_id is None or not topic.endswith("/stats") or not self._known(worker_id):
            self._refuse(worker_id or topic[:100], "no such edge worker in streams.yaml")
            return
        try:
            if len(payload) > MAX_STATS_BYTES:
                raise ValueError(f"{len(payload)} bytes, more than {MAX_STATS_BYTES}")
            stats = EdgeStatsPayload.model_validate_json(payload)
        except (ValidationError, ValueError) as exc:
            self._refuse(worker_id, f"unreadable stats: {str(exc)[:300]}")
            return
        if stats.worker_id != worker_id:
            self._refuse(worker_id, f"stats of '{stats.worker_id[:64]}' on its topic")
            return
        with self._lock:
            self._latest[worker_id] = _Latest(stats, self._clock())

    def _refuse(self, key: str, why: str) -> None:
        with self._lock:
            self.refused += 1
            first = key not in self._logged and len(self._logged) < 1000
            if first:
                self._logged.add(key)
        if first:
            logger.warning("edge stats from %s refused (logged once): %s", key, why)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            latest = dict(self._latest)
            refused = self.refused
        latest = {
            w: entry for w, entry in latest.items() if self._known(w)
        }  # a worker removed from streams.yaml leaves
        now = self._clock()
        age = GaugeMetricFamily("ioc_edge_stats_age_seconds", "since each edge worker's last stats", labels=["worker"])
        spool = GaugeMetricFamily("ioc_edge_spool_depth", "events waiting in the edge's spool", labels=["worker"])
        stalled = GaugeMetricFamily(
            "ioc_edge_sender_stalled", "1: events wait and the broker acknowledged none lately", labels=["worker"]
        )
        dropped = GaugeMetricFamily(
            "ioc_edge_dropped",
            "what an edge worker dropped since it started: spool (oldest events over its cap), snapshots, "
            "recording_queue (packets its segment writers fell behind on), clips (from a full upload queue)",
            labels=["worker", "what"],
        )
        camera_dropped = GaugeMetricFamily(
            "ioc_edge_camera_dropped",
            "per camera since its worker started: frames (decoded frames the detector had no time for), "
            "live (live detection frames not sent: queue full or link down or busy)",
            labels=["camera", "what"],
        )
        fps = GaugeMetricFamily(
            "ioc_edge_camera_fps", "frames per second in, decoded and detected", labels=["camera", "kind"]
        )
        for worker_id, entry in sorted(latest.items()):
            stats = entry.stats
            age.add_metric([worker_id], now - entry.at)
            spool.add_metric([worker_id], stats.spool_depth)
            stalled.add_metric([worker_id], 1.0 if stats.sender is not None and stats.sender.stalled else 0.0)
            dropped.add_metric([worker_id, "spool"], stats.spool_dropped)
            if stats.snapshots is not None:
                dropped.add_metric([worker_id, "snapshots"], stats.snapshots.dropped)
            if stats.recording is not None:
                dropped.add_metric([worker_id, "recording_queue"], stats.recording.queue_dropped)
                dropped.add_metric([worker_id, "clips"], stats.recording.clips_dropped)
            for camera in stats.cameras:
                camera_dropped.add_metric([camera.camera_id, "frames"], camera.frames_dropped)
                if camera.live_dropped is not None:
                    camera_dropped.add_metric([camera.camera_id, "live"], camera.live_dropped)
                for kind, value in (
                    ("in", camera.fps_in),
                    ("decoded", camera.fps_decoded),
                    ("detected", camera.fps_detected),
                ):
                    fps.add_metric([camera.camera_id, kind], value)
        yield from (age, spool, stalled, dropped, camera_dropped, fps)
        yield CounterMetricFamily(
            "ioc_edge_stats_refused", "edge stats messages refused (unknown worker, unreadable)", refused
        )
