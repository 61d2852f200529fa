"""The alert repository on PostgreSQL: storage's `alerts` / `alert_history` (0002) plus the
engine's rule phases and silences (0100), its outbox rows and evaluation cursor (0103). One
transaction per engine step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from server.alerts.change_notify import CHANGE_CHANNEL, change_notification
from server.alerts.core import StateKey
from server.alerts.matching import SilenceRecord
from server.alerts.model import Alert, HistoryEntry
from server.alerts.repository import AlertQuery, Commit, EvaluationCursor, Restored
from server.alerts.state import RuleState
from server.leadership import SELECT_EPOCH, FencedError
from server.notify.outbox import OutboxClaim, add_deliveries

ALERT_COLUMNS = (
    "id, fingerprint, rule_id, subject, site, state, severity, summary, value, labels, started_at, updated_at, "
    "resolved_at, acknowledged_by, acknowledged_at, assignee, fired_at, resolved_by, members, pending_members, "
    "last_notified_at, escalated_at, muted_by, notified_at"
)
UPSERT_ALERT = f"""
INSERT INTO alerts ({ALERT_COLUMNS})
VALUES ({", ".join(["%s"] * 24)})
ON CONFLICT (id) DO UPDATE SET
    state = EXCLUDED.state, summary = EXCLUDED.summary, value = EXCLUDED.value, labels = EXCLUDED.labels,
    updated_at = EXCLUDED.updated_at, resolved_at = EXCLUDED.resolved_at,
    acknowledged_by = EXCLUDED.acknowledged_by, acknowledged_at = EXCLUDED.acknowledged_at,
    assignee = EXCLUDED.assignee, fired_at = EXCLUDED.fired_at, resolved_by = EXCLUDED.resolved_by,
    members = EXCLUDED.members, pending_members = EXCLUDED.pending_members,
    last_notified_at = EXCLUDED.last_notified_at, escalated_at = EXCLUDED.escalated_at, muted_by = EXCLUDED.muted_by,
    notified_at = EXCLUDED.notified_at
"""
INSERT_HISTORY = """
INSERT INTO alert_history (alert_id, time, to_state, actor, note, action, value) VALUES (%s, %s, %s, %s, %s, %s, %s)
"""
UPSERT_STATE = """
INSERT INTO alert_rule_state (rule_id, subject, phase, since, fired_at, value, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, now())
ON CONFLICT (rule_id, subject) DO UPDATE SET phase = EXCLUDED.phase, since = EXCLUDED.since,
    fired_at = EXCLUDED.fired_at, value = EXCLUDED.value, updated_at = now()
"""
DELETE_STATE = "DELETE FROM alert_rule_state WHERE rule_id = %s AND subject = %s"
UPSERT_SILENCE = """
INSERT INTO alert_silences (id, matchers, starts_at, ends_at, author, reason, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET ends_at = EXCLUDED.ends_at
"""
UPSERT_CURSOR = """
INSERT INTO alert_eval_cursor (id, readings_received_at, events_received_at, updated_at) VALUES (true, %s, %s, now())
ON CONFLICT (id) DO UPDATE SET readings_received_at = EXCLUDED.readings_received_at,
    events_received_at = EXCLUDED.events_received_at, updated_at = now()
"""
SELECT_CURSOR = "SELECT readings_received_at, events_received_at FROM alert_eval_cursor"


def alert_row(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.id, alert.fingerprint, alert.rule_id, alert.subject, alert.site, alert.state, alert.severity,
        alert.summary, alert.value, Jsonb(alert.labels), alert.started_at, alert.updated_at, alert.resolved_at,
        alert.acknowledged_by, alert.acknowledged_at, alert.assignee, alert.fired_at, alert.resolved_by,
        sorted(alert.members), sorted(alert.pending_members), alert.last_notified_at, alert.escalated_at,
        alert.muted_by, alert.notified_at,
    )  # fmt: skip


def alert_from(row: dict[str, Any]) -> Alert:
    return Alert(
        id=str(row["id"]),
        fingerprint=row["fingerprint"],
        rule_id=row["rule_id"],
        severity=row["severity"],
        subject=row["subject"],
        site=row["site"],
        summary=row["summary"],
        labels=dict(row["labels"]),
        state=row["state"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        fired_at=row["fired_at"],
        resolved_at=row["resolved_at"],
        value=row["value"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        assignee=row["assignee"],
        resolved_by=row["resolved_by"],
        members=set(row["members"]),
        pending_members=set(row["pending_members"]),
        last_notified_at=row["last_notified_at"],
        escalated_at=row["escalated_at"],
        muted_by=row["muted_by"],
        notified_at=row["notified_at"],
    )


def where(query: AlertQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("state", query.state),
        ("rule_id", query.rule_id),
        ("site", query.site),
        ("severity", query.severity),
        ("subject", query.subject),
    ):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if query.since is not None:
        clauses.append("started_at >= %s")
        params.append(query.since)
    if query.sites is not None:
        clauses.append("site = ANY(%s::text[])")
        params.append(sorted(query.sites))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class PgAlertRepository:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        claim: OutboxClaim | None = None,
        *,
        notify_changes: bool = False,
        fence: Callable[[], int | None] | None = None,
    ) -> None:
        self._pool = pool
        self._fence = fence
        """shared replicas: this leader's epoch; a step is saved only while it is still the stored one"""
        self._claim = claim
        """the outbox rows a step writes are claimed by this (its dispatcher's) claim"""
        self._notify_changes = notify_changes
        """shared replicas: announce each saved change to every replica's dashboard feed"""

    async def restore(self) -> Restored:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved'")
            alerts = [alert_from(row) for row in await cur.fetchall()]
            await cur.execute("SELECT rule_id, subject, phase, since, fired_at, value FROM alert_rule_state")
            states = {
                (row["rule_id"], row["subject"]): RuleState(row["phase"], row["since"], row["fired_at"], row["value"])
                for row in await cur.fetchall()
            }
            await cur.execute("SELECT * FROM alert_silences WHERE ends_at > now()")
            silences = [SilenceRecord(**row) for row in await cur.fetchall()]
            await cur.execute(SELECT_CURSOR)
            row = await cur.fetchone()
        cursor = EvaluationCursor(row["readings_received_at"], row["events_received_at"]) if row else None
        return Restored(alerts, states, silences, cursor)

    async def save(self, commit: Commit) -> None:
        if not commit:
            return
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if self._fence is not None:
                await check_fence(cur, self._fence())
            changes = commit.changes
            alerts = {change.alert.id: change.alert for change in changes if change.alert is not None}
            if alerts:
                await cur.executemany(UPSERT_ALERT, [alert_row(alert) for alert in alerts.values()])
            if changes:
                await cur.executemany(INSERT_HISTORY, [_history_row(change.entry) for change in changes])
            if changes and self._notify_changes:  # delivered at commit, each change once
                notes = [(CHANGE_CHANNEL, change_notification(change)) for change in changes]
                await cur.executemany("SELECT pg_notify(%s, %s)", notes)
            await _save_states(cur, commit.states)
            await add_deliveries(cur, commit.deliveries, self._claim)
            if commit.cursor is not None:
                await cur.execute(UPSERT_CURSOR, (commit.cursor.readings, commit.cursor.events))

    async def save_silence(self, silence: SilenceRecord) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                UPSERT_SILENCE,
                (silence.id, Jsonb(dict(silence.matchers)), silence.starts_at, silence.ends_at, silence.author,
                 silence.reason, silence.created_at),
            )  # fmt: skip

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        clause, params = where(query)
        sql = f"SELECT {ALERT_COLUMNS} FROM alerts{clause} ORDER BY started_at DESC LIMIT %s"
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, [*params, query.limit])
            return [alert_from(row) for row in await cur.fetchall()]

    async def alert(self, alert_id: str) -> Alert | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s", (alert_id,))
            row = await cur.fetchone()
        return alert_from(row) if row is not None else None

    async def history(self, alert_id: str) -> list[HistoryEntry]:
        sql = "SELECT time, action, to_state, actor, note, value FROM alert_history WHERE alert_id = %s ORDER BY id"
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, (alert_id,))
            rows = await cur.fetchall()
        return [
            HistoryEntry(
                alert_id, r["time"], r["action"] or r["to_state"], r["to_state"], r["actor"], r["note"], r["value"]
            )
            for r in rows
        ]


async def _save_states(cur: psycopg.AsyncCursor[Any], states: dict[StateKey, RuleState | None]) -> None:
    for (rule_id, subject), state in states.items():
        if state is None:
            await cur.execute(DELETE_STATE, (rule_id, subject))
        else:
            await cur.execute(UPSERT_STATE, (rule_id, subject, state.phase, state.since, state.fired_at, state.value))


async def check_fence(cur: psycopg.AsyncCursor[Any], epoch: int | None) -> None:
    """In the caller's transaction: the stored leader epoch is still `epoch` (and stays so until commit)."""
    await cur.execute(SELECT_EPOCH)
    row = await cur.fetchone()
    stored = row[0] if row else None
    if epoch is None or stored != epoch:
        raise FencedError(f"this replica is no longer the leader (its epoch {epoch}, the current one {stored})")


def _history_row(entry: HistoryEntry) -> tuple[Any, ...]:
    return (entry.alert_id, entry.at, entry.state, entry.actor, entry.note, entry.action, entry.value)
