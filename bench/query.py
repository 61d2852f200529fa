"""Storage benchmarks: the raw COPY rate, and the 24-hour chart query over 30 days of 500 sensors.

    python bench/query.py [--quick] [--database-url ADMIN_URL]

Prints `RESULT copy_rows_per_s <n> rows/s` and `RESULT chart_query_p95_ms <x> ms`. The chart query
is the one behind GET /api/sensors/{id}/readings (auto bucket: 24 h in <= 500 points = 5 min
buckets from the 1-minute rollups), run through the server's store on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def temp_database(admin_url: str) -> Iterator[str]:
    name = f"ioc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_rate(url: str, rows: int) -> float:
    """Rows per second of binary COPY into a logged table shaped like `readings` (no index), one transaction."""
    start_time = datetime(2026, 1, 1, tzinfo=UTC)
    data = [(f"s{i % 500}", start_time + timedelta(seconds=i), i * 0.001) for i in range(rows)]
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE copy_probe (sensor_id text, time timestamptz, value float8, received_at timestamptz)"
        )
        began = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY copy_probe FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "timestamptz", "float8", "timestamptz"])
            for sensor, at, value in data:
                copy.write_row((sensor, at, value, at))
        conn.commit()
        return rows / (time.perf_counter() - began)


def _copy_readings(conn: psycopg.Connection[tuple[object, ...]], sensors: int, start: datetime, minutes: int) -> None:
    """Binary COPY in arrival order: every sensor's reading of a minute, then the next minute."""
    ids = [f"s{s:03d}" for s in range(sensors)]
    with (
        conn.cursor() as cur,
        cur.copy("COPY readings (sensor_id, time, value, received_at) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["text", "timestamptz", "float8", "timestamptz"])
        for minute in range(minutes):
            at = start + timedelta(minutes=minute)
            received = at + timedelta(seconds=2)
            hour = minute / 60
            for s, sensor_id in enumerate(ids):
                copy.write_row((sensor_id, at, 2 + math.sin(hour + s), received))


def load_history(url: str, sensors: int, days: int) -> int:
    """`sensors` x `days` of one reading per minute: raw readings by COPY, in arrival order (as the
    service writes them: time-major, so one sensor's rows are spread over the table), and the 1 m /
    1 h rollups the service maintains, generated in SQL from them, also time-major, with their
    primary keys in place (the chart query reads `readings_1m` through it)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE readings DROP CONSTRAINT readings_pkey")  # built once after the load
        _copy_readings(conn, sensors, start, days * 1440)
        conn.execute("ALTER TABLE readings ADD PRIMARY KEY (sensor_id, time)")
        for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
            conn.execute(
                f"INSERT INTO {table} (sensor_id, bucket, min, max, sum, count, last, last_time)"
                f" SELECT sensor_id, date_bin('{width}', time, TIMESTAMPTZ '2000-01-01') AS b, min(value),"
                " max(value), sum(value), count(*), (array_agg(value ORDER BY time DESC))[1], max(time)"
                " FROM readings GROUP BY sensor_id, b ORDER BY b, sensor_id"
            )
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0


async def chart_queries(url: str, sensors: int, days: int, queries: int) -> list[float]:
    """Milliseconds per 24-hour chart query (auto bucket), random sensor and window."""
    from psycopg_pool import AsyncConnectionPool

    from server.api.timerange import auto_bucket
    from server.db.timescale import detect_features
    from server.store.pg import PgStore

    now = datetime.now(UTC)
    async with AsyncConnectionPool(url, min_size=1, max_size=2, open=False) as pool:
        async with pool.connection() as conn:
            features = await detect_features(conn)
        store = PgStore(pool, features)
        timings: list[float] = []
        rng = random.Random(7)
        for _ in range(queries):
            end = now - timedelta(minutes=rng.randrange(0, (days - 1) * 1440))
            start = end - timedelta(hours=24)
            began = time.perf_counter()
            bucket = auto_bucket(start, end, 500) or timedelta(minutes=1)
            buckets = await store.readings_bucketed(f"s{rng.randrange(sensors):03d}", start, end, bucket)
            timings.append((time.perf_counter() - began) * 1000)
            assert len(buckets) >= 280, f"expected ~288 five-minute buckets, got {len(buckets)}"
        return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


ISSUE_SET = (500, 30)  # the issue's data set: 500 sensors x 30 days at 1/min = 21.6M readings
QUICK_SET = (100, 3)


def dataset_label(sensors: int, days: int) -> str:
    name = "issue" if (sensors, days) == ISSUE_SET else "reduced"
    return f"dataset={name}: {sensors} sensors x {days} days at 1/min = {sensors * days * 1440:,} readings"


def run_chart_bench(admin_url: str, sensors: int, days: int, queries: int) -> tuple[float, str]:
    """(p95 ms, description) of the 24-hour chart query on a fresh database holding the data set."""
    from server.db.migrate import migrate

    with temp_database(admin_url) as url:
        report = asyncio.run(migrate(url))
        began = time.perf_counter()
        rows = load_history(url, sensors, days)
        print(f"loaded {rows:,} readings ({sensors} sensors x {days} days) in {time.perf_counter() - began:.0f} s")
        timings = chart_queries_sync(url, sensors, days, queries)
    value = p95(timings)
    print(f"chart query: p50 {statistics.median(timings):.2f} ms, p95 {value:.2f} ms over {queries} queries")
    backend = "TimescaleDB" if report.features.timescale else "PostgreSQL"
    return value, f"{dataset_label(sensors, days)}, {backend}, 24 h window, auto bucket from readings_1m"


def chart_queries_sync(url: str, sensors: int, days: int, queries: int) -> list[float]:
    return asyncio.run(chart_queries(url, sensors, days, queries))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="reduced data set (100 sensors x 3 days), fewer rows (under a minute)"
    )
    parser.add_argument("--database-url", default=DEFAULT_ADMIN, help="admin URL; a scratch database is created")
    args = parser.parse_args()
    with temp_database(args.database_url) as url:
        rate = copy_rate(url, 200_000 if args.quick else 1_000_000)
    print(f"RESULT copy_rows_per_s {rate:.0f} rows/s")
    sensors, days = QUICK_SET if args.quick else ISSUE_SET
    value, described = run_chart_bench(args.database_url, sensors, days, 200 if args.quick else 1000)
    print(f"RESULT chart_query_p95_ms {value:.2f} ms ({described})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
