"""Incidents on PostgreSQL (migration 0300): one transaction per save holds the incidents' rows,
their alert links and SOP ticks, the new timeline entries, and the outbox rows of escalation
notices (`alert_outbox`, delivered by the existing notifiers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from server.incidents.change_notify import INCIDENT_CHANNEL, incident_notification
from server.incidents.model import Escalation, Incident, IncidentChange, LinkedAlert, StepDone, TimelineEntry
from server.notify.outbox import Delivery, add_deliveries

COLUMNS = (
    "id, type, title, site, state, severity_set, severity, assignee, sop_id, group_key, override_reason, "
    "opened_at, opened_by, updated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, closed_at, "
    "closed_by, last_alert_at, progressed_at, esc_policy, esc_level, esc_round, esc_stale, esc_next_at"
)
_UPDATED = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS.split(", ")[1:])
UPSERT = (
    f"INSERT INTO incidents ({COLUMNS}) VALUES ({', '.join(['%s'] * 27)}) ON CONFLICT (id) DO UPDATE SET {_UPDATED}"
)
DELETE_LINKS = "DELETE FROM incident_alerts WHERE incident_id = %s"
INSERT_LINK = """
INSERT INTO incident_alerts (incident_id, alert_id, rule_id, subject, severity, state, linked_at)
VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (alert_id) DO NOTHING
"""
SELECT_SETTLED = """
SELECT a.alert_id::text, a.incident_id::text FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
WHERE i.state = 'closed' AND a.state <> 'resolved' ORDER BY i.closed_at DESC LIMIT %s
"""
DELETE_STEPS = "DELETE FROM incident_steps WHERE incident_id = %s"
INSERT_STEP = "INSERT INTO incident_steps (incident_id, step_id, done_by, done_at) VALUES (%s, %s, %s, %s)"
INSERT_ENTRY = (
    "INSERT INTO incident_timeline (incident_id, at, kind, actor, text, data) VALUES (%s, %s, %s, %s, %s, %s)"
)
MAX_LIST = 1000
NOTIFY = "SELECT pg_notify(%s, %s)"
LINK_KINDS = frozenset({"opened", "linked", "unlinked", "alert"})
STEP_KINDS = frozenset({"step"})


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    state: str | None = None
    active: bool | None = None
    sites: frozenset[str] | None = None
    """None: every site; a set: only these (scoped callers)"""
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def incident_row(i: Incident) -> tuple[Any, ...]:
    e = i.escalation
    return (
        i.id, i.type, i.title, i.site, i.state, i.severity_set, i.severity, i.assignee, i.sop_id, i.group_key,
        i.override_reason, i.opened_at, i.opened_by, i.updated_at, i.acknowledged_at, i.acknowledged_by,
        i.resolved_at, i.resolved_by, i.closed_at, i.closed_by, i.last_alert_at, i.progressed_at,
        e.policy_id, e.level, e.round, e.stale, e.next_at,
    )  # fmt: skip


def incident_from(row: dict[str, Any]) -> Incident:
    fields = {k: row[k] for k in COLUMNS.split(", ") if not k.startswith("esc_") and k != "severity"}
    fields["id"] = str(row["id"])
    escalation = Escalation(row["esc_policy"], row["esc_level"], row["esc_round"], row["esc_next_at"], row["esc_stale"])
    return Incident(**fields, escalation=escalation)


class IncidentReader(Protocol):
    """What the read routes need: the service (memory first) or, on a follower, the repository."""

    async def incidents(self, query: IncidentQuery) -> list[Incident]: ...

    async def incident(self, incident_id: str) -> Incident | None: ...

    async def timeline(self, incident_id: str) -> list[TimelineEntry]: ...

    async def top_subjects(
        self, sites: frozenset[str] | None, start: datetime, end: datetime, limit: int = 10
    ) -> list[tuple[str, int]]: ...


class PgIncidentRepository:
    def __init__(self, pool: AsyncConnectionPool, announce: bool = False) -> None:
        """`announce`: shared replicas; each save also NOTIFYs its changes to every replica's
        dashboard stream (`change_notify.py`)."""
        self.pool = pool
        self.announce = announce

    async def save(self, changes: Sequence[IncidentChange], deliveries: Sequence[Delivery]) -> None:
        """One transaction; an incident's alert links and SOP ticks are rewritten only when one of
        its entries says they changed (most steps touch the incident row and the timeline only).
        Its statements go in one pipeline (nothing is read back): one round trip to the commit
        rather than one per statement, which under load was most of an incident's own latency."""
        latest = {change.incident.id: change.incident for change in changes}
        kinds: dict[str, set[str]] = {}
        for change in changes:
            kinds.setdefault(change.incident.id, set()).update(entry.kind for entry in change.entries)
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            for incident in latest.values():
                await self._save_incident(cur, incident, kinds[incident.id])
            entries = [entry for change in changes for entry in change.entries]
            await cur.executemany(INSERT_ENTRY, [_entry_row(entry) for entry in entries])
            await add_deliveries(cur, deliveries)
            if self.announce:
                notices = [(INCIDENT_CHANNEL, incident_notification(change)) for change in changes]
                await cur.executemany(NOTIFY, notices)

    @staticmethod
    async def _save_incident(cur: psycopg.AsyncCursor[Any], incident: Incident, kinds: set[str]) -> None:
        await cur.execute(UPSERT, incident_row(incident))
        if kinds & LINK_KINDS:
            await _save_links(cur, incident)
        if kinds & STEP_KINDS:
            await cur.execute(DELETE_STEPS, (incident.id,))
            steps = [(incident.id, s.step_id, s.by, s.at) for s in incident.steps.values()]
            await cur.executemany(INSERT_STEP, steps)

    async def restore(self) -> list[Incident]:
        """Every incident not closed, with its alerts and steps."""
        return await self.incidents(IncidentQuery(active=None, limit=0), open_only=True)

    async def settled(self, limit: int = 100_000) -> list[tuple[str, str]]:
        """(alert, incident) of closed incidents whose alerts were still open when they closed."""
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(SELECT_SETTLED, (limit,))
            rows = await cur.fetchall()
        return [(str(alert_id), str(incident_id)) for alert_id, incident_id in reversed(rows)]

    async def incidents(self, query: IncidentQuery, open_only: bool = False) -> list[Incident]:
        where, params = _where(query, open_only)
        limit = "" if query.limit <= 0 else f" LIMIT {min(query.limit, MAX_LIST)}"
        sql = f"SELECT * FROM incidents WHERE {where} ORDER BY opened_at DESC{limit}"
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            found = [incident_from(row) for row in await cur.fetchall()]
            await _fill(cur, {incident.id: incident for incident in found})
        return found

    async def incident(self, incident_id: str) -> Incident | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute("SELECT * FROM incidents WHERE id = %s", (incident_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            found = incident_from(row)
            await _fill(cur, {found.id: found})
        return found

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        sql = "SELECT at, kind, actor, text, data FROM incident_timeline WHERE incident_id = %s ORDER BY id"
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, (incident_id,))
            rows = await cur.fetchall()
        return [TimelineEntry(incident_id, r["at"], r["kind"], r["actor"], r["text"], dict(r["data"])) for r in rows]

    async def top_subjects(
        self, sites: frozenset[str] | None, start: datetime, end: datetime, limit: int = 10
    ) -> list[tuple[str, int]]:
        """The sensors and cameras with the most alerts started in the period (for reports)."""
        where = "started_at >= %s AND started_at < %s"
        params: list[Any] = [start, end]
        if sites is not None:
            where += " AND site = ANY(%s)"
            params.append(sorted(sites))
        grouped = "GROUP BY subject ORDER BY n DESC, subject LIMIT %s"
        sql = f"SELECT subject, count(*) AS n FROM alerts WHERE {where} {grouped}"
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(sql, [*params, limit])
            return [(str(subject), int(n)) for subject, n in await cur.fetchall()]


async def _save_links(cur: psycopg.AsyncCursor[Any], incident: Incident) -> None:
    await cur.execute(DELETE_LINKS, (incident.id,))
    links = [
        (incident.id, a.alert_id, a.rule_id, a.subject, a.severity, a.state, a.linked_at)
        for a in incident.alerts.values()
    ]
    await cur.executemany(INSERT_LINK, links)


def _entry_row(entry: TimelineEntry) -> tuple[Any, ...]:
    return (entry.incident_id, entry.at, entry.kind, entry.actor, entry.text, Jsonb(entry.data))


def _where(query: IncidentQuery, open_only: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = ["true"]
    params: list[Any] = []
    if open_only:
        clauses.append("state <> 'closed'")
    if query.active is True:
        clauses.append("state IN ('open', 'acknowledged', 'in_progress')")
    for column, value in (("state", query.state), ("type", query.type)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if query.sites is not None:
        clauses.append("site = ANY(%s)")
        params.append(sorted(query.sites))
    if query.since is not None:
        clauses.append("opened_at >= %s")
        params.append(query.since)
    if query.until is not None:
        clauses.append("opened_at < %s")
        params.append(query.until)
    return " AND ".join(clauses), params


async def _fill(cur: psycopg.AsyncCursor[dict[str, Any]], incidents: dict[str, Incident]) -> None:
    if not incidents:
        return
    ids = list(incidents)
    await cur.execute("SELECT * FROM incident_alerts WHERE incident_id = ANY(%s::uuid[]) ORDER BY linked_at", (ids,))
    for r in await cur.fetchall():
        link = LinkedAlert(str(r["alert_id"]), r["rule_id"], r["subject"], r["severity"], r["state"], r["linked_at"])
        incidents[str(r["incident_id"])].alerts[link.alert_id] = link
    await cur.execute("SELECT * FROM incident_steps WHERE incident_id = ANY(%s::uuid[])", (ids,))
    for r in await cur.fetchall():
        incidents[str(r["incident_id"])].steps[r["step_id"]] = StepDone(r["step_id"], r["done_by"], r["done_at"])
