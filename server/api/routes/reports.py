"""Incident reports per site and period: JSON, CSV export, or a printable HTML page (Vietnamese
by default). A scoped caller reports on its sites only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from server.api.deps import ConfigDep
from server.api.routes.incidents import ReaderDep
from server.api.timerange import resolve_range
from server.auth.deps import CurrentPrincipal
from server.auth.scope import narrowed
from server.incidents.pg_repository import IncidentQuery
from server.incidents.report import build_report, to_csv, to_html

router = APIRouter(prefix="/api/reports", tags=["reports"])
MAX_INCIDENTS = 1000


@router.get("/incidents", response_model=None)
async def incident_report(
    service: ReaderDep,
    config: ConfigDep,
    principal: CurrentPrincipal,
    site: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    format: Literal["json", "csv", "html"] = "json",
    lang: Literal["vi", "en"] = "vi",
) -> Response | dict[str, object]:
    """Incidents opened in [start, end) (default: the last 7 days), by type, severity and state;
    time to acknowledge and resolve (p50/p90); SOP completion; the top alerting sensors/cameras."""
    start, end = resolve_range(start, end, timedelta(days=7))
    sites = narrowed(principal, site)
    query = IncidentQuery(sites=sites, since=start, until=end, limit=MAX_INCIDENTS)
    incidents = await service.incidents(query)
    top = await service.top_subjects(sites, start, end)
    report = build_report(incidents, config, site, start, end, top)
    if format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="incidents-{site or "all"}.csv"'}
        return PlainTextResponse(to_csv(report), media_type="text/csv; charset=utf-8", headers=headers)
    if format == "html":
        return HTMLResponse(to_html(report, lang))
    return report.public()
