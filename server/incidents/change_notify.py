"""Shared replicas: how a saved incident change reaches the dashboard stream of every replica.

The leader's repository sends `NOTIFY` on `INCIDENT_CHANNEL` for each saved change, in the
transaction that saves it (only committed changes are announced, each once, in commit order with
the alert changes of `server.alerts.change_notify`); each replica's `IncidentFeed` (`feed.py`)
hands them to its dashboard hub.
"""

from __future__ import annotations

import json

from server.incidents.model import IncidentChange
from server.notify.hub import Message

INCIDENT_CHANNEL = "ioc_incident_change"
MAX_NOTIFY_BYTES = 7900  # PostgreSQL's limit is 8000 bytes per payload


def incident_message(change: IncidentChange) -> Message:
    """The dashboard stream's message for one incident change."""
    return {
        "type": "incident",
        "incident": change.incident.public(),
        "entries": [entry.public() for entry in change.entries],
    }


def incident_notification(change: IncidentChange) -> str:
    """The change's message, or only the incident's id when that would not fit a notification."""
    full = json.dumps(incident_message(change), default=str)
    if len(full.encode()) <= MAX_NOTIFY_BYTES:
        return full
    return json.dumps({"type": "incident", "id": change.incident.id})
