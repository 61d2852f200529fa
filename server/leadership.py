"""Which server replica runs the stateful singletons (alert engine, outbox dispatcher, retention).

`SoleLeadership`: one replica, always the leader. `PgLeadership`: replicas sharing a database
compete for a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated
connection; the holder is the leader until that connection breaks (the process died, the network
or the database went away, or the lock connection was closed), which PostgreSQL turns into the
lock's release, so a follower's next try (every `retry_s`) wins it. The leader checks its
connection every `retry_s` too, so it learns of its loss within about that time.

Listeners (`on_change`) are called on every gain and loss, in order, from the leadership's task.

Fencing: on each gain `PgLeadership` increments `replica_leader.epoch` (migration 0900) and keeps
the new value as its `fencing_token`; the alert repository saves a step only while the stored
epoch is still its own (`FencedError` otherwise), so a replica that lost the lock but still
reaches the database (its lock connection cut, its pool connections not) saves nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

import psycopg
from psycopg import sql

from contract.backoff import jittered_delay
from server.tasks import cancel_until_done

logger = logging.getLogger(__name__)

Listener = Callable[[bool], Awaitable[None]]
KEEPALIVES = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}
LOCK_KEY = 0x10C_1EAD
"""The advisory lock key the replicas of one database compete for."""


class Leadership(Protocol):
    @property
    def is_leader(self) -> bool: ...

    @property
    def role(self) -> str:
        """`leader` or `follower` (for /health and logs)."""
        ...

    @property
    def fencing_token(self) -> int | None:
        """The epoch of this replica's leadership term (None: no fencing, one replica)."""
        ...

    def on_change(self, listener: Listener) -> None:
        """Call `listener(True)` on each gain and `listener(False)` on each loss."""

    async def start(self) -> None:
        """Take the first decision (a leader-by-lock tries once here), then keep deciding."""

    async def stop(self) -> None:
        """Step down (a leader's listeners hear the loss) and release."""


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.is_leader = False
        self.changes = 0

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def become(self, leader: bool) -> None:
        if leader == self.is_leader:
            return
        self.is_leader = leader
        self.changes += 1
        for listener in self._listeners:
            try:
                await listener(leader)
            except Exception:
                logger.exception("leadership listener failed on %s", "gain" if leader else "loss")

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "follower"


class FencedError(RuntimeError):
    """This replica is no longer the leader: another one holds a later epoch."""


SELECT_EPOCH = "SELECT epoch FROM replica_leader FOR SHARE"
NEXT_EPOCH = "UPDATE replica_leader SET epoch = epoch + 1, holder = %s, since = now() RETURNING epoch"


class SoleLeadership:
    """One replica: the leader from `start` to `stop`."""

    fencing_token: int | None = None

    def __init__(self) -> None:
        self._state = _Listeners()

    @property
    def is_leader(self) -> bool:
        return self._state.is_leader

    @property
    def role(self) -> str:
        return self._state.role

    def on_change(self, listener: Listener) -> None:
        self._state.add(listener)

    async def start(self) -> None:
        await self._state.become(True)

    async def stop(self) -> None:
        await self._state.become(False)


class PgLeadership:
    """Leader while holding `pg_try_advisory_lock(key)` on its own connection to `database_url`."""

    def __init__(
        self,
        database_url: str,
        retry_s: float = 2.0,
        key: int = LOCK_KEY,
        timeout_s: float = 5.0,
        holder: str | None = None,
    ) -> None:
        self._url = database_url
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.retry_s = retry_s
        self.key = key
        self.timeout_s = timeout_s
        self._state = _Listeners()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = 0
        self.fencing_token: int | None = None

    @property
    def is_leader(self) -> bool:
        return self._state.is_leader

    @property
    def role(self) -> str:
        return self._state.role

    @property
    def changes(self) -> int:
        """Gains and losses so far."""
        return self._state.changes

    def on_change(self, listener: Listener) -> None:
        self._state.add(listener)

    async def start(self) -> None:
        await self._decide()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_until_done(self._task)
        await self._state.become(False)
        await self._close()

    async def drop_connection(self) -> None:
        """Close the lock connection (what a crash or a network cut does): the lock is released at
        once and this replica learns of its loss on its next check."""
        if self._conn is not None:
            await self._conn.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.retry_s if not self._failing else jittered_delay(self._failing, 0.5, 10.0))
            await self._decide()

    async def _decide(self) -> None:
        try:
            leader = await (self._check() if self.is_leader else self._try())
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self._failed(exc)
            await self._close()
            leader = False
        else:
            if self._failing:
                logger.info("leadership: the database answers again after %s failed tries", self._failing)
            self._failing = 0
        if leader != self.is_leader:
            logger.warning("leadership: this replica is now the %s", "leader" if leader else "follower")
        await self._state.become(leader)

    async def _try(self) -> bool:
        conn = await self._connection()
        async with asyncio.timeout(self.timeout_s):
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cursor.fetchone()
            if not (row and row[0]):
                return False
            # waits for a save of the old leader still in flight (it holds the row FOR SHARE)
            cursor = await conn.execute(NEXT_EPOCH, (self.holder,))
            row = await cursor.fetchone()
        epoch = row[0] if row else None
        assert isinstance(epoch, int), "replica_leader has no row (migration 0900)"
        self.fencing_token = epoch
        logger.info("leadership: epoch %s", self.fencing_token)
        return True

    async def _check(self) -> bool:
        """Still the leader: the lock connection answers (the lock lives as long as it does)."""
        if self._conn is None or self._conn.closed:
            return False
        async with asyncio.timeout(self.timeout_s):
            await self._conn.execute("SELECT 1")
        return True

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, int(self.timeout_s)), application_name="ioc-leader"
            )
            # the server ends this session (releasing the lock) ~11 s after its peer went silent
            # (a half-open partition), instead of the operating system's 2-hour default
            for name, value in KEEPALIVES.items():
                await conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
            self._conn = conn
        return self._conn

    def _failed(self, exc: BaseException) -> None:
        self._failing += 1
        if self._failing == 1:
            logger.warning("leadership: lock connection failed (%s); retried with backoff", type(exc).__name__)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
