"""Shared replicas: operator actions reaching a follower are applied by the leader.

A follower writes the action to `alert_commands` (and `NOTIFY COMMAND_CHANNEL` in the same
transaction); the leader (`command_applier.py`) claims it, applies it through its engine's public
API and writes the result (and `NOTIFY DONE_CHANNEL`). The follower waits for that notification
(and reads the row every `POLL_S` in case one was missed), then answers the API call with the
result, or raises the engine's own error. A command no leader took within `timeout_s` is marked
`expired` in one guarded update, so it is never applied after the caller was told it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from server.alerts.book import AlertClosedError, AlertNotFoundError
from server.alerts.core import TooManySilencesError
from server.alerts.engine import AlertsUnavailableError
from server.alerts.matching import SilenceRecord

logger = logging.getLogger(__name__)

COMMAND_CHANNEL = "ioc_alert_command"
DONE_CHANNEL = "ioc_alert_command_done"
POLL_S = 0.5
KEPT = "1 day"

INSERT_COMMAND = "INSERT INTO alert_commands (command, args) VALUES (%s, %s) RETURNING id"
SELECT_RESULT = "SELECT state, result, error_kind, error FROM alert_commands WHERE id = %s"
EXPIRE_COMMAND = "UPDATE alert_commands SET state = 'expired', done_at = now() WHERE id = %s AND state = 'pending'"

ERRORS: dict[str, type[Exception]] = {
    "not_found": AlertNotFoundError,
    "closed": AlertClosedError,
    "unavailable": AlertsUnavailableError,
    "too_many_silences": TooManySilencesError,
}


def error_kind(exc: Exception) -> str:
    return next((kind for kind, cls in ERRORS.items() if isinstance(exc, cls)), "failed")


def silence_args(silence: SilenceRecord) -> dict[str, Any]:
    args = asdict(silence)
    args["matchers"] = dict(silence.matchers)
    for key in ("starts_at", "ends_at", "created_at"):
        args[key] = args[key].isoformat()
    return args


def silence_of(args: dict[str, Any]) -> SilenceRecord:
    times = {key: datetime.fromisoformat(args[key]) for key in ("starts_at", "ends_at", "created_at")}
    return SilenceRecord(args["id"], dict(args["matchers"]), author=args["author"], reason=args["reason"], **times)


class CommandClient:
    """The follower's side: submit a command and wait for the leader's result."""

    def __init__(self, pool: AsyncConnectionPool, timeout_s: float = 5.0) -> None:
        self._pool = pool
        self.timeout_s = timeout_s
        self._done: dict[int, asyncio.Event] = {}
        self.expired = 0

    async def on_done(self, payload: str) -> None:
        """A `DONE_CHANNEL` notification (from the replica's listener)."""
        with contextlib.suppress(ValueError):
            event = self._done.get(int(payload))
            if event is not None:
                event.set()

    async def submit(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """The leader's result for `command`; the engine's error when it refused it."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(INSERT_COMMAND, (command, Jsonb(args)))
            row = await cursor.fetchone()
            assert row is not None
            command_id = int(row[0])
            await conn.execute("SELECT pg_notify(%s, %s)", (COMMAND_CHANNEL, str(command_id)))
        event = self._done[command_id] = asyncio.Event()
        try:
            return await self._wait(command_id, command, event)
        finally:
            self._done.pop(command_id, None)

    async def _wait(self, command_id: int, command: str, event: asyncio.Event) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline, expired = loop.time() + self.timeout_s, False
        while True:
            row = await self._result(command_id)
            if row["state"] in ("done", "failed"):
                return self._answer(row)
            if loop.time() >= deadline:
                if expired or await self._expire(command_id):
                    raise AlertsUnavailableError(self._late(command, row["state"] == "pending"))
                expired, deadline = True, loop.time() + self.timeout_s  # the leader is applying it: wait once more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), POLL_S)

    async def _result(self, command_id: int) -> dict[str, Any]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SELECT_RESULT, (command_id,))
            row = await cur.fetchone()
        assert row is not None, f"command {command_id} vanished"
        return row

    async def _expire(self, command_id: int) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(EXPIRE_COMMAND, (command_id,))
        if cursor.rowcount:
            self.expired += 1
        return bool(cursor.rowcount)

    def _late(self, command: str, never_taken: bool) -> str:
        if never_taken:
            return f"no leader replica took the {command} within {self.timeout_s:g}s; it was not applied"
        return f"the leader replica did not finish the {command} within {2 * self.timeout_s:g}s; see the alert history"

    @staticmethod
    def _answer(row: dict[str, Any]) -> dict[str, Any]:
        if row["state"] == "done":
            result: dict[str, Any] = row["result"] or {}
            return result
        error = ERRORS.get(row["error_kind"] or "", AlertsUnavailableError)
        raise error(row["error"] or "the leader replica could not apply it")
