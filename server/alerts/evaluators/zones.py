"""Detection rules on a zone: an object of a class in it, occupancy over N, loitering over T.

The edge reports `zone_enter` / `zone_exit` / `object_gone` per track, `zone_occupancy` with a
count, and `loitering` with the dwell time; the routing has already filtered camera, zone and class.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.config.rules import LoiteringRule, ObjectInZoneRule, RuleBase, ZoneOccupancyRule
from server.alerts.evaluators.base import expect, is_stale
from server.alerts.observations import DetectionSample, Observation
from server.alerts.state import ZERO, RuleState, Sample, Step, advance, elapse

MAX_TRACKS = 256
ENTER_KINDS = frozenset({"zone_enter", "object_seen", "loitering"})
LEAVE_KINDS = frozenset({"zone_exit", "object_gone"})
NO_TRACK = -1


def _track(sample: DetectionSample) -> int:
    return sample.track_id if sample.track_id is not None else NO_TRACK


def update_tracks(tracks: frozenset[int], sample: DetectionSample) -> frozenset[int]:
    if sample.kind in LEAVE_KINDS:
        return tracks - {_track(sample)}
    if sample.kind in ENTER_KINDS and len(tracks) < MAX_TRACKS:
        return tracks | {_track(sample)}
    return tracks


class ObjectInZoneEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        in_zone = expect(rule, ObjectInZoneRule)
        if not isinstance(observation, DetectionSample) or is_stale(state, observation.at):
            return Step(state)
        tracks = update_tracks(state.tracks, observation)
        seen = replace(state, tracks=tracks, last_seen=observation.at)
        present = bool(tracks)
        return advance(
            seen, raising=present, clearing=not present, at=observation.at, raise_for=in_zone.for_, clear_for=ZERO
        )

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return elapse(state, now, expect(rule, ObjectInZoneRule).for_, ZERO)


class ZoneOccupancyEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        occupancy = expect(rule, ZoneOccupancyRule)
        if not isinstance(observation, DetectionSample) or observation.count is None:
            return Step(state)
        if observation.kind != "zone_occupancy" or is_stale(state, observation.at):
            return Step(state)
        crowded = observation.count > occupancy.above
        seen = replace(state, value=float(observation.count), last_seen=observation.at)
        return advance(
            seen, raising=crowded, clearing=not crowded, at=observation.at, raise_for=occupancy.for_, clear_for=ZERO
        )

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return elapse(state, now, expect(rule, ZoneOccupancyRule).for_, ZERO)


def update_entries(entries: tuple[Sample, ...], sample: DetectionSample) -> tuple[Sample, ...]:
    """(track, entered epoch seconds) of every track in the zone."""
    track = float(_track(sample))
    others = tuple(entry for entry in entries if entry[0] != track)
    if sample.kind in LEAVE_KINDS:
        return others
    if sample.kind not in ENTER_KINDS:
        return entries
    known = next((entry for entry in entries if entry[0] == track), None)
    entered = sample.at.timestamp() - (sample.dwell_s or 0.0)
    if known is not None:
        entered = min(entered, known[1])
    return (*others, (track, entered))[-MAX_TRACKS:]


def longest_dwell(entries: tuple[Sample, ...], now: datetime) -> float:
    return max((now.timestamp() - entered for _, entered in entries), default=0.0)


class LoiteringEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        expect(rule, LoiteringRule)
        if not isinstance(observation, DetectionSample) or is_stale(state, observation.at):
            return Step(state)
        entries = update_entries(state.samples, observation)
        return self._judge(rule, replace(state, samples=entries, last_seen=observation.at), observation.at)

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return self._judge(rule, state, now)

    def _judge(self, rule: RuleBase, state: RuleState, at: datetime) -> Step:
        over = expect(rule, LoiteringRule).over.total_seconds()
        dwell = longest_dwell(state.samples, at)
        loitering = bool(state.samples) and dwell >= over
        judged = replace(state, value=round(dwell, 1)) if loitering else state
        return advance(judged, raising=loitering, clearing=not loitering, at=at, raise_for=ZERO, clear_for=ZERO)
