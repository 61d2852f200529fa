"""Where the engine keeps alerts, history, rule phases, silences and its evaluation cursor: a
protocol and an in-memory implementation (tests, API-only runs); `pg_repository.py` is the
PostgreSQL one. One `Commit` is one transaction: the changes, their outbox rows, the rule phases
and the cursor are saved together or not at all."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.alerts.core import StateKey
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, AlertChange, HistoryEntry
from server.alerts.state import RuleState
from server.notify.outbox import Delivery, MemoryOutbox

MAX_MEMORY_ALERTS = 10_000
MAX_MEMORY_HISTORY = 100_000


@dataclass(frozen=True, slots=True)
class AlertQuery:
    state: str | None = None
    rule_id: str | None = None
    site: str | None = None
    severity: str | None = None
    subject: str | None = None
    since: datetime | None = None
    limit: int = 100
    sites: frozenset[str] | None = None  # a scoped caller's sites (None: every site), applied before the limit


@dataclass(frozen=True, slots=True)
class EvaluationCursor:
    """The ingest time of the last stored reading and event the engine evaluated."""

    readings: datetime | None = None
    events: datetime | None = None

    def after_readings(self, received_at: datetime) -> EvaluationCursor:
        moved = self.readings is None or received_at > self.readings
        return EvaluationCursor(received_at, self.events) if moved else self

    def after_events(self, received_at: datetime) -> EvaluationCursor:
        moved = self.events is None or received_at > self.events
        return EvaluationCursor(self.readings, received_at) if moved else self


@dataclass
class Restored:
    alerts: list[Alert] = field(default_factory=list)
    states: dict[StateKey, RuleState] = field(default_factory=dict)
    silences: list[SilenceRecord] = field(default_factory=list)
    cursor: EvaluationCursor | None = None


@dataclass
class Commit:
    """One engine step to save in one transaction (`cursor` None: unchanged)."""

    changes: list[AlertChange] = field(default_factory=list)
    states: dict[StateKey, RuleState | None] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    cursor: EvaluationCursor | None = None

    def __bool__(self) -> bool:
        return bool(self.changes or self.states or self.deliveries or self.cursor)


class AlertRepository(Protocol):
    async def restore(self) -> Restored: ...

    async def save(self, commit: Commit) -> None: ...

    async def save_silence(self, silence: SilenceRecord) -> None: ...

    async def alerts(self, query: AlertQuery) -> list[Alert]: ...

    async def alert(self, alert_id: str) -> Alert | None: ...

    async def history(self, alert_id: str) -> list[HistoryEntry]: ...


def query_matches(alert: Alert, query: AlertQuery) -> bool:
    wanted = (
        (query.state, alert.state),
        (query.rule_id, alert.rule_id),
        (query.site, alert.site),
        (query.severity, alert.severity),
        (query.subject, alert.subject),
    )
    fresh = query.since is None or alert.started_at >= query.since
    in_sites = query.sites is None or alert.site in query.sites
    return fresh and in_sites and all(want is None or want == have for want, have in wanted)


class MemoryRepository:
    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.outbox = outbox or MemoryOutbox()
        self.cursor: EvaluationCursor | None = None
        self._alerts: dict[str, Alert] = {}
        self._history: deque[HistoryEntry] = deque(maxlen=MAX_MEMORY_HISTORY)
        self._states: dict[StateKey, RuleState] = {}
        self._silences: dict[str, SilenceRecord] = {}

    async def restore(self) -> Restored:
        alerts = [alert for alert in self._alerts.values() if alert.open]
        return Restored(alerts, dict(self._states), list(self._silences.values()), self.cursor)

    async def save(self, commit: Commit) -> None:
        for change in commit.changes:
            if change.alert is not None:
                self._alerts[change.alert.id] = change.alert
            self._history.append(change.entry)
        while len(self._alerts) > MAX_MEMORY_ALERTS:
            del self._alerts[next(iter(self._alerts))]
        for key, state in commit.states.items():
            if state is None:
                self._states.pop(key, None)
            else:
                self._states[key] = state
        self.outbox.add(commit.deliveries)
        self.cursor = commit.cursor or self.cursor

    async def save_silence(self, silence: SilenceRecord) -> None:
        self._silences[silence.id] = silence

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        found = [alert for alert in self._alerts.values() if query_matches(alert, query)]
        return sorted(found, key=lambda alert: alert.started_at, reverse=True)[: query.limit]

    async def alert(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        return [entry for entry in self._history if entry.alert_id == alert_id]
