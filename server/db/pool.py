"""The async connection pool: opened and closed by the app lifespan, never at import."""

from __future__ import annotations

import logging

from psycopg_pool import AsyncConnectionPool

from server.settings import Settings

logger = logging.getLogger(__name__)


def create_pool(settings: Settings, name: str = "ioc") -> AsyncConnectionPool:
    """A closed pool; `await pool.open()` in the lifespan. Connections are checked before use."""
    return AsyncConnectionPool(
        settings.database_url,
        min_size=settings.pool_min_size,
        max_size=max(settings.pool_max_size, settings.pool_min_size),
        max_waiting=settings.pool_max_waiting,
        timeout=settings.db_timeout_s,
        name=name,
        open=False,
        check=AsyncConnectionPool.check_connection,
        kwargs={"connect_timeout": max(1, int(settings.db_timeout_s))},
    )
