"""Shared replicas: the dashboard feed on every replica, fed from the database.

The leader's alert repository sends `NOTIFY` on `CHANGE_CHANNEL` (`change_notify.py`) for each saved change, in the
transaction that saves it (so only committed changes are announced, each once). Each replica's
`ChangeFeed` publishes them to its own `AlertHub`, so a console connected to any replica sees
every change. The hub's snapshot comes from the database's open alerts, read again after every
(re)connect of the listener; clients connected while it was away are cut off to reconnect for a
fresh snapshot (they may have missed changes).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from contract.payloads import AlertPayload
from server.alerts.pg_repository import ALERT_COLUMNS, PgAlertRepository, alert_from
from server.notify.hub import AlertHub

logger = logging.getLogger(__name__)

MAX_SEEDED = 100_000


class ChangeFeed:
    def __init__(self, pool: AsyncConnectionPool, hub: AlertHub) -> None:
        self._pool = pool
        self.hub = hub
        self.published = 0
        self._connected_once = False

    async def reconnected(self) -> None:
        """After each (re)connect of the listener: seed again; cut off clients that may have missed changes."""
        if self._connected_once and self.hub.clients:
            logger.info("alert feed: listening again; %s dashboard clients reconnect for a snapshot", self.hub.clients)
            self.hub.close()
        self._connected_once = True
        await self.seed()

    async def seed(self) -> None:
        """The hub's snapshot: the open alerts in the database."""
        query = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY started_at LIMIT {MAX_SEEDED}"
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query.encode())
            alerts = [alert_from(row).payload() for row in await cur.fetchall()]
        self.hub.seed(alerts)

    async def on_notification(self, payload: str) -> None:
        message: dict[str, Any] = json.loads(payload)
        action = str(message["action"])
        if "alert" in message:
            alert = AlertPayload.model_validate(message["alert"])
        else:
            found = await self._alert(str(message["id"]))
            if found is None:
                return
            alert = found
        self.hub.publish(action, alert)
        self.published += 1

    async def _alert(self, alert_id: str) -> AlertPayload | None:
        alert = await PgAlertRepository(self._pool).alert(alert_id)
        return alert.payload() if alert is not None else None
