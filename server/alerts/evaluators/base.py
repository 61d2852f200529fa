"""The evaluator protocol: pure functions of (rule, state, observation or time)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from contract.config.rules import RuleBase
from server.alerts.observations import Observation
from server.alerts.state import RuleState, Step

R = TypeVar("R", bound=RuleBase)


class Evaluator(Protocol):
    """Never reads the clock: the observation carries its time, `tick` receives `now`."""

    def observe(self, rule: RuleBase, state: RuleState, observation: Observation) -> Step: ...

    def tick(self, rule: RuleBase, state: RuleState, now: datetime) -> Step: ...


class WrongRuleError(TypeError):
    """An evaluator was handed a rule of another kind (a registry bug, never bad input)."""


def expect(rule: RuleBase, kind: type[R]) -> R:
    if not isinstance(rule, kind):
        raise WrongRuleError(f"{kind.__name__} evaluator got {type(rule).__name__} '{rule.id}'")
    return rule


def is_stale(state: RuleState, at: datetime) -> bool:
    """A redelivered or out-of-order observation (older than the last one seen) changes nothing."""
    return state.last_seen is not None and at < state.last_seen
