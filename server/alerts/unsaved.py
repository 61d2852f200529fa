"""Engine steps whose save failed: kept in order and saved first with the next step.

The in-memory book has already moved on (an alert is firing, `escalated_at` is set), so a failed
save must not lose the step: its changes, rule phases and outbox rows wait here and go into the
next transaction (the ticker retries every second). Until then nothing of them is delivered
(deliveries start after the commit) and the evaluation cursor is not saved past them, so a crash
meanwhile re-evaluates the same stored data at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from server.alerts.core import StateKey
from server.alerts.model import AlertChange
from server.alerts.repository import Commit, EvaluationCursor
from server.alerts.state import RuleState
from server.notify.outbox import Delivery

logger = logging.getLogger(__name__)

MAX_UNSAVED = 10_000
Step = tuple[AlertChange, list[Delivery]]


class UnsavedSteps:
    def __init__(self, limit: int = MAX_UNSAVED) -> None:
        self.limit = limit
        self._steps: list[Step] = []
        self._states: dict[StateKey, RuleState | None] = {}
        self.dropped = 0
        self.failures = 0
        self._failing_since_attempts = 0

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, steps: Sequence[Step], states: dict[StateKey, RuleState | None]) -> None:
        self._steps.extend(steps)
        self._states.update(states)
        overflow = len(self._steps) - self.limit
        if overflow > 0:
            del self._steps[:overflow]
            self.dropped += overflow
            logger.error(
                "alert engine: %s unsaved changes dropped (more than %s wait for the database)", overflow, self.limit
            )

    def commit(self, cursor: EvaluationCursor | None) -> Commit:
        changes = [change for change, _ in self._steps]
        deliveries = [delivery for _, found in self._steps for delivery in found]
        return Commit(changes, dict(self._states), deliveries, cursor)

    def take(self) -> list[Step]:
        """After a successful save: the steps to dispatch, in order."""
        steps, self._steps, self._states = self._steps, [], {}
        return steps

    def failed(self, exc: Exception) -> None:
        """Count every failed save; log the first of a run (with the recovery logged by `saved`)."""
        self.failures += 1
        self._failing_since_attempts += 1
        if self._failing_since_attempts == 1:
            logger.error(
                "alert engine: saving %s changes failed (%s: %s); kept in memory, retried every tick",
                len(self._steps),
                type(exc).__name__,
                exc,
            )

    def saved(self, count: int) -> None:
        if self._failing_since_attempts:
            logger.info(
                "alert engine: saved again after %s failed attempts; %s waiting changes written",
                self._failing_since_attempts,
                count,
            )
        self._failing_since_attempts = 0
