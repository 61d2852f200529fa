"""Rate of change: the value rose (or fell) by more than a given amount within a time window."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.config.rules import RateOfChangeRule, RuleBase
from server.alerts.evaluators.base import expect, is_stale
from server.alerts.observations import Observation, SensorSample
from server.alerts.state import ZERO, RuleState, Sample, Step, advance

MAX_SAMPLES = 1024


def window_samples(samples: tuple[Sample, ...], newest: Sample, window_s: float) -> tuple[Sample, ...]:
    """The samples inside the window ending at `newest`, newest last, at most MAX_SAMPLES."""
    start = newest[0] - window_s
    kept = tuple(sample for sample in samples if sample[0] >= start)
    return (*kept, newest)[-MAX_SAMPLES:]


def changed_too_much(rule: RateOfChangeRule, samples: tuple[Sample, ...]) -> bool:
    value = samples[-1][1]
    values = [sample[1] for sample in samples]
    rose = rule.rise is not None and value - min(values) >= rule.rise
    fell = rule.fall is not None and max(values) - value >= rule.fall
    return rose or fell


class RateOfChangeEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        rate = expect(rule, RateOfChangeRule)
        if not isinstance(observation, SensorSample) or is_stale(state, observation.at):
            return Step(state)
        newest = (observation.at.timestamp(), observation.value)
        samples = window_samples(state.samples, newest, rate.window.total_seconds())
        seen = replace(state, value=observation.value, last_seen=observation.at, samples=samples)
        too_much = changed_too_much(rate, samples)
        return advance(seen, raising=too_much, clearing=not too_much, at=observation.at, raise_for=ZERO, clear_for=ZERO)

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return Step(state)
