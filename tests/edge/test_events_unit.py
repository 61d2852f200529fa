"""Zones, lines and object lifecycle, on hand-made tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contract.config import CountingLine, Zone
from edge.events.lifecycle import ObjectLifecycle
from edge.events.lines import LineCounter, crossing_direction
from edge.events.model import TrackedObject
from edge.events.zones import ZoneTracker

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def person(track_id: int, x: float, y: float, label: str = "person") -> TrackedObject:
    """A box whose bottom centre (the anchor) is at x, y."""
    return TrackedObject(track_id, label, 0.8, (x - 0.05, y - 0.2, x + 0.05, y))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


ZONE = Zone(id="z", points=[(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)], inertia_frames=3, loiter_time=5)


def test_zone_enter_needs_inertia_frames_then_exit_reports_dwell() -> None:
    zone = ZoneTracker(ZONE, ["person"])
    kinds = []
    for i in range(3):
        kinds += [e.kind for e in zone.update([person(1, 0.5, 0.5)], at(i))]
    assert kinds == ["zone_enter", "zone_occupancy"]
    assert zone.occupancy == 1
    exits = []
    for i in range(3, 6):
        exits += zone.update([person(1, 0.9, 0.9)], at(i))
    assert [e.kind for e in exits] == ["zone_exit", "zone_occupancy"]
    assert exits[0].dwell_s == 3.0 and exits[1].count == 0


def test_zone_ignores_a_flicker_shorter_than_inertia() -> None:
    zone = ZoneTracker(ZONE, ["person"])
    events = zone.update([person(1, 0.5, 0.5)], at(0)) + zone.update([person(1, 0.5, 0.5)], at(1))
    events += zone.update([person(1, 0.9, 0.9)], at(2))
    events += zone.update([person(1, 0.5, 0.5)], at(3))
    assert events == []


def test_loitering_fires_once_after_loiter_time() -> None:
    zone = ZoneTracker(ZONE, ["person"])
    fired = []
    for i in range(12):
        fired += [e for e in zone.update([person(7, 0.5, 0.5)], at(i)) if e.kind == "loitering"]
    assert len(fired) == 1
    assert fired[0].dwell_s is not None and fired[0].dwell_s >= 5.0 and fired[0].obj is not None
    assert fired[0].obj.track_id == 7


def test_zone_watches_only_its_classes_and_reports_occupancy_over_threshold() -> None:
    zone = ZoneTracker(ZONE.model_copy(update={"occupancy_threshold": 1, "inertia_frames": 1}), ["person"])
    events = zone.update([person(1, 0.5, 0.5), person(2, 0.45, 0.5), person(3, 0.5, 0.5, "car")], at(0))
    occupancy = [e for e in events if e.kind == "zone_occupancy"]
    assert [(e.count, e.threshold) for e in occupancy] == [(2, 1)]


def test_gone_track_leaves_the_zone_at_once() -> None:
    zone = ZoneTracker(ZONE.model_copy(update={"inertia_frames": 1}), ["person"])
    zone.update([person(1, 0.5, 0.5)], at(0))
    assert [e.kind for e in zone.forget(1, at(4))] == ["zone_exit", "zone_occupancy"]


LINE = CountingLine(id="l", start=(0.0, 0.5), end=(1.0, 0.5))


def test_crossing_direction_in_is_left_to_right_looking_along_the_line() -> None:
    # looking from start (left of picture) to end (right), the left side is the top of the picture
    assert crossing_direction((0.5, 0.3), (0.5, 0.7), (0.0, 0.5), (1.0, 0.5)) == "in"
    assert crossing_direction((0.5, 0.7), (0.5, 0.3), (0.0, 0.5), (1.0, 0.5)) == "out"
    assert crossing_direction((0.5, 0.3), (0.5, 0.4), (0.0, 0.5), (1.0, 0.5)) is None
    # beyond the end of the segment is no crossing
    assert crossing_direction((0.5, 0.3), (0.5, 0.7), (0.6, 0.5), (1.0, 0.5)) is None


def test_line_counts_both_directions() -> None:
    counter = LineCounter(LINE, ["person"])
    path = [0.3, 0.45, 0.55, 0.7, 0.55, 0.4, 0.6]
    events = []
    for i, y in enumerate(path):
        events += counter.update([person(1, 0.5, y)], at(i))
    assert [e.direction for e in events] == ["in", "out", "in"]
    assert (counter.count_in, counter.count_out) == (2, 1)
    assert (events[-1].count, events[-1].count_in, events[-1].count_out) == (2, 2, 1)


def test_line_with_direction_in_counts_out_but_emits_only_in() -> None:
    counter = LineCounter(LINE.model_copy(update={"direction": "in"}), ["person"])
    events = []
    for i, y in enumerate([0.3, 0.7, 0.3]):
        events += counter.update([person(1, 0.5, y)], at(i))
    assert [e.direction for e in events] == ["in"]
    assert counter.count_out == 1


def test_lifecycle_seen_once_then_gone_after_absence() -> None:
    life = ObjectLifecycle(timedelta(seconds=2))
    first, _ = life.update([person(1, 0.5, 0.5)], at(0))
    again, _ = life.update([person(1, 0.5, 0.5)], at(1))
    later, gone = life.update([], at(3.5))
    assert [e.kind for e in first] == ["object_seen"]
    assert again == []
    assert [e.kind for e in later] == ["object_gone"] and gone == [1]


def test_a_person_standing_on_the_line_jittering_across_it_is_not_counted() -> None:
    counter = LineCounter(LINE, ["person"])  # horizontal at y = 0.5, hysteresis 0.03
    jitter = [0.3, 0.45, 0.49, 0.51, 0.52, 0.48, 0.51, 0.49, 0.525, 0.475, 0.51, 0.49]
    events = []
    for i, y in enumerate(jitter):
        events += counter.update([person(1, 0.5, y)], at(i * 0.2))
    assert events == [] and (counter.count_in, counter.count_out) == (0, 0)
    for i, y in enumerate([0.51, 0.56, 0.62]):  # then walks on, down across the band: one crossing
        events += counter.update([person(1, 0.5, y)], at(3 + i * 0.2))
    assert [e.direction for e in events] == ["in"]


def test_a_track_that_enters_the_band_and_turns_back_is_not_counted() -> None:
    counter = LineCounter(LINE, ["person"])
    events = []
    for i, y in enumerate([0.3, 0.4, 0.51, 0.52, 0.45, 0.3]):  # touches the far side of the line, not the band
        events += counter.update([person(1, 0.5, y)], at(i))
    assert events == []


def test_a_fast_track_that_skips_the_band_between_frames_is_counted_once() -> None:
    counter = LineCounter(LINE, ["person"])
    events = []
    for i, y in enumerate([0.2, 0.4, 0.6, 0.8]):
        events += counter.update([person(1, 0.5, y)], at(i))
    assert [e.direction for e in events] == ["in"] and counter.count_in == 1
