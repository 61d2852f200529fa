"""The clip outbox on disk: bounded by count and by bytes, the oldest waiting clips dropped first
and counted; the order survives a restart."""

from __future__ import annotations

from pathlib import Path

from edge.record.stats import RecordStats
from edge.record.uploader import ClipMeta, ClipOutbox


def _meta(n: int) -> ClipMeta:
    return ClipMeta(f"clip{n:04d}xx", "pier", "edge-1", [], "2026-03-01T07:05:00+00:00", "", "0" * 64, 1000, 4.0)


def test_the_outbox_drops_the_oldest_by_count_and_by_bytes_and_keeps_order(tmp_path: Path) -> None:
    stats = RecordStats()
    outbox = ClipOutbox(tmp_path / "outbox", 3, None, None, stats, max_bytes=2500)
    for n in range(5):
        path = outbox.new_path()
        path.write_bytes(b"\0" * 1000)
        outbox.put(path, _meta(n))
    waiting = sorted(p.name for p in (tmp_path / "outbox").glob("*.mp4"))
    assert waiting == ["000000000004.mp4", "000000000005.mp4"]  # 2,000 bytes <= 2,500
    assert outbox.waiting == 2 and stats.clips_dropped == 3
    again = ClipOutbox(tmp_path / "outbox", 3, None, None, stats)  # a restart numbers on
    assert again.new_path().name == "000000000006.mp4"
