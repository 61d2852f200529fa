"""Shared replicas: how a saved alert change is announced to every replica (`NOTIFY`), sent by the
leader's repository in the transaction that saves the change and read by `feed.py`."""

from __future__ import annotations

import json

from server.alerts.model import AlertChange

CHANGE_CHANNEL = "ioc_alert_change"
MAX_NOTIFY_BYTES = 7900  # PostgreSQL's limit is 8000 bytes per payload


def change_notification(change: AlertChange) -> str:
    """The change with its alert, or only the alert id when that would not fit a notification."""
    full = json.dumps({"action": change.action, "alert": change.payload.model_dump(mode="json")})
    if len(full.encode()) <= MAX_NOTIFY_BYTES:
        return full
    return json.dumps({"action": change.action, "id": change.payload.id})
