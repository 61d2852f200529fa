"""Shared replicas, the leader's side of `commands.py`: apply the operator actions followers wrote.

Woken by `NOTIFY` (its own listener) and, at the latest, every `poll_s`; each command is claimed
(`FOR UPDATE SKIP LOCKED`, state `running`), applied through the engine's public API, and answered
with its result or the engine's error kind, in order. A command left `running` by a leader that
stopped mid-way is answered `failed` by the next one (it may or may not have been applied: the
alert's history tells). Commands older than a day are removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from server.alerts.commands import COMMAND_CHANNEL, DONE_CHANNEL, KEPT, error_kind, silence_args, silence_of
from server.db.listener import PgListener
from server.tasks import cancel_until_done

if TYPE_CHECKING:
    from server.alerts.engine import AlertEngine

logger = logging.getLogger(__name__)

CLAIM = """
UPDATE alert_commands SET state = 'running'
WHERE id = (SELECT id FROM alert_commands WHERE state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, command, args
"""
ANSWER = "UPDATE alert_commands SET state = %s, result = %s, error_kind = %s, error = %s, done_at = now() WHERE id = %s"
ABANDONED = """
UPDATE alert_commands SET state = 'failed', error_kind = 'unavailable', done_at = now(),
    error = 'the leader replica stopped while applying it; the alert history tells whether it was applied'
WHERE state = 'running'
"""
PRUNE = f"DELETE FROM alert_commands WHERE created_at < now() - interval '{KEPT}'"


class CommandApplier:
    def __init__(self, engine: AlertEngine, pool: AsyncConnectionPool, database_url: str, poll_s: float = 1.0) -> None:
        self.engine = engine
        self._pool = pool
        self.poll_s = poll_s
        self.applied = 0
        self._woken = asyncio.Event()
        self._listener = PgListener(database_url, {COMMAND_CHANNEL: self._notified}, "alert-commands", self._wake)
        self._task: asyncio.Task[None] | None = None

    @property
    def listener_failures(self) -> int:
        return self._listener.handler_failures

    async def start(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(ABANDONED)
            await conn.execute(PRUNE.encode())
        self._listener.start()
        self._task = asyncio.create_task(self._run(), name="alert-commands")

    async def stop(self) -> None:
        await self._listener.stop()
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None

    async def _notified(self, _payload: str) -> None:
        self._woken.set()

    async def _wake(self) -> None:
        self._woken.set()

    async def _run(self) -> None:
        failing = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_s)
            self._woken.clear()
            try:
                while await self.apply_next():
                    pass
            except Exception:
                failing += 1
                if failing == 1:
                    logger.exception("alert commands: reading or answering failed; retried every %ss", self.poll_s)
                continue
            if failing:
                logger.info("alert commands: applied again after %s failures", failing)
                failing = 0

    async def apply_next(self) -> bool:
        """Claim, apply and answer the oldest pending command; False when there is none."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(CLAIM)
            row = await cur.fetchone()
        if row is None:
            return False
        try:
            result = await self._apply(row["command"], row["args"])
        except Exception as exc:
            kind = error_kind(exc)
            if kind == "failed":
                logger.exception("alert command %s (%s) failed", row["id"], row["command"])
            answer: tuple[Any, ...] = ("failed", None, kind, str(exc))
        else:
            answer = ("done", Jsonb(result), None, None)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(ANSWER, (*answer, row["id"]))
            await conn.execute("SELECT pg_notify(%s, %s)", (DONE_CHANNEL, str(row["id"])))
        self.applied += 1
        return True

    async def _apply(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        engine = self.engine
        if command == "acknowledge":
            change = await engine.acknowledge(args["alert_id"], args["by"], args.get("note"))
        elif command == "resolve":
            change = await engine.resolve(args["alert_id"], args["by"], args.get("note"))
        elif command == "assign":
            change = await engine.assign(args["alert_id"], args["assignee"], args["by"])
        elif command == "add_silence":
            await engine.add_silence(silence_of(args))
            return {}
        elif command == "expire_silence":
            expired = await engine.expire_silence(args["silence_id"])
            return {"silence": silence_args(expired) if expired is not None else None}
        else:
            raise ValueError(f"unknown alert command {command!r}")
        return {"alert": change.payload.model_dump(mode="json")}
