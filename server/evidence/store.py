"""Evidence rows in PostgreSQL (migration 0800_evidence.sql): clips, reviews, cases, the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

_CLIP_COLUMNS = (
    "id, camera_id, worker_id, kind, request_id, start_time, end_time, duration_s, bytes, sha256, store_key, "
    "received_at"
)

# A case is within a set of cameras when none of its clips is of another camera and each of its
# snapshots is of an event of one of them (a snapshot whose event is gone is nobody's).
_CASE_IN_CAMERAS = (
    "NOT EXISTS (SELECT 1 FROM evidence_case_items i JOIN evidence_clips k ON k.id = i.item_id "
    "WHERE i.case_id = c.id AND i.kind = 'clip' AND NOT k.camera_id = ANY(%s::text[])) "
    "AND NOT EXISTS (SELECT 1 FROM evidence_case_items i WHERE i.case_id = c.id AND i.kind = 'snapshot' "
    "AND NOT EXISTS (SELECT 1 FROM detection_events e WHERE e.id = i.item_id AND e.camera_id = ANY(%s::text[])))"
)


@dataclass(frozen=True)
class ClipRecord:
    id: str
    camera_id: str
    worker_id: str | None
    kind: str
    request_id: str | None
    start_time: datetime
    end_time: datetime
    duration_s: float
    bytes: int
    sha256: str
    store_key: str
    received_at: datetime | None = None
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseRecord:
    id: int
    title: str
    reference: str | None
    note: str | None
    created_by: str
    created_at: datetime
    clips: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)  # event ids


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    actor_kind: str
    role: str
    action: str
    object: str
    detail: dict[str, Any] = field(default_factory=dict)
    remote: str | None = None
    sites: list[str] = field(default_factory=list)  # the sites of the cameras the action touched


@dataclass(frozen=True)
class AuditRecord(AuditEntry):
    id: int = 0
    time: datetime | None = None


def _clip(row: dict[str, Any], event_ids: list[str] | None = None) -> ClipRecord:
    return ClipRecord(**row, event_ids=event_ids or [])


class EvidenceStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.encode(), params)
            return await cur.fetchall() if cur.description else []

    async def _exec(self, sql: str, params: tuple[object, ...] = ()) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql.encode(), params)
            return cursor.rowcount

    # ------------------------------------------------------------------ clips

    async def add_clip(self, clip: ClipRecord) -> bool:
        """Index a stored clip; False when a clip with this id is already indexed (a redelivery)."""
        sql = (
            f"INSERT INTO evidence_clips ({_CLIP_COLUMNS.replace(', received_at', '')}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
        )
        values = (
            clip.id,
            clip.camera_id,
            clip.worker_id,
            clip.kind,
            clip.request_id,
            clip.start_time,
            clip.end_time,
            clip.duration_s,
            clip.bytes,
            clip.sha256,
            clip.store_key,
        )
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(sql.encode(), values)
            if cursor.rowcount == 0:
                return False
            for event_id in clip.event_ids:
                await conn.execute(
                    b"INSERT INTO evidence_clip_events (clip_id, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (clip.id, event_id),
                )
        return True

    async def clip(self, clip_id: str) -> ClipRecord | None:
        rows = await self._all(f"SELECT {_CLIP_COLUMNS} FROM evidence_clips WHERE id = %s", (clip_id,))
        if not rows:
            return None
        events = await self._all("SELECT event_id FROM evidence_clip_events WHERE clip_id = %s", (clip_id,))
        return _clip(rows[0], [str(r["event_id"]) for r in events])

    async def clips(
        self,
        camera_id: str | None,
        start: datetime,
        end: datetime,
        event_id: str | None = None,
        limit: int = 500,
        cameras: frozenset[str] | None = None,
    ) -> list[ClipRecord]:
        """Clips overlapping [start, end); `cameras` (a scoped caller's) is applied before the limit."""
        where = ["c.end_time > %s", "c.start_time < %s"]
        params: list[object] = [start, end]
        if camera_id is not None:
            where.append("c.camera_id = %s")
            params.append(camera_id)
        if cameras is not None:
            where.append("c.camera_id = ANY(%s::text[])")
            params.append(sorted(cameras))
        if event_id is not None:
            where.append("c.id IN (SELECT clip_id FROM evidence_clip_events WHERE event_id = %s)")
            params.append(event_id)
        columns = ", ".join(f"c.{c.strip()}" for c in _CLIP_COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, coalesce(array_agg(e.event_id) FILTER (WHERE e.event_id IS NOT NULL), '{{}}') AS ev "
            f"FROM evidence_clips c LEFT JOIN evidence_clip_events e ON e.clip_id = c.id WHERE {' AND '.join(where)} "
            f"GROUP BY c.id ORDER BY c.start_time LIMIT %s"
        )
        rows = await self._all(sql, (*params, limit))
        return [_clip({k: v for k, v in row.items() if k != "ev"}, list(row["ev"])) for row in rows]

    async def expired_clips(self, keep: timedelta, limit: int = 1000) -> list[ClipRecord]:
        """Clips received longer than `keep` ago that no case holds."""
        sql = (
            f"SELECT {_CLIP_COLUMNS} FROM evidence_clips WHERE received_at < now() - %s::interval AND id NOT IN "
            "(SELECT item_id FROM evidence_case_items WHERE kind = 'clip') ORDER BY received_at LIMIT %s"
        )
        return [_clip(row) for row in await self._all(sql, (keep, limit))]

    async def delete_clip(self, clip_id: str) -> None:
        await self._exec("DELETE FROM evidence_clips WHERE id = %s", (clip_id,))

    # ------------------------------------------------------------------ review state

    async def set_reviewed(self, event_ids: list[str], reviewer: str, reviewed: bool) -> None:
        if reviewed:
            sql = (
                "INSERT INTO evidence_reviews (event_id, reviewer) SELECT unnest(%s::text[]), %s ON CONFLICT DO NOTHING"
            )
        else:
            sql = "DELETE FROM evidence_reviews WHERE event_id = ANY(%s::text[]) AND reviewer = %s"
        await self._exec(sql, (event_ids, reviewer))

    async def reviewed(self, event_ids: list[str], reviewer: str) -> set[str]:
        sql = "SELECT event_id FROM evidence_reviews WHERE event_id = ANY(%s::text[]) AND reviewer = %s"
        return {str(row["event_id"]) for row in await self._all(sql, (event_ids, reviewer))}

    # ------------------------------------------------------------------ cases

    async def create_case(self, title: str, reference: str | None, note: str | None, created_by: str) -> int:
        sql = "INSERT INTO evidence_cases (title, reference, note, created_by) VALUES (%s, %s, %s, %s) RETURNING id"
        rows = await self._all(sql, (title, reference, note, created_by))
        return int(rows[0]["id"])

    async def add_case_items(self, case_id: int, kind: str, item_ids: list[str]) -> None:
        sql = (
            "INSERT INTO evidence_case_items (case_id, kind, item_id) SELECT %s, %s, unnest(%s::text[]) "
            "ON CONFLICT DO NOTHING"
        )
        await self._exec(sql, (case_id, kind, item_ids))

    async def case(self, case_id: int) -> CaseRecord | None:
        rows = await self._all(
            "SELECT id, title, reference, note, created_by, created_at FROM evidence_cases WHERE id = %s", (case_id,)
        )
        if not rows:
            return None
        items = await self._all(
            "SELECT kind, item_id FROM evidence_case_items WHERE case_id = %s ORDER BY added_at, item_id", (case_id,)
        )
        clips = [str(i["item_id"]) for i in items if i["kind"] == "clip"]
        snapshots = [str(i["item_id"]) for i in items if i["kind"] == "snapshot"]
        return CaseRecord(**rows[0], clips=clips, snapshots=snapshots)

    async def cases(self, limit: int = 200, cameras: frozenset[str] | None = None) -> list[CaseRecord]:
        """Newest first; with `cameras` (a scoped caller's), only the cases whose every clip and
        snapshot is of those cameras, applied before the limit."""
        where, params = ("", []) if cameras is None else (f" WHERE {_CASE_IN_CAMERAS}", [sorted(cameras)] * 2)
        sql = f"SELECT id, title, reference, note, created_by, created_at FROM evidence_cases c{where} "
        rows = await self._all(sql + "ORDER BY id DESC LIMIT %s", (*params, limit))
        return [CaseRecord(**row) for row in rows]

    # ------------------------------------------------------------------ audit

    async def append_audit(self, entry: AuditEntry) -> None:
        sql = (
            "INSERT INTO audit_log (actor, actor_kind, role, action, object, detail, remote, sites) "
            "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s::text[])"
        )
        values = (
            entry.actor,
            entry.actor_kind,
            entry.role,
            entry.action,
            entry.object,
            json.dumps(entry.detail),
            entry.remote,
            sorted(entry.sites),
        )
        await self._exec(sql, values)

    async def audit(
        self,
        action: str | None = None,
        actor: str | None = None,
        limit: int = 200,
        before_id: int | None = None,
        sites: frozenset[str] | None = None,
    ) -> list[AuditRecord]:
        """Newest first; with `sites` (a scoped caller's), only the rows about those sites alone
        (a row touching another site, or none, is left out), applied before the limit."""
        where: list[str] = ["true"]
        params: list[object] = []
        for column, value in (("action", action), ("actor", actor)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if before_id is not None:
            where.append("id < %s")
            params.append(before_id)
        if sites is not None:
            where.append("cardinality(sites) > 0 AND sites <@ %s::text[]")
            params.append(sorted(sites))
        sql = (
            "SELECT id, time, actor, actor_kind, role, action, object, detail, remote, sites FROM audit_log "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s"
        )
        return [AuditRecord(**row) for row in await self._all(sql, (*params, limit))]

    async def expire_audit(self, keep: timedelta) -> int:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(b"SET LOCAL ioc.audit_retention = 'on'")
            cursor = await conn.execute(b"DELETE FROM audit_log WHERE time < now() - %s::interval", (keep,))
            return cursor.rowcount
