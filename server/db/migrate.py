"""Versioned SQL migrations: `migrations/NNNN_name.sql`, applied in order under an advisory lock.

Files numbered 0001-0099 belong to the storage schema, 0100+ to later components (the alert
engine); every file in the folder is picked up. Each file runs in its own transaction and is
recorded in `schema_migrations` with its checksum; a changed applied file is an error.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from server.db.timescale import DatabaseFeatures, apply_timescale

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 7_418_221_001  # "ioc migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration file is invalid, changed after it was applied, or failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every `NNNN_name.sql` file, sorted by number; duplicate numbers are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_case_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: number {version:04d} is used by {found[version].name} too")
        found[version] = Migration(version, path.stem, path.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    features: DatabaseFeatures


async def migrate(conninfo: str, directory: Path = MIGRATIONS_DIR) -> MigrationReport:
    """Apply pending migrations and the TimescaleDB step; safe to run from several replicas at once."""
    migrations = discover_migrations(directory)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            await conn.execute(_CREATE_TABLE)
            applied = await _apply_pending(conn, migrations)
            features = await apply_timescale(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return MigrationReport(applied, features)


async def _apply_pending(conn: psycopg.AsyncConnection[tuple[object, ...]], migrations: list[Migration]) -> list[str]:
    cursor = await conn.execute("SELECT version, name, checksum FROM schema_migrations")
    done = {int(str(row[0])): (str(row[1]), str(row[2])) for row in await cursor.fetchall()}
    applied: list[str] = []
    for migration in migrations:
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(f"{migration.name}.sql changed after it was applied (as {name}); add a new file")
            continue
        await _apply_one(conn, migration)
        applied.append(migration.name)
    return applied


async def _apply_one(conn: psycopg.AsyncConnection[tuple[object, ...]], migration: Migration) -> None:
    logger.info("applying migration %s", migration.name)
    try:
        async with conn.transaction():
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.name}.sql failed: {exc}") from exc
