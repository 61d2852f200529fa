"""Shared replicas: incident changes announced by the leader (`change_notify.py`), published to
this replica's dashboard hub, so a console connected to a follower sees them as on the leader.
A change too large for a notification is read back from the database (without its entries)."""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg_pool import AsyncConnectionPool

from server.incidents.pg_repository import PgIncidentRepository
from server.incidents.service import Broadcaster

logger = logging.getLogger(__name__)


class IncidentFeed:
    def __init__(self, pool: AsyncConnectionPool, stream: Broadcaster) -> None:
        self._repository = PgIncidentRepository(pool)
        self.stream = stream
        self.published = 0

    async def on_notification(self, payload: str) -> None:
        message: dict[str, Any] = json.loads(payload)
        if "incident" not in message:
            incident = await self._repository.incident(str(message["id"]))
            if incident is None:
                logger.info("incident feed: incident %s is gone; change not published", message["id"])
                return
            message = {"type": "incident", "incident": incident.public(), "entries": []}
        self.stream.broadcast(message)
        self.published += 1
