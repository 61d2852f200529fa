"""Camera offline: the edge reported the camera offline (or in error) for `for`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.config.rules import CameraOfflineRule, RuleBase
from server.alerts.evaluators.base import expect, is_stale
from server.alerts.observations import CameraSample, Observation
from server.alerts.state import ZERO, RuleState, Step, advance, elapse

DOWN_STATES = frozenset({"offline", "error"})
UP_STATES = frozenset({"online", "disabled"})


class CameraOfflineEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        offline = expect(rule, CameraOfflineRule)
        if not isinstance(observation, CameraSample) or is_stale(state, observation.at):
            return Step(state)
        seen = replace(state, last_seen=observation.at)
        down, up = observation.state in DOWN_STATES, observation.state in UP_STATES
        if not down and not up:  # "connecting": no change either way
            return elapse(seen, observation.at, offline.for_, ZERO)
        return advance(seen, raising=down, clearing=up, at=observation.at, raise_for=offline.for_, clear_for=ZERO)

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return elapse(state, now, expect(rule, CameraOfflineRule).for_, ZERO)
