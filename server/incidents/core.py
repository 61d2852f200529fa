"""The incident desk: pure, clock-injected (every call takes `now`), no I/O.

It consumes alert changes (`on_alert`): an alert of a rule with `incident:` joins the active
incident of its group (same site, or same rule group) whose last alert is within the window, or
opens one. Operators open incidents from any alert, link and unlink alerts, move the state
(open -> acknowledged -> in progress -> resolved -> closed; resolved may reopen), assign, comment,
attach, tick SOP steps, override the SOP gate with a reason, and set the severity. Each call
returns the `IncidentChange` to save: the incident and its new timeline entries.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from contract.config.incidents import EscalationPolicy
from contract.config.root import StreamsConfig
from contract.config.rules import Severity
from contract.payloads import AlertPayload
from server.incidents import escalation
from server.incidents.model import (
    TRANSITIONS,
    EntryKind,
    Incident,
    IncidentChange,
    IncidentState,
    LinkedAlert,
    StepDone,
    TimelineEntry,
)
from server.incidents.policy import escalation_for, grouping_of, sop_for

SYSTEM = "system"
MAX_SETTLED = 100_000
OPENING_STATES = frozenset({"firing"})


class IncidentError(Exception):
    """An operator's request that cannot apply (the API answers 404 / 409 / 422)."""


class IncidentNotFoundError(IncidentError):
    pass


class TransitionError(IncidentError):
    pass


class SopGateError(IncidentError):
    """Closing with required SOP steps open, without an override."""


class UnknownStepError(IncidentError):
    pass


class IncidentDesk:
    def __init__(self, config: StreamsConfig, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.config = config
        self.new_id = new_id
        self.incidents: dict[str, Incident] = {}
        self.by_alert: dict[str, str] = {}
        self.by_group: dict[str, str] = {}
        """group key -> its latest incident (what a new alert of the group may join)"""
        self.settled: OrderedDict[str, str] = OrderedDict()
        """alerts of closed incidents (alert id -> incident id), bounded: a closed incident keeps its
        alerts (one that still fires opens nothing new) until they resolve"""

    # ----------------------------------------------------------------- state

    def load(self, incidents: Iterable[Incident], settled: Iterable[tuple[str, str]] = ()) -> None:
        """The incidents not closed, as saved (at start), and the (alert, incident) pairs of closed
        incidents whose alerts may still be open."""
        for alert_id, incident_id in settled:
            self._settle(alert_id, incident_id)
        for incident in incidents:
            self._keep(incident)

    def reload(self, config: StreamsConfig) -> None:
        self.config = config

    def get(self, incident_id: str) -> Incident:
        found = self.incidents.get(incident_id)
        if found is None:
            raise IncidentNotFoundError(incident_id)
        return found

    def _keep(self, incident: Incident) -> None:
        if incident.state == "closed":
            self.incidents.pop(incident.id, None)
            for alert_id, linked in incident.alerts.items():
                self.by_alert.pop(alert_id, None)
                if linked.state != "resolved":
                    self._settle(alert_id, incident.id)
            return
        self.incidents[incident.id] = incident
        for alert_id in incident.alerts:
            self.by_alert[alert_id] = incident.id
            self.settled.pop(alert_id, None)
        if incident.group_key is not None and incident.active:
            latest = self.incidents.get(self.by_group.get(incident.group_key, ""))
            if latest is None or not latest.active or latest.opened_at <= incident.opened_at:
                self.by_group[incident.group_key] = incident.id

    def evict_resolved(self, before: datetime) -> int:
        """Forget incidents resolved before `before` (they stay in the database; acting on one
        loads it again): memory holds the active incidents and the recently resolved ones."""
        old = [i for i in self.incidents.values() if i.state == "resolved" and i.resolved_at and i.resolved_at < before]
        for incident in old:
            del self.incidents[incident.id]
            for alert_id, linked in incident.alerts.items():
                self.by_alert.pop(alert_id, None)
                if linked.state != "resolved":
                    self._settle(alert_id, incident.id)
        return len(old)

    def _settle(self, alert_id: str, incident_id: str) -> None:
        self.settled[alert_id] = incident_id
        while len(self.settled) > MAX_SETTLED:
            self.settled.popitem(last=False)

    def owner(self, alert_id: str) -> str | None:
        """The incident an alert is in (active or closed), if any."""
        return self.by_alert.get(alert_id) or self.settled.get(alert_id)

    def policy_of(self, incident: Incident) -> EscalationPolicy | None:
        policy_id = incident.escalation.policy_id
        return None if policy_id is None else self.config.escalation(policy_id)

    # ----------------------------------------------------------------- alert changes

    def on_alert(self, alert: AlertPayload, action: str, now: datetime) -> IncidentChange | None:
        """An alert changed: follow it in its incident, or open / join one when its rule says so."""
        incident_id = self.by_alert.get(alert.id)
        if incident_id is not None and incident_id in self.incidents:
            return self._follow(self.incidents[incident_id], alert, action, now)
        if alert.id in self.settled:  # its incident is closed: it opens nothing new
            if alert.state == "resolved":
                self.settled.pop(alert.id)
            return None
        if alert.state not in OPENING_STATES:
            return None
        grouping = grouping_of(self.config, alert.rule_id, alert.site)
        if grouping is None:
            return None
        joined = self._group_incident(grouping.key, grouping.window.total_seconds(), now)
        if joined is not None:
            return self._link(joined, alert, SYSTEM, now)
        return self._open(alert, SYSTEM, now, grouping.type, grouping.key)

    def _group_incident(self, key: str, window_s: float, now: datetime) -> Incident | None:
        """The group's latest incident, if still active and its last alert within the window."""
        incident = self.incidents.get(self.by_group.get(key, ""))
        if incident is None or not incident.active or incident.last_alert_at is None:
            return None
        return incident if (now - incident.last_alert_at).total_seconds() <= window_s else None

    def _follow(self, incident: Incident, alert: AlertPayload, action: str, now: datetime) -> IncidentChange | None:
        linked = incident.alerts[alert.id]
        if linked.state == alert.state and linked.severity == alert.severity:
            return None
        linked.state, linked.severity = alert.state, alert.severity
        incident.updated_at = now
        if alert.state in OPENING_STATES:
            incident.last_alert_at = now
        data = {"alert_id": alert.id, "action": action, "state": alert.state, "subject": alert.subject}
        return self._change(incident, self._entry(incident, now, "alert", alert.acknowledged_by, alert.summary, data))

    # ----------------------------------------------------------------- operator actions

    def open_from_alert(
        self, alert: AlertPayload, by: str, now: datetime, incident_type: str | None = None
    ) -> IncidentChange:
        owner = self.owner(alert.id)
        if owner is not None:
            raise TransitionError(f"alert {alert.id} is already in incident {owner}")
        grouping = grouping_of(self.config, alert.rule_id, alert.site)
        chosen = incident_type or (grouping.type if grouping else alert.rule_id)
        return self._open(alert, by, now, chosen, grouping.key if grouping else None)

    def link(self, incident_id: str, alert: AlertPayload, by: str, now: datetime) -> IncidentChange:
        incident = self._editable(incident_id)
        owner = self.owner(alert.id)
        if owner is not None:
            raise TransitionError(f"alert {alert.id} is already in incident {owner}")
        return self._link(incident, alert, by, now)

    def unlink(self, incident_id: str, alert_id: str, by: str, now: datetime) -> IncidentChange:
        incident = self._editable(incident_id)
        linked = incident.alerts.pop(alert_id, None)
        if linked is None:
            raise IncidentNotFoundError(f"alert {alert_id} is not in incident {incident_id}")
        self.by_alert.pop(alert_id, None)
        data = {"alert_id": alert_id, "subject": linked.subject}
        return self._acted(incident, by, now, "unlinked", None, data)

    def transition(
        self, incident_id: str, to: IncidentState, by: str, now: datetime, note: str | None = None
    ) -> IncidentChange:
        incident = self.get(incident_id)
        if to not in TRANSITIONS[incident.state]:
            raise TransitionError(f"incident {incident_id} is {incident.state}: it cannot become {to}")
        if to == "closed":
            self._check_sop(incident)
        before = incident.state
        incident.state = to
        self._stamp(incident, to, by, now)
        change = self._acted(incident, by, now, "state", note, {"from": before, "to": to})
        self._keep(incident)
        return change

    def assign(self, incident_id: str, assignee: str, by: str, now: datetime) -> IncidentChange:
        incident = self._editable(incident_id)
        incident.assignee = assignee
        return self._acted(incident, by, now, "assigned", None, {"assignee": assignee})

    def comment(self, incident_id: str, text: str, by: str, now: datetime) -> IncidentChange:
        return self._acted(self.get(incident_id), by, now, "comment", text, {})

    def attach(self, incident_id: str, kind: str, ref: str, by: str, now: datetime) -> IncidentChange:
        """An attached snapshot (an event id) or clip: a timeline entry pointing at it."""
        return self._acted(self.get(incident_id), by, now, "attachment", None, {"kind": kind, "ref": ref})

    def set_severity(self, incident_id: str, severity: Severity | None, by: str, now: datetime) -> IncidentChange:
        incident = self._editable(incident_id)
        incident.severity_set = severity
        return self._acted(incident, by, now, "severity", None, {"severity": severity or "auto"})

    def tick_step(self, incident_id: str, step_id: str, done: bool, by: str, now: datetime) -> IncidentChange:
        incident = self._editable(incident_id)
        sop = self.config.sop(incident.sop_id) if incident.sop_id else None
        if sop is None or all(step.id != step_id for step in sop.steps):
            raise UnknownStepError(f"incident {incident_id} has no SOP step {step_id}")
        if done:
            incident.steps[step_id] = StepDone(step_id, by, now)
        else:
            incident.steps.pop(step_id, None)
        return self._acted(incident, by, now, "step", None, {"step": step_id, "done": done})

    def override(self, incident_id: str, reason: str, by: str, now: datetime) -> IncidentChange:
        """Allow closing with required steps open; the reason is in the timeline."""
        incident = self._editable(incident_id)
        if not reason.strip():
            raise TransitionError("an override needs a reason")
        incident.override_reason = reason
        return self._acted(incident, by, now, "override", reason, {"open_steps": self.open_required_steps(incident)})

    def open_required_steps(self, incident: Incident) -> list[str]:
        sop = self.config.sop(incident.sop_id) if incident.sop_id else None
        if sop is None:
            return []
        return [step.id for step in sop.steps if step.required and step.id not in incident.steps]

    # ----------------------------------------------------------------- escalation

    def due_notices(self, now: datetime) -> list[IncidentChange]:
        """Every incident's escalation notice due now, with its timeline entry."""
        changes: list[IncidentChange] = []
        for incident in list(self.incidents.values()):
            notice = escalation.due(incident, self.policy_of(incident), now)
            if notice is None:
                continue
            data: dict[str, Any] = {"notice": notice.kind, "level": notice.level, "round": notice.round}
            data["channels"] = list(notice.channels)
            entry = self._entry(incident, now, "escalation", SYSTEM, None, data)
            changes.append(IncidentChange(incident, [entry], [notice]))
        return changes

    # ----------------------------------------------------------------- helpers

    def _open(self, alert: AlertPayload, by: str, now: datetime, incident_type: str, key: str | None) -> IncidentChange:
        grouping = grouping_of(self.config, alert.rule_id, alert.site)
        options = grouping.options if grouping else None
        sop = sop_for(self.config, incident_type, options)
        incident = Incident(
            id=self.new_id(),
            type=incident_type,
            title=alert.summary,
            site=alert.site,
            state="open",
            opened_at=now,
            updated_at=now,
            opened_by=by,
            group_key=key,
            sop_id=sop.id if sop else None,
        )
        escalation.start(incident, escalation_for(self.config, alert.site, options), now)
        self._keep(incident)
        opened = self._entry(incident, now, "opened", by, alert.summary, {"type": incident_type})
        change = self._link(incident, alert, by, now)
        change.entries.insert(0, opened)
        return change

    def _link(self, incident: Incident, alert: AlertPayload, by: str, now: datetime) -> IncidentChange:
        incident.alerts[alert.id] = LinkedAlert(
            alert.id, alert.rule_id, alert.subject, alert.severity, alert.state, now
        )
        self.by_alert[alert.id] = incident.id
        incident.last_alert_at = incident.updated_at = now
        data = {"alert_id": alert.id, "rule_id": alert.rule_id, "subject": alert.subject, "state": alert.state}
        return self._change(incident, self._entry(incident, now, "linked", by, alert.summary, data))

    def _editable(self, incident_id: str) -> Incident:
        incident = self.get(incident_id)
        if incident.state == "closed":
            raise TransitionError(f"incident {incident_id} is closed")
        return incident

    def _check_sop(self, incident: Incident) -> None:
        missing = self.open_required_steps(incident)
        if missing and not incident.override_reason:
            raise SopGateError(f"required SOP steps are open: {', '.join(missing)} (override with a reason to close)")

    def _stamp(self, incident: Incident, to: IncidentState, by: str, now: datetime) -> None:
        if to == "acknowledged" or (to == "in_progress" and incident.acknowledged_at is None):
            incident.acknowledged_at, incident.acknowledged_by = now, by
        elif to == "resolved":
            incident.resolved_at, incident.resolved_by = now, by
        elif to == "closed":
            incident.closed_at, incident.closed_by = now, by

    def _acted(
        self, incident: Incident, by: str, now: datetime, kind: EntryKind, text: str | None, data: dict[str, Any]
    ) -> IncidentChange:
        incident.updated_at = incident.progressed_at = now
        escalation.progressed(incident, self.policy_of(incident), now)
        return self._change(incident, self._entry(incident, now, kind, by, text, data))

    @staticmethod
    def _entry(
        incident: Incident, now: datetime, kind: EntryKind, actor: str | None, text: str | None, data: dict[str, Any]
    ) -> TimelineEntry:
        return TimelineEntry(incident.id, now, kind, actor, text, data)

    @staticmethod
    def _change(incident: Incident, entry: TimelineEntry) -> IncidentChange:
        return IncidentChange(incident, [entry])
