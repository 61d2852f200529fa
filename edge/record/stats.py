"""The recorder's counters (since start), reported in the worker's stats."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RecordStats:
    """Monotonic counters, each written by one thread; `last_error` says what the disk said last."""

    packets: int = 0
    segments: int = 0
    bytes_written: int = 0
    write_errors: int = 0
    deleted_retention: int = 0
    deleted_cap: int = 0
    clips_cut: int = 0
    clips_uploaded: int = 0
    clips_dropped: int = 0
    last_error: str | None = None
