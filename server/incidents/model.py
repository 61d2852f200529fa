"""Incidents, their timeline entries, and the changes the desk hands to persistence and delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from contract.config.rules import Severity

IncidentState = Literal["open", "acknowledged", "in_progress", "resolved", "closed"]
EntryKind = Literal["opened", "alert", "linked", "unlinked", "state", "assigned", "severity", "comment",
                    "attachment", "step", "override", "escalation"]  # fmt: skip
ACTIVE_STATES: frozenset[IncidentState] = frozenset({"open", "acknowledged", "in_progress"})
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    "open": frozenset({"acknowledged", "in_progress", "resolved"}),
    "acknowledged": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"resolved"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
}
SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


def highest(severities: list[Severity]) -> Severity:
    return max(severities, key=SEVERITY_RANK.__getitem__) if severities else "info"


@dataclass(slots=True)
class LinkedAlert:
    alert_id: str
    rule_id: str
    subject: str
    severity: Severity
    state: str
    linked_at: datetime


@dataclass(slots=True)
class StepDone:
    step_id: str
    by: str
    at: datetime


@dataclass(slots=True)
class Escalation:
    """Where an incident's escalation stands: the next level (index) of `round`, due at `next_at`
    (None: nothing due); `stale` rounds re-notify an acknowledged incident without progress."""

    policy_id: str | None
    level: int = 0
    round: int = 0
    next_at: datetime | None = None
    stale: int = 0


@dataclass(slots=True)
class Incident:
    id: str
    type: str
    title: str
    site: str | None
    state: IncidentState
    opened_at: datetime
    updated_at: datetime
    opened_by: str
    group_key: str | None = None
    sop_id: str | None = None
    severity_set: Severity | None = None
    assignee: str | None = None
    alerts: dict[str, LinkedAlert] = field(default_factory=dict)
    steps: dict[str, StepDone] = field(default_factory=dict)
    override_reason: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    last_alert_at: datetime | None = None
    progressed_at: datetime | None = None
    escalation: Escalation = field(default_factory=lambda: Escalation(None))

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def severity(self) -> Severity:
        """As set by an operator, else the highest of its alerts (unlinked ones no longer count)."""
        return self.severity_set or highest([alert.severity for alert in self.alerts.values()])

    def public(self) -> dict[str, Any]:
        """The JSON shape of the API and the WebSocket stream."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "site": self.site,
            "state": self.state,
            "severity": self.severity,
            "severity_set": self.severity_set,
            "assignee": self.assignee,
            "sop_id": self.sop_id,
            "opened_at": self.opened_at.isoformat(),
            "opened_by": self.opened_by,
            "updated_at": self.updated_at.isoformat(),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "closed_at": _iso(self.closed_at),
            "closed_by": self.closed_by,
            "override_reason": self.override_reason,
            "alerts": [
                {"id": a.alert_id, "rule_id": a.rule_id, "subject": a.subject, "severity": a.severity, "state": a.state}
                for a in self.alerts.values()
            ],
            "steps_done": {s.step_id: {"by": s.by, "at": s.at.isoformat()} for s in self.steps.values()},
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    incident_id: str
    at: datetime
    kind: EntryKind
    actor: str | None
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "actor": self.actor, "text": self.text, "data": self.data}


@dataclass(frozen=True, slots=True)
class Notification:
    """One escalation notice for one incident: the channels of one level, with stable delivery ids."""

    incident_id: str
    kind: Literal["escalation", "stale"]
    level: int
    round: int
    channels: tuple[str, ...]


@dataclass(slots=True)
class IncidentChange:
    """An incident changed: save its row, alert links and new timeline entries (and escalation
    notices with their outbox rows) in one transaction, then tell the dashboard."""

    incident: Incident
    entries: list[TimelineEntry]
    notices: list[Notification] = field(default_factory=list)
