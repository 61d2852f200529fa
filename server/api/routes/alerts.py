"""Alerts: list and filter, history, acknowledge / resolve / assign, CAP 1.2 export, silences,
and the dashboard WebSocket stream (a snapshot of open alerts, then every change).

Who acted is always the logged-in caller (a user's name, or `key:<name>` for an API key), never a
field of the request body; a body may only add a note (or a silence's reason). A responder may
acknowledge only the alerts assigned to them; operators and admins act on any alert.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from contract.payloads import AlertPayload, AlertState
from contract.timeutil import utc_now
from server.alerts.book import AlertClosedError, AlertNotFoundError
from server.alerts.core import TooManySilencesError
from server.alerts.engine import AlertsUnavailableError
from server.alerts.matching import SilenceRecord
from server.alerts.operations import AlertOperations, EngineOperations
from server.alerts.repository import AlertQuery
from server.api.deps import get_alerts
from server.api.websockets import next_unless, until_disconnect
from server.auth.deps import CurrentPrincipal, optional_principal
from server.auth.roles import Principal, Role
from server.auth.scope import in_scope, require_in_scope, sites_of
from server.notify.cap.render import render_cap
from server.state import services_of

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["alerts"])


def get_engine(conn: HTTPConnection) -> AlertOperations:
    """The engine on the leader (or a single server); on a follower replica, the database for reads
    and the leader (through the command table) for actions. Either way, the dashboard feed of a
    shared deployment is the database-fed one, the same on every replica."""
    alerts = get_alerts(conn)
    replica = services_of(conn).replica_alerts
    if alerts.running:
        return EngineOperations(alerts.engine, replica.hub if replica is not None else None)
    if replica is not None:
        return replica.follower
    raise HTTPException(503, "the alert engine is not running on this server")


EngineDep = Annotated[AlertOperations, Depends(get_engine)]


class NoteIn(BaseModel):
    """An optional note; who acts is the caller (any other field, such as a claimed `by`, is ignored)."""

    note: str | None = Field(default=None, max_length=2000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100)


class HistoryOut(BaseModel):
    at: datetime
    action: str
    state: str
    actor: str | None
    note: str | None
    value: float | None


class SilenceIn(BaseModel):
    matchers: dict[str, str] = Field(min_length=1, max_length=20)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_s: float | None = Field(default=None, gt=0, le=90 * 86400)
    reason: str | None = Field(default=None, max_length=2000)


class SilenceOut(BaseModel):
    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    author: str
    reason: str
    active: bool


def silence_out(silence: SilenceRecord, now: datetime) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        matchers=dict(silence.matchers),
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        author=silence.author,
        reason=silence.reason,
        active=silence.active(now),
    )


@router.get("/alerts", response_model=list[AlertPayload])
async def list_alerts(
    engine: EngineDep,
    principal: CurrentPrincipal,
    state: AlertState | None = None,
    rule: str | None = None,
    site: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertPayload]:
    query = AlertQuery(state, rule, site, severity, subject, since, limit, sites_of(principal))
    return [alert.payload() for alert in await engine.alerts(query)]


@router.get("/alerts/{alert_id}", response_model=AlertPayload)
async def get_alert(engine: EngineDep, alert_id: str, principal: CurrentPrincipal) -> AlertPayload:
    alert = await engine.alert(_uuid(alert_id))
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    require_in_scope(principal, alert.site, f"alert {alert_id}")
    return alert.payload()


@router.get("/alerts/{alert_id}/history", response_model=list[HistoryOut])
async def alert_history(engine: EngineDep, alert_id: str, principal: CurrentPrincipal) -> list[HistoryOut]:
    await _check_scope(engine, alert_id, principal)
    entries = await engine.history(_uuid(alert_id))
    return [
        HistoryOut(at=e.at, action=e.action, state=e.state, actor=e.actor, note=e.note, value=e.value) for e in entries
    ]


@router.get("/alerts/{alert_id}/cap", response_class=Response)
async def alert_cap(engine: EngineDep, alert_id: str, principal: CurrentPrincipal) -> Response:
    alert = await engine.alert(_uuid(alert_id))
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    require_in_scope(principal, alert.site, f"alert {alert_id}")
    return Response(render_cap(alert.payload(), engine.config), media_type="application/cap+xml")


OptionalNote = Annotated[NoteIn | None, Body()]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertPayload)
async def acknowledge(
    engine: EngineDep, alert_id: str, principal: CurrentPrincipal, body: OptionalNote = None
) -> AlertPayload:
    await _check_scope(engine, alert_id, principal)
    if not principal.role.allows(Role.OPERATOR):
        await _check_assigned(engine, alert_id, principal)
    note = body.note if body else None
    return await _act(lambda: engine.acknowledge(alert_id, principal.label, note))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertPayload)
async def resolve(
    engine: EngineDep, alert_id: str, principal: CurrentPrincipal, body: OptionalNote = None
) -> AlertPayload:
    await _check_scope(engine, alert_id, principal)
    note = body.note if body else None
    return await _act(lambda: engine.resolve(alert_id, principal.label, note))


@router.post("/alerts/{alert_id}/assign", response_model=AlertPayload)
async def assign(engine: EngineDep, alert_id: str, principal: CurrentPrincipal, body: AssignIn) -> AlertPayload:
    await _check_scope(engine, alert_id, principal)
    return await _act(lambda: engine.assign(alert_id, body.assignee, principal.label))


async def _check_scope(engine: AlertOperations, alert_id: str, principal: Principal) -> None:
    """A caller scoped to sites acts only on their alerts (others answer 404, as if absent)."""
    if sites_of(principal) is None:
        return
    alert = await engine.alert(_uuid(alert_id))
    require_in_scope(principal, None if alert is None else alert.site, f"alert {alert_id}")


async def _check_assigned(engine: AlertOperations, alert_id: str, principal: Principal) -> None:
    """A responder acknowledges only the alerts assigned to them (by user name, or `key:<name>`)."""
    alert = await engine.alert(_uuid(alert_id))
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if alert.assignee not in {principal.label, principal.name if principal.kind == "user" else None}:
        raise HTTPException(403, "a responder acknowledges only the alerts assigned to them")


async def _act(action: Any) -> AlertPayload:
    try:
        payload: AlertPayload = await action()
    except AlertNotFoundError as exc:
        raise HTTPException(404, f"no open alert {exc.args[0]}") from exc
    except AlertClosedError as exc:
        raise HTTPException(409, str(exc)) from exc
    except AlertsUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc
    return payload


@router.get("/silences", response_model=list[SilenceOut])
async def list_silences(engine: EngineDep, principal: CurrentPrincipal) -> list[SilenceOut]:
    now = utc_now()
    silences = await engine.silences()
    return [silence_out(s, now) for s in silences if in_scope(principal, dict(s.matchers).get("site"))]


@router.post("/silences", response_model=SilenceOut, status_code=201)
async def create_silence(engine: EngineDep, principal: CurrentPrincipal, body: SilenceIn) -> SilenceOut:
    if sites_of(principal) is not None and not in_scope(principal, body.matchers.get("site")):
        raise HTTPException(403, "a caller scoped to sites silences only alerts of its sites: match 'site'")
    now = utc_now()
    starts = body.starts_at or now
    if body.ends_at is None and body.duration_s is None:
        raise HTTPException(422, "give 'ends_at' or 'duration_s'")
    ends = body.ends_at or starts + timedelta(seconds=body.duration_s or 0)
    if ends <= starts:
        raise HTTPException(422, "'ends_at' must be after 'starts_at'")
    reason = body.reason or ""
    silence = SilenceRecord(uuid.uuid4().hex[:12], body.matchers, starts, ends, principal.label, reason, now)
    try:
        await engine.add_silence(silence)
    except TooManySilencesError as exc:
        raise HTTPException(409, str(exc)) from exc
    except AlertsUnavailableError as exc:  # a follower whose leader did not answer
        raise HTTPException(503, str(exc)) from exc
    return silence_out(silence, now)


@router.delete("/silences/{silence_id}", response_model=SilenceOut)
async def expire_silence(engine: EngineDep, silence_id: str, principal: CurrentPrincipal) -> SilenceOut:
    if sites_of(principal) is not None:
        mine = {s.id for s in await engine.silences() if in_scope(principal, dict(s.matchers).get("site"))}
        if silence_id not in mine:
            raise HTTPException(404, f"no silence {silence_id}")
    try:
        expired = await engine.expire_silence(silence_id)
    except AlertsUnavailableError as exc:  # a follower whose leader did not answer
        raise HTTPException(503, str(exc)) from exc
    if expired is None:
        raise HTTPException(404, f"no silence {silence_id}")
    logger.info("silence %s (by %s) expired by %s", silence_id, expired.author, principal.label)
    return silence_out(expired, utc_now())


@router.websocket("/alerts/stream")
async def alert_stream(websocket: WebSocket) -> None:
    engine = get_engine(websocket)
    principal = await optional_principal(websocket)
    await websocket.accept()
    try:
        subscription = engine.subscribe()
    except ConnectionRefusedError as exc:
        await websocket.close(code=1013, reason=str(exc))
        return
    gone = asyncio.create_task(until_disconnect(websocket))
    try:
        while (message := await next_unless(subscription.next, gone)) is not None:
            scoped = scoped_message(message, principal)
            if scoped is not None:
                await websocket.send_json(scoped)
        if not gone.done():
            await websocket.close(code=1013, reason="too slow: reconnect for a fresh snapshot")
    except WebSocketDisconnect:
        pass
    finally:
        gone.cancel()
        engine.unsubscribe(subscription)


def scoped_message(message: dict[str, Any], principal: Principal | None) -> dict[str, Any] | None:
    """What of a dashboard message a caller sees: everything, or (scoped) only their sites' alerts
    and incidents; None: nothing."""
    if sites_of(principal) is None:
        return message
    if message.get("type") == "snapshot":
        return {**message, "alerts": [a for a in message["alerts"] if in_scope(principal, a.get("site"))]}
    item = message.get("alert") or message.get("incident") or {}
    return message if in_scope(principal, item.get("site")) else None


def _uuid(alert_id: str) -> str:
    try:
        return str(uuid.UUID(alert_id))
    except ValueError as exc:
        raise HTTPException(404, f"no alert {alert_id}") from exc
