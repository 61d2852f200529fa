"""An escalation notice as outbox deliveries: one per push channel of its level, carried by the
existing notifiers (MQTT retained on `<topic>/<incident_id>`, signed webhooks) as an
`AlertPayload` about the incident (`labels`: incident id, state, notice, level, round)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contract.payloads import AlertPayload, AlertState
from server.incidents.escalation import delivery_id
from server.incidents.model import Incident, IncidentState, Notification
from server.notify.outbox import Delivery

ALERT_STATE: dict[IncidentState, AlertState] = {
    "open": "firing",
    "acknowledged": "acknowledged",
    "in_progress": "acknowledged",
    "resolved": "resolved",
    "closed": "resolved",
}


def notice_payload(incident: Incident, notice: Notification, now: datetime) -> AlertPayload:
    labels = {
        "incident_id": incident.id,
        "incident_type": incident.type,
        "incident_state": incident.state,
        "notice": notice.kind,
        "level": str(notice.level),
        "round": str(notice.round),
        "alerts": str(len(incident.alerts)),
    }
    return AlertPayload(
        id=incident.id,
        fingerprint=f"incident/{incident.id}",
        rule_id=incident.type,
        state=ALERT_STATE[incident.state],
        severity=incident.severity,
        subject=incident.site or "-",
        site=incident.site,
        summary=incident.title,
        started_at=incident.opened_at,
        updated_at=now,
        assignee=incident.assignee,
        acknowledged_by=incident.acknowledged_by,
        labels=labels,
    )


def deliveries_of(incident: Incident, notice: Notification, push: Iterable[str], now: datetime) -> list[Delivery]:
    """The notice's deliveries on the channels among `push` (the configured push channels)."""
    channels = set(push)
    payload = notice_payload(incident, notice, now)
    action = f"incident_{notice.kind}"
    return [Delivery(delivery_id(notice, c), c, action, payload) for c in notice.channels if c in channels]
