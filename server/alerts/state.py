"""Rule state per (rule, subject) and the generic raise/clear state machine the evaluators share.

    idle --raise holds--> pending --held `raise for`--> firing --clear holds--> clearing
     ^                      |                             ^                        |
     +-------- raise stops -+                             +--- clear stops --------+
     +---------------------------------- held `clear for` ---------------------------+

Everything is a pure function of (state, condition, time): no clock is read here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Phase = Literal["idle", "pending", "firing", "clearing"]
Transition = Literal["pending", "fire", "cancel", "resolve"]
Sample = tuple[float, float]  # (epoch seconds, value)

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class RuleState:
    """What one rule remembers about one subject. Only phase/since/fired_at are persisted."""

    phase: Phase = "idle"
    since: datetime | None = None
    fired_at: datetime | None = None
    value: float | None = None
    last_seen: datetime | None = None
    samples: tuple[Sample, ...] = ()
    tracks: frozenset[int] = frozenset()

    @property
    def active(self) -> bool:
        """Firing (or firing while the clear condition waits out its duration)."""
        return self.phase in ("firing", "clearing")

    def durable_key(self) -> tuple[Phase, datetime | None, datetime | None]:
        return (self.phase, self.since, self.fired_at)

    def seen(self, value: float, at: datetime) -> RuleState:
        """This state with a new reading: `replace(state, value=, last_seen=)` without its
        per-call field introspection (about 4x the cost on the per-reading path)."""
        return RuleState(self.phase, self.since, self.fired_at, value, at, self.samples, self.tracks)


@dataclass(frozen=True, slots=True)
class Step:
    """An evaluator's answer: the new state and the transition it caused, if any."""

    state: RuleState
    transition: Transition | None = None


def _held(since: datetime | None, at: datetime, needed: timedelta) -> bool:
    return since is not None and at - since >= needed


def _start_raise(state: RuleState, at: datetime, raise_for: timedelta) -> Step:
    if raise_for <= ZERO:
        return Step(replace(state, phase="firing", since=None, fired_at=at), "fire")
    return Step(replace(state, phase="pending", since=at), "pending")


def _start_clear(state: RuleState, at: datetime, clear_for: timedelta) -> Step:
    if clear_for <= ZERO:
        return Step(replace(state, phase="idle", since=None, fired_at=None), "resolve")
    return Step(replace(state, phase="clearing", since=at))


def advance(
    state: RuleState, *, raising: bool, clearing: bool, at: datetime, raise_for: timedelta, clear_for: timedelta
) -> Step:
    """Move the state machine for one observation at `at` where the conditions were evaluated."""
    if state.phase == "idle":
        return _start_raise(state, at, raise_for) if raising else Step(state)
    if state.phase == "pending":
        if not raising:
            return Step(replace(state, phase="idle", since=None), "cancel")
        return elapse(state, at, raise_for, clear_for)
    if state.phase == "firing":
        return _start_clear(state, at, clear_for) if clearing else Step(state)
    if not clearing:
        return Step(replace(state, phase="firing", since=None))
    return elapse(state, at, raise_for, clear_for)


def elapse(state: RuleState, at: datetime, raise_for: timedelta, clear_for: timedelta) -> Step:
    """Time passed with the conditions unchanged: a pending state may fire, a clearing one resolve."""
    if state.phase == "pending" and _held(state.since, at, raise_for):
        return Step(replace(state, phase="firing", since=None, fired_at=at), "fire")
    if state.phase == "clearing" and _held(state.since, at, clear_for):
        return Step(replace(state, phase="idle", since=None, fired_at=None), "resolve")
    return Step(state)


def reset(state: RuleState) -> RuleState:
    """Back to idle (after a manual resolve): the raise condition must hold again to fire."""
    return replace(state, phase="idle", since=None, fired_at=None)
