"""Line crossings: more than `count_over` crossings (in the chosen direction) within `window`.

Only the newest `count_over + 1` crossing times are kept: the count exceeds N exactly when the
(N+1)-th newest crossing is still inside the window.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.config.rules import LineCrossedRule, RuleBase
from server.alerts.evaluators.base import expect
from server.alerts.observations import DetectionSample, Observation
from server.alerts.state import ZERO, RuleState, Sample, Step, advance

MAX_KEPT = 100_001


def in_window(samples: tuple[Sample, ...], now: datetime, window_s: float) -> tuple[Sample, ...]:
    start = now.timestamp() - window_s
    return tuple(sample for sample in samples if sample[0] >= start)


class LineCrossedEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        line = expect(rule, LineCrossedRule)
        if not isinstance(observation, DetectionSample) or observation.kind != "line_crossed":
            return Step(state)
        if line.direction not in ("both", observation.direction):
            return Step(state)
        keep = min(line.count_over + 1, MAX_KEPT)
        samples = sorted((*state.samples, (observation.at.timestamp(), 1.0)))[-keep:]
        latest = max(observation.at, state.last_seen) if state.last_seen else observation.at
        return self._judge(line, replace(state, samples=tuple(samples), last_seen=latest), latest)

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        return self._judge(expect(rule, LineCrossedRule), state, now)

    def _judge(self, line: LineCrossedRule, state: RuleState, at: datetime) -> Step:
        samples = in_window(state.samples, at, line.window.total_seconds())
        busy = len(samples) > line.count_over
        counted = replace(state, samples=samples, value=float(len(samples)))
        return advance(counted, raising=busy, clearing=not busy, at=at, raise_for=ZERO, clear_for=ZERO)
