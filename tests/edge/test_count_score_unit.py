"""The reference scoring used by the counting test: a crossing matches the nearest free reference
crossing of its direction within the tolerance; a second one near a taken crossing is a double count,
one far from any is an extra, and a wrong direction never matches."""

from __future__ import annotations

from contract.config import CountingLine
from edge.events.reference import LineReference, ReferenceCrossing, score

LINE = CountingLine(id="l", start=(0.5, 0.0), end=(0.5, 1.0))
REFERENCE = LineReference(
    LINE,
    (ReferenceCrossing(10.0, "in"), ReferenceCrossing(12.0, "in"), ReferenceCrossing(20.0, "out")),
)


def test_all_counted_once_is_full_recall() -> None:
    result = score(REFERENCE, [(10.4, "in"), (12.6, "in"), (19.5, "out")], 1.5)
    assert (result.recall_pct("in"), result.recall_pct("out")) == (100.0, 100.0)
    assert result.double_counts == result.extras == 0 and not result.missed


def test_a_person_counted_twice_is_a_double_count_not_a_second_match() -> None:
    result = score(REFERENCE, [(19.8, "out"), (20.9, "out")], 1.5)
    assert result.matched["out"] == 1 and result.double_counts == 1 and result.extras == 0
    assert result.recall_pct("in") == 0.0 and len(result.missed) == 2


def test_close_crossings_take_the_nearest_free_one_and_wrong_directions_are_extras() -> None:
    result = score(REFERENCE, [(11.2, "in"), (11.4, "in"), (10.0, "out"), (30.0, "in")], 1.5)
    assert result.matched["in"] == 2, "11.2 takes 12.0 or 10.0, 11.4 the other"
    assert result.extras == 2 and result.double_counts == 0
    assert result.matched["out"] == 0 and result.recall_pct("out") == 0.0
