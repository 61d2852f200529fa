"""Shift handover: the outgoing shift writes a note (the active incidents with their state and
what was done on them since the last note, plus free text); the next shift reads the current one
and acknowledges it. Scoped callers see and write notes of their sites only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from contract.timeutil import utc_now
from server.api.deps import get_services
from server.api.routes.incidents import ReaderDep
from server.auth.deps import CurrentPrincipal
from server.auth.roles import Principal
from server.auth.scope import narrowed, require_in_scope
from server.incidents.handover import HandoverNote, PgHandoverRepository, handover_items, new_note
from server.incidents.pg_repository import IncidentQuery, IncidentReader

router = APIRouter(prefix="/api/handover", tags=["handover"])


def get_handover(conn: HTTPConnection) -> PgHandoverRepository:
    """Notes live in the database only: every replica (a follower too) serves them."""
    return PgHandoverRepository(get_services(conn).pool)


HandoverDep = Annotated[PgHandoverRepository, Depends(get_handover)]


class NoteIn(BaseModel):
    text: str = Field(default="", max_length=8000)
    site: str | None = Field(default=None, description="the site of the shift; default: every site in scope")


async def _open_items(service: IncidentReader, sites: frozenset[str] | None, since: Any) -> list[dict[str, Any]]:
    active = await service.incidents(IncidentQuery(active=True, sites=sites, limit=500))
    timelines = {incident.id: await service.timeline(incident.id) for incident in active}
    return handover_items(active, timelines, since)


@router.get("")
async def list_notes(
    repository: HandoverDep,
    principal: CurrentPrincipal,
    site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[dict[str, Any]]:
    return [note.public() for note in await repository.notes(narrowed(principal, site), limit)]


@router.get("/current")
async def current(
    repository: HandoverDep, service: ReaderDep, principal: CurrentPrincipal, site: str | None = None
) -> dict[str, Any]:
    """The last note (to acknowledge) and the current shift's open items."""
    sites = narrowed(principal, site)
    notes = await repository.notes(sites, 1)
    last = notes[0] if notes else None
    items = await _open_items(service, sites, last.created_at if last else None)
    return {"note": None if last is None else last.public(), "open": items}


@router.post("", status_code=201)
async def write_note(
    repository: HandoverDep, service: ReaderDep, principal: CurrentPrincipal, body: NoteIn
) -> dict[str, Any]:
    if body.site is not None:
        require_in_scope(principal, body.site, f"site {body.site}")
    sites = narrowed(principal, body.site)
    notes = await repository.notes(sites, 1)
    items = await _open_items(service, sites, notes[0].created_at if notes else None)
    site = body.site or (next(iter(sites)) if sites is not None and len(sites) == 1 else None)
    note = new_note(site, principal.label, utc_now(), body.text, items)
    await repository.add(note)
    return note.public()


@router.post("/{note_id}/acknowledge")
async def acknowledge(repository: HandoverDep, principal: CurrentPrincipal, note_id: str) -> dict[str, Any]:
    note = await _visible(repository, principal, note_id)
    acknowledged = await repository.acknowledge(note.id, principal.label, utc_now())
    if acknowledged is None:
        raise HTTPException(409, f"note {note_id} was acknowledged by {note.acknowledged_by}")
    return acknowledged.public()


async def _visible(repository: PgHandoverRepository, principal: Principal, note_id: str) -> HandoverNote:
    try:
        key = str(uuid.UUID(note_id))
    except ValueError as exc:
        raise HTTPException(404, f"no note {note_id}") from exc
    note = await repository.note(key)
    if note is None:
        raise HTTPException(404, f"no note {note_id}")
    if note.site is not None or principal.sites is not None:
        require_in_scope(principal, note.site, f"note {note_id}")
    return note
