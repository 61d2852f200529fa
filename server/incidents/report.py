"""Incident reports per site and period, as pure functions of the incidents (and the alert counts
per subject): incidents by type and severity, time to acknowledge and to resolve (p50 / p90), SOP
completion, the top alerting sensors and cameras; as JSON, CSV or a printable HTML page
(Vietnamese by default)."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape

from contract.config.root import StreamsConfig
from server.incidents.model import Incident


@dataclass(frozen=True, slots=True)
class Report:
    site: str | None
    start: datetime
    end: datetime
    incidents: int
    by_type: dict[str, int]
    by_severity: dict[str, int]
    by_state: dict[str, int]
    ack_p50_s: float | None
    ack_p90_s: float | None
    resolve_p50_s: float | None
    resolve_p90_s: float | None
    sop_incidents: int
    sop_completed: int
    """incidents with an SOP whose required steps were all ticked"""
    sop_steps_done_ratio: float | None
    top_subjects: list[tuple[str, int]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        document = asdict(self)
        document["start"], document["end"] = self.start.isoformat(), self.end.isoformat()
        document["top_subjects"] = [{"subject": s, "alerts": n} for s, n in self.top_subjects]
        return document


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def build_report(
    incidents: Sequence[Incident],
    config: StreamsConfig,
    site: str | None,
    start: datetime,
    end: datetime,
    top_subjects: Sequence[tuple[str, int]] = (),
) -> Report:
    acks = [(i.acknowledged_at - i.opened_at).total_seconds() for i in incidents if i.acknowledged_at]
    resolves = [(i.resolved_at - i.opened_at).total_seconds() for i in incidents if i.resolved_at]
    done, required, completed, with_sop = 0, 0, 0, 0
    for incident in incidents:
        sop = config.sop(incident.sop_id) if incident.sop_id else None
        if sop is None:
            continue
        with_sop += 1
        steps = [step.id for step in sop.steps if step.required]
        ticked = sum(1 for step in steps if step in incident.steps)
        done, required = done + ticked, required + len(steps)
        completed += ticked == len(steps)
    return Report(
        site=site,
        start=start,
        end=end,
        incidents=len(incidents),
        by_type=dict(Counter(i.type for i in incidents).most_common()),
        by_severity=dict(Counter(i.severity for i in incidents).most_common()),
        by_state=dict(Counter(i.state for i in incidents).most_common()),
        ack_p50_s=percentile(acks, 50),
        ack_p90_s=percentile(acks, 90),
        resolve_p50_s=percentile(resolves, 50),
        resolve_p90_s=percentile(resolves, 90),
        sop_incidents=with_sop,
        sop_completed=completed,
        sop_steps_done_ratio=None if required == 0 else done / required,
        top_subjects=list(top_subjects),
    )


def to_csv(report: Report) -> str:
    """One `section,key,value` row per figure (spreadsheet-friendly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])
    writer.writerow(["period", "site", report.site or "all"])
    writer.writerow(["period", "start", report.start.isoformat()])
    writer.writerow(["period", "end", report.end.isoformat()])
    writer.writerow(["total", "incidents", report.incidents])
    for section, counts in (("type", report.by_type), ("severity", report.by_severity), ("state", report.by_state)):
        for key, value in counts.items():
            writer.writerow([section, key, value])
    for key in ("ack_p50_s", "ack_p90_s", "resolve_p50_s", "resolve_p90_s", "sop_steps_done_ratio"):
        value = getattr(report, key)
        writer.writerow(["times" if key.endswith("_s") else "sop", key, "" if value is None else f"{value:.1f}"])
    writer.writerow(["sop", "incidents_with_sop", report.sop_incidents])
    writer.writerow(["sop", "completed", report.sop_completed])
    for subject, count in report.top_subjects:
        writer.writerow(["top_subjects", subject, count])
    return out.getvalue()


TEXTS = {
    "vi": {
        "title": "Báo cáo sự cố", "site": "Địa bàn", "all": "Tất cả", "period": "Thời gian", "total": "Tổng số sự cố",
        "by_type": "Theo loại", "by_severity": "Theo mức độ", "by_state": "Theo trạng thái", "times": "Thời gian xử lý",
        "ack": "Tiếp nhận", "resolve": "Giải quyết", "sop": "Quy trình (SOP)",
        "sop_done": "Hoàn thành đủ bước bắt buộc",
        "steps": "Tỉ lệ bước đã làm", "top": "Cảm biến / camera cảnh báo nhiều nhất", "alerts": "Số cảnh báo",
        "minutes": "phút",
    },
    "en": {
        "title": "Incident report", "site": "Site", "all": "All", "period": "Period", "total": "Incidents",
        "by_type": "By type", "by_severity": "By severity", "by_state": "By state", "times": "Handling times",
        "ack": "Acknowledge", "resolve": "Resolve", "sop": "Procedures (SOP)", "sop_done": "All required steps done",
        "steps": "Steps done", "top": "Top alerting sensors / cameras", "alerts": "Alerts", "minutes": "min",
    },
}  # fmt: skip
PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ t.title }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #999;padding:.3em .6em;text-align:left}@media print{button{display:none}}</style></head>
<body><h1>{{ t.title }}</h1><button onclick="window.print()">🖨</button>
<p>{{ t.site }}: <b>{{ site or t.all }}</b> · {{ t.period }}: {{ start }} – {{ end }}</p>
<p>{{ t.total }}: <b id="total">{{ r.incidents }}</b></p>
{% for key in ["by_type", "by_severity", "by_state"] %}<h2>{{ t[key] }}</h2><table>
{% for name, count in r[key].items() %}<tr><td>{{ name }}</td><td>{{ count }}</td></tr>{% endfor %}</table>
{% endfor %}<h2>{{ t.times }}</h2><table><tr><th></th><th>p50</th><th>p90</th></tr>
<tr><td>{{ t.ack }}</td><td>{{ m(r.ack_p50_s) }}</td><td>{{ m(r.ack_p90_s) }}</td></tr>
<tr><td>{{ t.resolve }}</td><td>{{ m(r.resolve_p50_s) }}</td><td>{{ m(r.resolve_p90_s) }}</td></tr></table>
<h2>{{ t.sop }}</h2><p>{{ t.sop_done }}: {{ r.sop_completed }} / {{ r.sop_incidents }}
{% if r.sop_steps_done_ratio is not none %} · {{ t.steps }}:
{{ (r.sop_steps_done_ratio * 100)|round|int }}%{% endif %}</p>
<h2>{{ t.top }}</h2><table><tr><th></th><th>{{ t.alerts }}</th></tr>
{% for subject, count in r.top_subjects %}<tr><td>{{ subject }}</td><td>{{ count }}</td></tr>{% endfor %}</table>
</body></html>
"""


def to_html(report: Report, lang: str = "vi") -> str:
    """The printable page; every value is HTML-escaped."""
    texts = TEXTS.get(lang, TEXTS["vi"])
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

    def minutes(seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds / 60:.1f} {texts['minutes']}"

    page = environment.from_string(PAGE)
    start, end = report.start.strftime("%d/%m/%Y %H:%M"), report.end.strftime("%d/%m/%Y %H:%M")
    return page.render(r=report, t=texts, lang=lang, site=report.site, start=start, end=end, m=minutes)
