"""Shift handover notes: what the outgoing shift leaves (the active incidents as they stand, what
was done on them during the shift, free text); the next shift acknowledges it. Stored in
`handover_notes` (migration 0300)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from server.incidents.model import Incident, TimelineEntry

DONE_KINDS = frozenset({"state", "step", "comment", "assigned", "override", "attachment", "linked", "unlinked"})
MAX_DONE_PER_INCIDENT = 20
MAX_NOTES = 200


@dataclass(frozen=True, slots=True)
class HandoverNote:
    id: str
    site: str | None
    author: str
    created_at: datetime
    text: str
    items: list[dict[str, Any]]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "text": self.text,
            "items": self.items,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": None if self.acknowledged_at is None else self.acknowledged_at.isoformat(),
        }


def handover_items(
    incidents: Sequence[Incident], timelines: dict[str, list[TimelineEntry]], since: datetime | None
) -> list[dict[str, Any]]:
    """Each active incident with its state and what was done on it since `since` (the last note)."""
    items = []
    for incident in incidents:
        done = [
            entry.public()
            for entry in timelines.get(incident.id, [])
            if entry.kind in DONE_KINDS and (since is None or entry.at >= since)
        ]
        items.append(
            {
                "id": incident.id,
                "title": incident.title,
                "site": incident.site,
                "state": incident.state,
                "severity": incident.severity,
                "assignee": incident.assignee,
                "steps_done": sorted(incident.steps),
                "done": done[-MAX_DONE_PER_INCIDENT:],
            }
        )
    return items


def new_note(site: str | None, author: str, now: datetime, text: str, items: list[dict[str, Any]]) -> HandoverNote:
    return HandoverNote(str(uuid.uuid4()), site, author, now, text, items)


COLUMNS = "id, site, author, created_at, text, items, acknowledged_by, acknowledged_at"


def _note(row: dict[str, Any]) -> HandoverNote:
    return HandoverNote(**{**row, "id": str(row["id"]), "items": list(row["items"])})


class PgHandoverRepository:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(self, note: HandoverNote) -> None:
        sql = f"INSERT INTO handover_notes ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        row = (note.id, note.site, note.author, note.created_at, note.text, Jsonb(note.items), None, None)
        async with self.pool.connection() as conn:
            await conn.execute(sql, row)

    async def notes(self, sites: frozenset[str] | None, limit: int = 20) -> list[HandoverNote]:
        """Newest first; a scoped caller sees the notes of its sites (and none without a site)."""
        where, params = ("true", []) if sites is None else ("site = ANY(%s)", [sorted(sites)])
        sql = (
            f"SELECT {COLUMNS} FROM handover_notes WHERE {where} ORDER BY created_at DESC LIMIT {min(limit, MAX_NOTES)}"
        )
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return [_note(row) for row in await cur.fetchall()]

    async def note(self, note_id: str) -> HandoverNote | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {COLUMNS} FROM handover_notes WHERE id = %s", (note_id,))
            row = await cur.fetchone()
        return None if row is None else _note(row)

    async def acknowledge(self, note_id: str, by: str, now: datetime) -> HandoverNote | None:
        """The next shift took it over; None when absent or acknowledged already."""
        sql = (
            "UPDATE handover_notes SET acknowledged_by = %s, acknowledged_at = %s "
            f"WHERE id = %s AND acknowledged_by IS NULL RETURNING {COLUMNS}"
        )
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, (by, now, note_id))
            row = await cur.fetchone()
        return None if row is None else _note(row)
