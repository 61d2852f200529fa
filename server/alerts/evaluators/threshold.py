"""Threshold with hysteresis: separate raise and clear levels, each held for its own duration.

Durations are judged on readings: the rule fires on the first reading at least `raise.for` after
the first reading that met the raise level, with no reading in between that broke it.
"""

from __future__ import annotations

from datetime import datetime

from contract.config.rules import Bound, RuleBase, ThresholdRule
from server.alerts.evaluators.base import expect, is_stale
from server.alerts.observations import Observation, SensorSample
from server.alerts.state import RuleState, Step, advance


def bound_holds(bound: Bound, value: float) -> bool:
    if bound.above is not None:
        return value > bound.above
    return bound.below is not None and value < bound.below


class ThresholdEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        threshold = expect(rule, ThresholdRule)
        if not isinstance(observation, SensorSample) or is_stale(state, observation.at):
            return Step(state)
        value = observation.value
        seen = state.seen(value, observation.at)
        return advance(
            seen,
            raising=bound_holds(threshold.raise_, value),
            clearing=bound_holds(threshold.clear, value),
            at=observation.at,
            raise_for=threshold.raise_.for_,
            clear_for=threshold.clear.for_,
        )

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return Step(state)
