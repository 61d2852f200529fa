"""The tail's bounded set of evaluated keys: a key is fresh once; over the limit the oldest go,
and those still inside the look-back window are counted (they could be evaluated again)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.alerts.tail import SeenKeys

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_a_key_is_fresh_once_and_the_oldest_go_first_counted_when_still_in_the_window() -> None:
    seen = SeenKeys(limit=2)
    window = T0 + timedelta(seconds=1)
    assert seen.fresh("a", T0, window) and not seen.fresh("a", T0, window)
    assert seen.fresh("b", T0 + timedelta(seconds=2), window)
    assert seen.fresh("c", T0 + timedelta(seconds=3), window)  # evicts "a": older than the window
    assert len(seen) == 2 and seen.evicted_recent == 0
    assert seen.fresh("d", T0 + timedelta(seconds=4), window)  # evicts "b": inside the window
    assert seen.evicted_recent == 1
    assert seen.fresh("a", T0, window)  # forgotten: fresh again
