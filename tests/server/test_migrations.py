"""Migrations on plain PostgreSQL and TimescaleDB: schema, idempotence, locking, later files."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from server.db.migrate import MIGRATIONS_DIR, MigrationError, discover_migrations, migrate

TABLES = {
    "readings",
    "readings_1m",
    "readings_1h",
    "detection_events",
    "snapshots",
    "camera_status",
    "edge_status",
    "dead_letters",
    "alerts",
    "alert_history",
    "schema_migrations",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def _hypertables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
    return {row[0] for row in rows}


async def test_schema_on_both_backends(request: pytest.FixtureRequest, database_url: str) -> None:
    report = await migrate(database_url)
    assert [m.name for m in discover_migrations()] == report.applied
    assert _tables(database_url) >= TABLES
    timescale = request.node.callspec.params["database_url"] == "timescale"
    assert report.features.timescale is timescale
    if timescale:
        assert report.features.license == "apache" and not report.features.compression
        assert {"readings", "detection_events", "dead_letters", "readings_1m", "readings_1h"} <= _hypertables(
            database_url
        )
    again = await migrate(database_url)
    assert again.applied == [] and again.features == report.features


async def test_concurrent_replicas_migrate_once(pg_database: str) -> None:
    reports = await asyncio.gather(migrate(pg_database), migrate(pg_database), migrate(pg_database))
    assert sorted(len(r.applied) for r in reports) == [0, 0, len(discover_migrations())]


async def test_later_files_are_picked_up_and_changes_refused(pg_database: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    await migrate(pg_database, folder)
    (folder / "0150_extra.sql").write_text("CREATE TABLE extra_thing (id int PRIMARY KEY);")
    assert (await migrate(pg_database, folder)).applied == ["0150_extra"]
    assert "extra_thing" in _tables(pg_database)
    (folder / "0150_extra.sql").write_text("CREATE TABLE extra_thing (id bigint PRIMARY KEY);")
    with pytest.raises(MigrationError, match=r"0150_extra.sql changed after it was applied"):
        await migrate(pg_database, folder)


async def test_a_failing_migration_is_rolled_back(pg_database: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (folder / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(MigrationError, match=r"0002_bad.sql failed: .*no_such_function"):
        await migrate(pg_database, folder)
    tables = _tables(pg_database)
    assert "good" in tables and "half" not in tables


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "7_oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"7_oops.sql: migration files are named NNNN_lower_case_name.sql"):
        discover_migrations(tmp_path)


def test_ioc_migrate_command(pg_database: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "migrate", "--database-url", pg_database],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0001_core" in done.stdout and "plain PostgreSQL" in done.stdout
    assert "readings" in _tables(pg_database)
