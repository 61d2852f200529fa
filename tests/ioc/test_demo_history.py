"""The demo's week of history, written through the server's store into a real database: every sensor
has a week of readings, the hourly rollups hold them (7- and 30-day charts), salinity shows two tides a
day and rises over the week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from contract.config import parse_config
from ioc.demo.config import DemoInputs, demo_config_text
from ioc.demo.history import HISTORY_DAYS, STEP, write_history
from server.db.timescale import DatabaseFeatures
from server.store.pg import PgStore


async def test_a_week_of_history_fills_readings_and_rollups(pg_database: str) -> None:
    config = parse_config(demo_config_text(DemoInputs(video=None, model=None)), filename="demo.yaml", env={})
    written = await write_history(pg_database, config)
    per_sensor = int(timedelta(days=HISTORY_DAYS) / STEP)
    assert written == per_sensor * len(config.sensors)

    async with AsyncConnectionPool(pg_database, min_size=1, max_size=1, open=False) as pool:
        store = PgStore(pool, DatabaseFeatures())
        end = datetime.now(UTC)
        hourly = await store.readings_bucketed("sal-tran-de", end - timedelta(days=8), end, timedelta(hours=1))
        assert 7 * 24 - 2 <= len(hourly) <= 7 * 24 + 1
        first_day = [b.avg for b in hourly[:24]]
        last_day = [b.avg for b in hourly[-24:]]
        assert sum(last_day) > sum(first_day) * 1.3, "the salinity intrusion does not rise over the week"
        turns = [i for i in range(1, 23) if (last_day[i] - last_day[i - 1]) * (last_day[i + 1] - last_day[i]) < 0]
        assert len(turns) >= 3, f"no two tides a day (highs and lows): {last_day}"
        raw = await store.readings_raw("level-tran-de", end - timedelta(hours=2), end, 100)
        assert raw and all(-3 <= r.value <= 5 for r in raw)
