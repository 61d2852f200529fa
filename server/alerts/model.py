"""Alerts, their history entries, and the changes the engine hands to persistence and delivery."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from contract.config.rules import Severity
from contract.payloads import AlertPayload, AlertState

Action = Literal[
    "pending", "firing", "member", "withdrawn", "acknowledged", "assigned", "resolved", "repeat", "escalated"
]
OPEN_STATES: frozenset[AlertState] = frozenset({"pending", "firing", "acknowledged"})


def fingerprint(rule_id: str, group: Iterable[tuple[str, str]]) -> str:
    """Deduplication key: the rule and the values of its `group_by` labels (by default the subject)."""
    text = "\x1f".join([rule_id, *(f"{name}={value}" for name, value in group)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


ALERT_ID_NAMESPACE = uuid.UUID("5b0f7c1e-4a53-4c39-9a43-10c0a1e27e00")


def alert_id(fingerprint_value: str, started_at: datetime) -> str:
    """A UUID stable for a fingerprint and start time (a replay makes the same id)."""
    return str(uuid.uuid5(ALERT_ID_NAMESPACE, f"{fingerprint_value}:{int(started_at.timestamp() * 1000)}"))


@dataclass(slots=True)
class Alert:
    """One occurrence of a rule's condition for a fingerprint, from pending to resolved."""

    id: str
    fingerprint: str
    rule_id: str
    severity: Severity
    subject: str
    site: str | None
    summary: str
    labels: dict[str, str]
    state: AlertState
    started_at: datetime
    updated_at: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    value: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    assignee: str | None = None
    resolved_by: str | None = None
    members: set[str] = field(default_factory=set)
    pending_members: set[str] = field(default_factory=set)
    last_notified_at: datetime | None = None
    escalated_at: datetime | None = None
    muted_by: str | None = None
    notified_at: datetime | None = None
    """server time of the first push to responders: escalation counts from it (not device time)"""

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    def payload(self) -> AlertPayload:
        labels = dict(self.labels)
        if self.muted_by:
            labels["muted_by"] = self.muted_by
        if self.escalated_at is not None:
            labels["escalated"] = "true"
        return AlertPayload(
            id=self.id,
            fingerprint=self.fingerprint,
            rule_id=self.rule_id,
            state=self.state,
            severity=self.severity,
            subject=self.subject,
            site=self.site,
            summary=self.summary,
            value=self.value,
            started_at=self.started_at,
            updated_at=self.updated_at,
            resolved_at=self.resolved_at,
            acknowledged_by=self.acknowledged_by,
            assignee=self.assignee,
            labels=labels,
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    alert_id: str
    at: datetime
    action: Action
    state: AlertState
    actor: str | None = None
    note: str | None = None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert changed: store the snapshot and history entry; push to `notify` channels (not muted)."""

    payload: AlertPayload
    entry: HistoryEntry
    notify: tuple[str, ...] = ()
    alert: Alert | None = field(default=None, compare=False, repr=False)

    @property
    def action(self) -> Action:
        return self.entry.action
