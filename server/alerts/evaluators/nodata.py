"""No data: a sensor or camera sent nothing for `after` (judged on arrival time, at each tick)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contract.config.rules import NoDataRule, RuleBase
from server.alerts.evaluators.base import expect
from server.alerts.observations import Observation, arrival
from server.alerts.state import ZERO, RuleState, Step, advance


class NoDataEvaluator:
    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step:
        expect(rule, NoDataRule)
        at = arrival(observation)
        if state.last_seen is not None and at < state.last_seen:
            return Step(state)
        seen = replace(state, last_seen=at)
        return advance(seen, raising=False, clearing=True, at=at, raise_for=ZERO, clear_for=ZERO)

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step:
        no_data = expect(rule, NoDataRule)
        if state.last_seen is None:
            return Step(replace(state, last_seen=now))
        silent = now - state.last_seen >= no_data.after
        return advance(state, raising=silent, clearing=not silent, at=now, raise_for=ZERO, clear_for=ZERO)
