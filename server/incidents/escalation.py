"""Escalation as pure functions of an incident, its policy and the time.

An open incident notifies its policy's levels in order, each `after` the previous one, and starts
again from the first `repeat_after` the last, until someone acknowledges. An acknowledged (or in
progress) incident with no progress for `ack_timeout` notifies the first level again. One notice
at most per incident and call: after a restart the level that fell due is sent, once, and the next
one counts its delay from then; so no level is skipped and none repeated (the position is saved
with the notice's outbox rows in one transaction).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contract.config.incidents import EscalationPolicy
from server.incidents.model import Escalation, Incident, Notification

DELIVERY_NAMESPACE = uuid.UUID("7c9b3a52-51de-4b1e-9a0e-2f8c0d3e4b61")


def delivery_id(notice: Notification, channel_id: str) -> str:
    """The same id for the same notice and channel, whoever computes it (a receiver dedupes on it)."""
    key = f"{notice.incident_id}:{notice.kind}:{notice.round}:{notice.level}:{channel_id}"
    return str(uuid.uuid5(DELIVERY_NAMESPACE, key))


def start(incident: Incident, policy: EscalationPolicy | None, now: datetime) -> None:
    if policy is None:
        incident.escalation = Escalation(None)
        return
    incident.escalation = Escalation(policy.id, next_at=now + policy.levels[0].after)


def progressed(incident: Incident, policy: EscalationPolicy | None, now: datetime) -> None:
    """A person acted: an acknowledged incident's no-progress clock restarts; a finished one stops."""
    escalation = incident.escalation
    if policy is None or escalation.policy_id is None:
        return
    if incident.state == "open":
        return  # still escalating: only an acknowledgement stops it
    if incident.active and policy.ack_timeout is not None:
        escalation.next_at = now + policy.ack_timeout
    else:
        escalation.next_at = None


def due(incident: Incident, policy: EscalationPolicy | None, now: datetime) -> Notification | None:
    """The notice due now (advancing the incident's escalation), or None."""
    escalation = incident.escalation
    if policy is None or escalation.next_at is None or escalation.next_at > now:
        return None
    if incident.state == "open":
        return _next_level(incident, policy, now)
    if incident.active and policy.ack_timeout is not None:
        notice = Notification(incident.id, "stale", 0, escalation.stale, tuple(policy.levels[0].channels))
        escalation.stale += 1
        escalation.next_at = now + policy.ack_timeout
        return notice
    escalation.next_at = None
    return None


def _next_level(incident: Incident, policy: EscalationPolicy, now: datetime) -> Notification:
    escalation = incident.escalation
    if escalation.level >= len(policy.levels):  # the policy lost levels in a reload
        escalation.level, escalation.round = 0, escalation.round + 1
    level = policy.levels[escalation.level]
    notice = Notification(incident.id, "escalation", escalation.level, escalation.round, tuple(level.channels))
    if escalation.level + 1 < len(policy.levels):
        escalation.level += 1
        escalation.next_at = now + policy.levels[escalation.level].after
    else:
        escalation.level, escalation.round = 0, escalation.round + 1
        escalation.next_at = now + policy.repeat_after
    return notice
