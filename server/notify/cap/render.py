"""An alert as an OASIS CAP 1.2 document (the format public-warning systems consume).

Firing: msgType Alert. Acknowledged or assigned: Update referencing the first message. Resolved:
Update with responseType AllClear and urgency Past. Times are in the site's time zone, as the
schema wants them (no fractions, a numeric offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from contract.config.root import StreamsConfig
from contract.payloads import AlertPayload

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_PATH = Path(__file__).with_name("CAP-v1.2.xsd")
SEVERITY = {"critical": "Severe", "warning": "Moderate", "info": "Minor"}
CATEGORY_BY_SENSOR_KIND = {"rainfall": "Met", "wind_speed": "Met", "water_level": "Geo"}
AREA_RADIUS_KM = 1.0


@dataclass(frozen=True, slots=True)
class CapContext:
    sender: str = "ioc-monitor@localhost"
    sender_name: str = "IOC Monitor"
    language: str = "vi-VN"
    timezone: str = "Asia/Ho_Chi_Minh"


def cap_time(value: datetime, timezone: str) -> str:
    return value.astimezone(ZoneInfo(timezone)).replace(microsecond=0).isoformat()


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _pair(parent: etree._Element, name: str, value_name: str, value: str) -> None:
    element = _add(parent, name)
    _add(element, "valueName", value_name)
    _add(element, "value", value)


def category(alert: AlertPayload) -> str:
    kind = alert.labels.get("kind")
    if kind == "detection":
        return "Security"
    if kind == "camera":
        return "Infra"
    return CATEGORY_BY_SENSOR_KIND.get(alert.labels.get("sensor_kind", ""), "Env")


def _message_type(alert: AlertPayload) -> str:
    return "Alert" if alert.state in ("pending", "firing") and alert.acknowledged_by is None else "Update"


def render_cap(alert: AlertPayload, config: StreamsConfig | None = None, context: CapContext | None = None) -> bytes:
    ctx = context or CapContext()
    site = config.site(alert.site) if config is not None and alert.site else None
    timezone = site.timezone if site is not None else ctx.timezone
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})  # type: ignore[dict-item]
    _add(root, "identifier", f"{alert.id}.{alert.state}.{int(alert.updated_at.timestamp())}")
    _add(root, "sender", ctx.sender)
    _add(root, "sent", cap_time(alert.updated_at, timezone))
    _add(root, "status", "Actual")
    _add(root, "msgType", _message_type(alert))
    _add(root, "scope", "Public")
    if _message_type(alert) == "Update":
        first = f"{alert.id}.firing.{int(alert.started_at.timestamp())}"
        _add(root, "references", f"{ctx.sender},{first},{cap_time(alert.started_at, timezone)}")
    _add(root, "incidents", alert.id)
    info = _info(root, alert, ctx, timezone)
    area = _add(info, "area")
    _add(area, "areaDesc", site.name if site is not None else (alert.site or alert.subject))
    if site is not None and site.location is not None:
        _add(area, "circle", f"{site.location.lat},{site.location.lon} {AREA_RADIUS_KM}")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _info(root: etree._Element, alert: AlertPayload, ctx: CapContext, timezone: str) -> etree._Element:
    info = _add(root, "info")
    _add(info, "language", ctx.language)
    _add(info, "category", category(alert))
    _add(info, "event", alert.labels.get("rule_name", alert.rule_id))
    resolved = alert.state == "resolved"
    _add(info, "responseType", "AllClear" if resolved else "Monitor")
    _add(info, "urgency", "Past" if resolved else "Immediate")
    _add(info, "severity", SEVERITY[alert.severity])
    _add(info, "certainty", "Observed")
    _pair(info, "eventCode", "ioc-rule", alert.rule_id)
    _add(info, "effective", cap_time(alert.started_at, timezone))
    _add(info, "senderName", ctx.sender_name)
    _add(info, "headline", alert.summary[:160])
    _add(info, "description", alert.summary)
    _pair(info, "parameter", "subject", alert.subject)
    _pair(info, "parameter", "state", alert.state)
    if alert.value is not None:
        _pair(info, "parameter", "value", f"{alert.value:g}{alert.labels.get('unit', '')}")
    return info


def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))
