"""Retention of recorded segments: per camera and mode, then the worker's disk cap, oldest first."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contract.config.record import RecordSettings
from edge.record.index import Segment, SegmentIndex
from edge.record.stats import RecordStats

logger = logging.getLogger(__name__)

LOW_WATER = 0.9  # above the cap, delete down to this fraction of it
_DEFAULT = RecordSettings()


def events_buffer_s(settings: RecordSettings) -> float:
    """`events` mode keeps segments without events only as long as a clip may still need them."""
    roll = settings.pre_roll + settings.max_clip + settings.post_roll + 2 * settings.segment
    return max(60.0, roll.total_seconds())


def plain_keep_s(settings: RecordSettings) -> float:
    if settings.mode == "continuous":
        return settings.continuous_retention.total_seconds()
    return events_buffer_s(settings)


@dataclass
class Retention:
    directory: Path
    index: SegmentIndex
    cap_bytes: int
    stats: RecordStats

    def apply(self, cameras: Mapping[str, RecordSettings], now_s: float) -> None:
        """One pass: retention per camera (cameras no longer configured keep the default), then the cap."""
        for camera_id in self.index.cameras():
            settings = cameras.get(camera_id, _DEFAULT)
            plain_before = now_s - plain_keep_s(settings)
            event_before = now_s - settings.events_retention.total_seconds()
            for segment in self.index.expired(camera_id, plain_before, event_before):
                self._delete(segment)
                self.stats.deleted_retention += 1
        self.enforce_cap()

    def enforce_cap(self) -> None:
        total = self.index.total_bytes()
        if total <= self.cap_bytes:
            return
        target = int(self.cap_bytes * LOW_WATER)
        deleted = 0
        while total > target:
            batch = self.index.oldest(32)
            if not batch:
                break
            for segment in batch:
                self._delete(segment)
                total -= segment.bytes
                deleted += 1
                if total <= target:
                    break
        self.stats.deleted_cap += deleted
        logger.info("recordings over the %d MiB cap: deleted the %d oldest segment(s)", self.cap_bytes >> 20, deleted)

    def _delete(self, segment: Segment) -> None:
        (self.directory / segment.path).unlink(missing_ok=True)
        self.index.delete(segment.id)
