"""The evidence component's counts, read when /metrics is scraped (the component keeps plain ints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass
class EvidenceCounts:
    clips: Counter[str] = field(default_factory=Counter)
    """clip uploads by result: stored, duplicate, damaged, refused, store_failed"""
    audit_failures: int = 0
    recording_requests: int = 0


class EvidenceCollector(Collector):
    def __init__(self, counts: EvidenceCounts, store_retries: Callable[[], int] = lambda: 0) -> None:
        self.counts = counts
        self.store_retries = store_retries

    def collect(self) -> Iterator[Metric]:
        clips = CounterMetricFamily("ioc_evidence_clips", "clip uploads from the edge, by result", labels=["result"])
        for result, count in sorted(self.counts.clips.items()):
            clips.add_metric([result], count)
        yield clips
        yield CounterMetricFamily(
            "ioc_evidence_audit_failures", "audit rows that could not be written", self.counts.audit_failures
        )
        yield CounterMetricFamily(
            "ioc_evidence_recording_requests", "recording requests sent to edge workers", self.counts.recording_requests
        )
        yield CounterMetricFamily(
            "ioc_evidence_store_retries", "clip store requests retried after a temporary failure", self.store_retries()
        )
