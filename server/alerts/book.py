"""The alert lifecycle: pending -> firing -> acknowledged -> resolved, with history.

One open alert per fingerprint (rule + group_by labels); rule transitions of the subjects in the
group add or remove members. Every method takes the time; nothing here reads the clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from contract.config.rules import AlertRule
from contract.payloads import AlertState
from server.alerts.model import Action, Alert, AlertChange, HistoryEntry, alert_id, fingerprint
from server.alerts.state import Transition
from server.alerts.subjects import Subject

logger = logging.getLogger(__name__)

MuteCheck = Callable[[Alert], "str | None"]
MAX_RECENT_CLOSED = 1000


class AlertNotFoundError(LookupError):
    """No open alert has this id."""


class AlertClosedError(ValueError):
    """The alert is already resolved."""


def group_values(rule: AlertRule, subject: Subject) -> list[tuple[str, str]]:
    values = {"rule": rule.id, "site": subject.site or "", "subject": subject.key}
    return [(key, values[key]) for key in rule.group_by]


def describe(rule: AlertRule, subject_text: str, value: float | None, unit: str) -> str:
    title = rule.name or rule.id
    return f"{title}: {subject_text}" if value is None else f"{title}: {subject_text} = {value:g}{unit}"


class AlertBook:
    """Open alerts by fingerprint and a bounded list of recently closed ones."""

    def __init__(self, max_closed: int = MAX_RECENT_CLOSED) -> None:
        self._open: dict[str, Alert] = {}
        self._closed: deque[Alert] = deque(maxlen=max_closed)

    def load(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            if alert.open:
                self._open[alert.fingerprint] = alert

    def open_alerts(self) -> Iterator[Alert]:
        return iter(list(self._open.values()))

    def recent_closed(self) -> list[Alert]:
        return list(self._closed)

    def find(self, alert_id_value: str) -> Alert:
        found = next((a for a in self._open.values() if a.id == alert_id_value), None)
        if found is None:
            raise AlertNotFoundError(alert_id_value)
        return found

    def firing_labels(self) -> list[tuple[str, dict[str, str]]]:
        return [(a.id, a.labels) for a in self._open.values() if a.state in ("firing", "acknowledged")]

    # ----------------------------------------------------------------- rule transitions

    def transition(
        self,
        rule: AlertRule,
        subject: Subject,
        transition: Transition,
        value: float | None,
        at: datetime,
        mute: MuteCheck,
        now: datetime | None = None,
    ) -> list[AlertChange]:
        """`at`: the observation's time; `now`: the server's (repeat intervals count from it)."""
        key = fingerprint(rule.id, group_values(rule, subject))
        alert = self._open.get(key)
        if transition in ("pending", "fire"):
            if alert is None:
                alert = self._create(rule, subject, key, value, at)
            return self._raise(rule, alert, subject.key, transition, value, at, mute, now or at)
        if alert is None:
            return []
        return self._lower(rule, alert, subject.key, transition, at)

    def _create(self, rule: AlertRule, subject: Subject, key: str, value: float | None, at: datetime) -> Alert:
        grouped_by_subject = "subject" in rule.group_by
        text = subject.key if grouped_by_subject else (subject.site or rule.id)
        labels = dict(subject.labels) if grouped_by_subject else {"rule": rule.id, "severity": rule.severity}
        labels.update(subject=text, fingerprint=key)
        if not grouped_by_subject and subject.site:
            labels["site"] = subject.site
        alert = Alert(
            id=alert_id(key, at),
            fingerprint=key,
            rule_id=rule.id,
            severity=rule.severity,
            subject=text,
            site=subject.site,
            summary=describe(rule, text, value, subject.labels.get("unit", "")),
            labels=labels,
            state="pending",
            started_at=at,
            updated_at=at,
            value=value,
        )
        self._open[key] = alert
        return alert

    def _raise(
        self,
        rule: AlertRule,
        alert: Alert,
        member: str,
        transition: Transition,
        value: float | None,
        at: datetime,
        mute: MuteCheck,
        now: datetime,
    ) -> list[AlertChange]:
        alert.value = value if value is not None else alert.value
        alert.summary = describe(rule, alert.subject, alert.value, alert.labels.get("unit", ""))
        if transition == "pending":
            alert.pending_members.add(member)
            if alert.state == "pending" and len(alert.pending_members) == 1 and not alert.members:
                return [self._change(alert, "pending", at)]
            return []
        alert.pending_members.discard(member)
        alert.members.add(member)
        if alert.state != "pending":
            return [self._change(alert, "member", at, note=f"{member} also firing")]
        alert.state, alert.fired_at = "firing", at
        alert.muted_by = mute(alert)
        logger.info("alert %s firing: rule %s, subject %s", alert.id, rule.id, alert.subject)
        notify = self._push(rule, alert, max(at, now), first=True)
        return [self._change(alert, "firing", at, notify=notify)]

    def _lower(
        self, rule: AlertRule, alert: Alert, member: str, transition: Transition, at: datetime
    ) -> list[AlertChange]:
        alert.pending_members.discard(member)
        if transition == "resolve":
            alert.members.discard(member)
        if alert.members or alert.pending_members:
            return []
        if alert.state == "pending":
            return [self._close(alert, "withdrawn", "resolved", at)]
        if transition != "resolve":
            return []
        logger.info("alert %s resolved: rule %s, subject %s", alert.id, rule.id, alert.subject)
        notify = self._push(rule, alert, at, first=False)
        return [self._close(alert, "resolved", "resolved", at, notify=notify)]

    # ----------------------------------------------------------------- operators

    def acknowledge(
        self, rule: AlertRule | None, alert_id_value: str, by: str, note: str | None, at: datetime
    ) -> AlertChange:
        alert = self.find(alert_id_value)
        if alert.state == "pending":
            raise AlertClosedError(f"alert {alert_id_value} is pending; only a firing alert can be acknowledged")
        alert.state, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", by, at
        notify = self._push(rule, alert, at, first=False) if rule else ()
        return self._change(alert, "acknowledged", at, actor=by, note=note, notify=notify)

    def assign(self, rule: AlertRule | None, alert_id_value: str, assignee: str, by: str, at: datetime) -> AlertChange:
        alert = self.find(alert_id_value)
        alert.assignee = assignee
        notify = self._push(rule, alert, at, first=False) if rule else ()
        return self._change(alert, "assigned", at, actor=by, note=f"assigned to {assignee}", notify=notify)

    def resolve(
        self, rule: AlertRule | None, alert_id_value: str, by: str, note: str | None, at: datetime
    ) -> tuple[AlertChange, set[str]]:
        """Resolve by hand; returns the change and the members whose rule state must be reset."""
        alert = self.find(alert_id_value)
        members = alert.members | alert.pending_members
        alert.resolved_by = by
        notify = self._push(rule, alert, at, first=False) if rule else ()
        return self._close(alert, "resolved", "resolved", at, actor=by, note=note, notify=notify), members

    # ----------------------------------------------------------------- time

    def tick(self, rules: dict[str, AlertRule], now: datetime, mute: MuteCheck) -> list[AlertChange]:
        changes: list[AlertChange] = []
        for alert in self.open_alerts():
            rule = rules.get(alert.rule_id)
            if rule is None or alert.state == "pending":
                continue
            changes.extend(self._tick_alert(rule, alert, now, mute))
        return changes

    def _tick_alert(self, rule: AlertRule, alert: Alert, now: datetime, mute: MuteCheck) -> list[AlertChange]:
        was_muted, alert.muted_by = alert.muted_by, mute(alert)
        if alert.muted_by is not None:
            return [self._change(alert, "member", now, note=f"muted by {alert.muted_by}")] if not was_muted else []
        if alert.state != "firing":
            return []
        if alert.last_notified_at is None or now - alert.last_notified_at >= rule.repeat_interval:
            action: Action = "firing" if alert.last_notified_at is None else "repeat"
            return [self._change(alert, action, now, notify=self._push(rule, alert, now, first=True))]
        since = alert.notified_at or alert.fired_at
        due = since is not None and rule.escalate_after is not None
        if due and alert.escalated_at is None and now - since >= rule.escalate_after:  # type: ignore[operator]
            alert.escalated_at = alert.last_notified_at = now
            logger.warning("alert %s escalated to %s", alert.id, ", ".join(rule.escalate_to))
            return [self._change(alert, "escalated", now, notify=tuple(rule.escalate_to))]
        return []

    # ----------------------------------------------------------------- helpers

    def _push(self, rule: AlertRule | None, alert: Alert, at: datetime, *, first: bool) -> tuple[str, ...]:
        """Channels to push to: none while muted; after the first push, only those that heard of it."""
        if rule is None or alert.muted_by is not None or (not first and alert.last_notified_at is None):
            return ()
        alert.last_notified_at = at if first else alert.last_notified_at
        alert.notified_at = alert.notified_at or alert.last_notified_at
        extra = tuple(c for c in rule.escalate_to if c not in rule.channels) if alert.escalated_at else ()
        return (*rule.channels, *extra)

    def _close(
        self,
        alert: Alert,
        action: Action,
        state: AlertState,
        at: datetime,
        actor: str | None = None,
        note: str | None = None,
        notify: tuple[str, ...] = (),
    ) -> AlertChange:
        alert.state, alert.resolved_at = state, at
        self._open.pop(alert.fingerprint, None)
        self._closed.append(alert)
        return self._change(alert, action, at, actor=actor, note=note, notify=notify)

    def _change(
        self,
        alert: Alert,
        action: Action,
        at: datetime,
        actor: str | None = None,
        note: str | None = None,
        notify: tuple[str, ...] = (),
    ) -> AlertChange:
        alert.updated_at = at
        entry = HistoryEntry(alert.id, at, action, alert.state, actor, note, alert.value)
        return AlertChange(alert.payload(), entry, notify, alert)
