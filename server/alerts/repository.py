"""Where the engine keeps alerts, history, rule phases and silences: a protocol and an in-memory
implementation (tests, API-only runs); `pg_repository.py` is the PostgreSQL one."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.alerts.core import StateKey
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, AlertChange, HistoryEntry
from server.alerts.state import RuleState
from server.notify.mqtt import RetainedResolved
from server.notify.webhook import DeadLetter

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


@dataclass
class Restored:
    alerts: list[Alert] = field(default_factory=list)
    states: dict[StateKey, RuleState] = field(default_factory=dict)
    silences: list[SilenceRecord] = field(default_factory=list)


class AlertRepository(Protocol):
    async def restore(self) -> Restored: ...

    async def save(self, changes: Sequence[AlertChange], states: dict[StateKey, RuleState | None]) -> None: ...

    async def save_silence(self, silence: SilenceRecord) -> None: ...

    async def save_dead_letter(self, letter: DeadLetter) -> None: ...

    async def retained_resolved(self, channel_id: str) -> list[RetainedResolved]: ...

    async def save_retained_resolved(self, entry: RetainedResolved) -> None: ...

    async def forget_retained_resolved(self, channel_id: str, alert_ids: Sequence[str]) -> None: ...

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
    return fresh and all(want is None or want == have for want, have in wanted)


class MemoryRepository:
    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._history: deque[HistoryEntry] = deque(maxlen=MAX_MEMORY_HISTORY)
        self._states: dict[StateKey, RuleState] = {}
        self._silences: dict[str, SilenceRecord] = {}
        self.dead_letters: deque[DeadLetter] = deque(maxlen=1000)
        self._retained: dict[tuple[str, str], RetainedResolved] = {}

    async def restore(self) -> Restored:
        alerts = [alert for alert in self._alerts.values() if alert.open]
        return Restored(alerts, dict(self._states), list(self._silences.values()))

    async def save(self, changes: Sequence[AlertChange], states: dict[StateKey, RuleState | None]) -> None:
        for change in changes:
            if change.alert is not None:
                self._alerts[change.alert.id] = change.alert
            self._history.append(change.entry)
        while len(self._alerts) > MAX_MEMORY_ALERTS:
            del self._alerts[next(iter(self._alerts))]
        for key, state in states.items():
            if state is None:
                self._states.pop(key, None)
            else:
                self._states[key] = state

    async def save_silence(self, silence: SilenceRecord) -> None:
        self._silences[silence.id] = silence

    async def save_dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)

    async def retained_resolved(self, channel_id: str) -> list[RetainedResolved]:
        return [entry for (channel, _), entry in self._retained.items() if channel == channel_id]

    async def save_retained_resolved(self, entry: RetainedResolved) -> None:
        self._retained[(entry.channel_id, entry.alert_id)] = entry

    async def forget_retained_resolved(self, channel_id: str, alert_ids: Sequence[str]) -> None:
        for alert_id in alert_ids:
            self._retained.pop((channel_id, alert_id), None)

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        found = [alert for alert in self._alerts.values() if query_matches(alert, query)]
        return sorted(found, key=lambda alert: alert.started_at, reverse=True)[: query.limit]

    async def alert(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        return [entry for entry in self._history if entry.alert_id == alert_id]
