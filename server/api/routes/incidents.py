"""Incidents: list and read (with the timeline), open from an alert, link / unlink alerts, move
the state, assign, comment, attach, tick SOP steps, override the SOP gate, set the severity; and
the SOPs of streams.yaml. Changes also reach the dashboard stream (`WS /api/alerts/stream`,
messages of type `incident`).

The actor is always the caller. A responder acknowledges, starts, resolves, comments and ticks
steps; closing, assigning, linking, overrides and severity need an operator. A caller scoped to
sites sees only their incidents (others answer 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from contract.config.rules import Severity
from contract.payloads import AlertPayload
from server.api.deps import ConfigDep, StoreDep, get_alerts, get_services
from server.auth.deps import CurrentPrincipal
from server.auth.roles import Principal, Role
from server.auth.scope import narrowed, require_in_scope
from server.incidents.core import IncidentDesk, IncidentError, IncidentNotFoundError, SopGateError, UnknownStepError
from server.incidents.model import Incident, IncidentChange, IncidentState
from server.incidents.pg_repository import IncidentQuery, IncidentReader, PgIncidentRepository
from server.incidents.service import IncidentService, IncidentsUnavailableError

router = APIRouter(prefix="/api", tags=["incidents"])


def get_incidents(conn: HTTPConnection) -> IncidentService:
    component = get_services(conn).incidents
    if component is None or not component.running:
        raise HTTPException(503, "incidents are not running on this replica (they run on the leader)")
    return component.service


def get_reader(conn: HTTPConnection) -> IncidentReader:
    """Reads: the running service (its memory first), or, on a replica where incidents do not run
    (a follower), the database."""
    services = get_services(conn)
    component = services.incidents
    if component is not None and component.running:
        return component.service
    return PgIncidentRepository(services.pool)


ServiceDep = Annotated[IncidentService, Depends(get_incidents)]
ReaderDep = Annotated[IncidentReader, Depends(get_reader)]
Action = Callable[[IncidentDesk, datetime], IncidentChange]


class IncidentOut(BaseModel):
    id: str
    type: str
    title: str
    site: str | None
    state: IncidentState
    severity: Severity
    severity_set: Severity | None
    assignee: str | None
    sop_id: str | None
    opened_at: datetime
    opened_by: str
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    override_reason: str | None
    alerts: list[dict[str, Any]]
    steps_done: dict[str, dict[str, Any]]


class EntryOut(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    text: str | None
    data: dict[str, Any]


class OpenIn(BaseModel):
    alert_id: str
    type: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")


class LinkIn(BaseModel):
    alert_id: str


class TransitionIn(BaseModel):
    to: IncidentState
    note: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100)


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class AttachIn(BaseModel):
    kind: Literal["snapshot", "clip"]
    ref: str = Field(min_length=1, max_length=200, description="the event id (snapshot) or clip id")


class StepIn(BaseModel):
    done: bool = True


class OverrideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SeverityIn(BaseModel):
    severity: Severity | None = None
    """null: back to the highest of its alerts"""


def out(incident: Incident) -> IncidentOut:
    return IncidentOut.model_validate(incident.public())


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    service: ReaderDep,
    principal: CurrentPrincipal,
    state: IncidentState | None = None,
    active: bool | None = None,
    site: str | None = None,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IncidentOut]:
    query = IncidentQuery(state, active, narrowed(principal, site), type, since, until, limit)
    return [out(incident) for incident in await service.incidents(query)]


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
async def get_incident(service: ReaderDep, principal: CurrentPrincipal, incident_id: str) -> IncidentOut:
    return out(await _visible(service, principal, incident_id))


@router.get("/incidents/{incident_id}/timeline", response_model=list[EntryOut])
async def incident_timeline(service: ReaderDep, principal: CurrentPrincipal, incident_id: str) -> list[EntryOut]:
    incident = await _visible(service, principal, incident_id)
    return [EntryOut.model_validate(entry.public()) for entry in await service.timeline(incident.id)]


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def open_incident(
    conn: HTTPConnection, service: ServiceDep, principal: CurrentPrincipal, body: OpenIn
) -> IncidentOut:
    alert = await _alert(conn, principal, body.alert_id)
    return await _act(service, lambda d, now: d.open_from_alert(alert, principal.label, now, body.type))


@router.post("/incidents/{incident_id}/alerts", response_model=IncidentOut)
async def link_alert(
    conn: HTTPConnection, service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: LinkIn
) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    alert = await _alert(conn, principal, body.alert_id)
    return await _act(service, lambda d, now: d.link(incident.id, alert, principal.label, now), incident)


@router.delete("/incidents/{incident_id}/alerts/{alert_id}", response_model=IncidentOut)
async def unlink_alert(
    service: ServiceDep, principal: CurrentPrincipal, incident_id: str, alert_id: str
) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(service, lambda d, now: d.unlink(incident.id, alert_id, principal.label, now), incident)


@router.post("/incidents/{incident_id}/transition", response_model=IncidentOut)
async def transition(
    service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: TransitionIn
) -> IncidentOut:
    if body.to == "closed" and not principal.role.allows(Role.OPERATOR):
        raise HTTPException(403, "closing an incident needs the operator role")
    incident = await _visible(service, principal, incident_id)
    return await _act(
        service, lambda d, now: d.transition(incident.id, body.to, principal.label, now, body.note), incident
    )


@router.post("/incidents/{incident_id}/assign", response_model=IncidentOut)
async def assign(service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: AssignIn) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(service, lambda d, now: d.assign(incident.id, body.assignee, principal.label, now), incident)


@router.post("/incidents/{incident_id}/comments", response_model=IncidentOut)
async def comment(service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: TextIn) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(service, lambda d, now: d.comment(incident.id, body.text, principal.label, now), incident)


@router.post("/incidents/{incident_id}/attachments", response_model=IncidentOut)
async def attach(
    service: ServiceDep,
    store: StoreDep,
    config: ConfigDep,
    principal: CurrentPrincipal,
    incident_id: str,
    body: AttachIn,
) -> IncidentOut:
    """A snapshot is an event's (its id); the event must exist and be of a camera the caller sees."""
    incident = await _visible(service, principal, incident_id)
    if body.kind == "snapshot":
        event = await store.event(body.ref)
        if event is None or event.snapshot_sha256 is None or config.camera(event.camera_id) is None:
            raise HTTPException(404, f"no event snapshot {body.ref}")
    return await _act(
        service, lambda d, now: d.attach(incident.id, body.kind, body.ref, principal.label, now), incident
    )


@router.post("/incidents/{incident_id}/steps/{step_id}", response_model=IncidentOut)
async def tick_step(
    service: ServiceDep, principal: CurrentPrincipal, incident_id: str, step_id: str, body: StepIn
) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(
        service, lambda d, now: d.tick_step(incident.id, step_id, body.done, principal.label, now), incident
    )


@router.post("/incidents/{incident_id}/override", response_model=IncidentOut)
async def override(service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: OverrideIn) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(service, lambda d, now: d.override(incident.id, body.reason, principal.label, now), incident)


@router.post("/incidents/{incident_id}/severity", response_model=IncidentOut)
async def set_severity(
    service: ServiceDep, principal: CurrentPrincipal, incident_id: str, body: SeverityIn
) -> IncidentOut:
    incident = await _visible(service, principal, incident_id)
    return await _act(
        service, lambda d, now: d.set_severity(incident.id, body.severity, principal.label, now), incident
    )


@router.get("/sops")
async def list_sops(config: ConfigDep) -> list[dict[str, Any]]:
    """The SOPs of streams.yaml (ordered steps, vi and en, required flags)."""
    return [sop.model_dump(mode="json") for sop in config.sops]


async def _visible(service: IncidentReader, principal: Principal, incident_id: str) -> Incident:
    found = await service.incident(_uuid(incident_id))
    if found is None:
        raise HTTPException(404, f"no incident {incident_id}")
    require_in_scope(principal, found.site, f"incident {incident_id}")
    return found


async def _alert(conn: HTTPConnection, principal: Principal, alert_id: str) -> AlertPayload:
    alert = await get_alerts(conn).engine.alert(_uuid(alert_id))
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    require_in_scope(principal, alert.site, f"alert {alert_id}")
    return alert.payload()


async def _act(service: IncidentService, action: Action, on: Incident | None = None) -> IncidentOut:
    try:
        return out(await service.act(action, on))
    except IncidentNotFoundError as exc:
        raise HTTPException(409, f"not an open incident or link: {exc.args[0]}") from exc
    except (SopGateError, UnknownStepError) as exc:
        raise HTTPException(409 if isinstance(exc, SopGateError) else 404, str(exc)) from exc
    except IncidentError as exc:
        raise HTTPException(409, str(exc)) from exc
    except IncidentsUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise HTTPException(404, f"no such id {value}") from exc
