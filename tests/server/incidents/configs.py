"""Config trees and alert payloads for the incident tests, built in code."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from contract.config.root import StreamsConfig
from contract.payloads import AlertPayload
from tests.server.alerts.configs import SALINITY_4, make_config, rule

CROWD = {
    "id": "market-crowd",
    "type": "zone_occupancy",
    "camera": "gate",
    "zone": "entrance",
    "above": 5,
    "severity": "warning",
}
SOP = {
    "id": "salinity-sop",
    "title": {"vi": "Xâm nhập mặn", "en": "Salinity intrusion"},
    "types": ["salinity"],
    "steps": [
        {"id": "notify-station", "text": {"vi": "Báo trạm thủy nông", "en": "Notify the irrigation station"}},
        {"id": "close-gate", "text": {"vi": "Đóng cống X", "en": "Close sluice gate X"}},
        {"id": "loudspeakers", "text": {"vi": "Loa phường", "en": "Commune loudspeakers"}, "required": False},
    ],
}
ESCALATION = {
    "id": "long-phu-duty",
    "sites": ["long-phu"],
    "levels": [{"after": "0s", "channels": ["hook"]}, {"after": "5m", "channels": ["responders"]}],
    "repeat_after": "10m",
    "ack_timeout": "30m",
}


def incident_config(group: str = "site", window: str = "15m", **extra: Any) -> StreamsConfig:
    options: dict[str, Any] = {"type": "salinity", "group": group, "window": window}
    crowd: dict[str, Any] = {"type": "crowd", "group": group, "window": window}
    if group == "rule_group":
        options["rule_group"] = crowd["rule_group"] = "water"
    rules = [rule(SALINITY_4, incident=options), rule(CROWD, incident=crowd), rule(SALINITY_4, id="plain")]
    return make_config(rules, sops=[SOP], escalations=[ESCALATION], **extra)


def alert(
    rule_id: str,
    subject: str,
    at: datetime,
    state: str = "firing",
    severity: str = "critical",
    site: str | None = "long-phu",
    alert_id: str | None = None,
) -> AlertPayload:
    return AlertPayload.model_validate(
        {
            "id": alert_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_id}/{subject}/{at.isoformat()}")),
            "fingerprint": f"{rule_id}/{subject}",
            "rule_id": rule_id,
            "state": state,
            "severity": severity,
            "subject": subject,
            "site": site,
            "summary": f"{rule_id} {subject}",
            "started_at": at,
            "updated_at": at,
        }
    )
