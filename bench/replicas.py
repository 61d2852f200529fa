"""Server replicas benchmark (shared mode against single mode). Prints RESULT lines.

    PYTHONPATH=. .venv/bin/python bench/replicas.py --quick

- replica_eval_latency_p50_ms / _p99_ms: a threshold-crossing reading stored by a *follower*'s
  ingest path (commit, then its observers: the NOTIFY) until the change reaches the follower's
  dashboard feed: the leader's tail reads it, its engine evaluates and saves it (NOTIFY in the
  transaction), the follower's feed publishes it.
- single_eval_latency_p50_ms / _p99_ms: the baseline in the same run, one server in single mode:
  the same store call until the change reaches its engine's dashboard hub (in-process observer).
- replica_failover_s (median, and the max): from closing the leader's lock connection to the
  other replica's alert engine running, with the default `IOC_LEADER_RETRY_S` (2 s).

Two apps in this process (their lifespans, no HTTP), no broker; the database is
`IOC_BENCH_DATABASE_URL`, or fresh ones on postgresql://postgres@127.0.0.1:5432/postgres that are
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from bench.alerts import bench_database, percentile
from server.app import create_app
from server.leadership import PgLeadership
from server.notify.hub import AlertHub
from server.settings import Settings
from server.state import Services
from server.store.base import WriteBatch
from server.store.records import StoredReading

STREAMS = """
version: 1
sites: [{id: long-phu, name: Long Phu}]
sensors:
  - {id: sal-1, name: Salinity 1, kind: salinity, unit: "‰", site: long-phu, range: {min: 0, max: 45}}
rules:
  - id: salinity-4
    type: threshold
    sensor_kind: salinity
    raise: {above: 4.0}
    clear: {below: 3.5}
    severity: critical
"""


def settings_for(database_url: str, config: Path, mode: str) -> Settings:
    return Settings(
        database_url=database_url,
        mqtt_url="mqtt://127.0.0.1:1",
        config=config,
        ingest_enabled=False,
        replica_mode=mode,
        mqtt_client_id=f"bench-{uuid.uuid4().hex[:8]}",
        pool_min_size=1,
        pool_max_size=4,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Services]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.ioc
        yield services


class Readings:
    """sal-1 alternating above and below the threshold, a second apart: each one is a change."""

    def __init__(self) -> None:
        self.t0 = datetime.now(UTC) - timedelta(hours=1)
        self.n = 0

    async def store(self, services: Services) -> None:
        self.n += 1
        value = 5.0 if self.n % 2 else 3.0
        now = datetime.now(UTC)
        batch = WriteBatch(readings=[StoredReading("sal-1", self.t0 + timedelta(seconds=self.n), value, now)])
        result = await services.store.write(batch)
        await services.observers.readings(result.readings)  # what the ingest does after its commit


async def latencies(on: Services, feed: AlertHub, readings: Readings, samples: int) -> list[float]:
    subscription = feed.subscribe()
    await subscription.next()  # the snapshot
    measured: list[float] = []
    try:
        for _ in range(samples):
            start = time.perf_counter()
            await readings.store(on)
            message = await asyncio.wait_for(subscription.next(), 10)
            assert message is not None and message["type"] == "alert", message
            measured.append(time.perf_counter() - start)
            await asyncio.sleep(0.02)
    finally:
        feed.unsubscribe(subscription)
    return measured


async def single_run(config: Path, samples: int) -> list[float]:
    with bench_database() as database_url:
        async with running(settings_for(database_url, config, "single")) as server:
            assert server.alerts is not None
            return await latencies(server, server.alerts.hub, Readings(), samples)


async def shared_run(config: Path, samples: int, failovers: int) -> tuple[list[float], list[float]]:
    with bench_database() as database_url:
        settings = settings_for(database_url, config, "shared")
        async with running(settings) as first, running(settings) as second:
            assert first.leadership.is_leader and second.replica_alerts is not None
            measured = await latencies(second, second.replica_alerts.hub, Readings(), samples)
            takeovers = [await failover(first, second) for _ in range(failovers)]
    return measured, takeovers


async def failover(first: Services, second: Services) -> float:
    leader, other = (first, second) if first.leadership.is_leader else (second, first)
    assert isinstance(leader.leadership, PgLeadership) and other.alerts is not None
    start = time.perf_counter()
    await leader.leadership.drop_connection()
    while not other.alerts.running:
        await asyncio.sleep(0.01)
    took = time.perf_counter() - start
    while leader.alerts is not None and leader.alerts.running:  # the old one steps down
        await asyncio.sleep(0.01)
    return took


async def run(samples: int, failovers: int) -> int:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-replicas-") as tmp:
        config = Path(tmp) / "streams.yaml"
        config.write_text(STREAMS, encoding="utf-8")
        single = await single_run(config, samples)
        shared, takeovers = await shared_run(config, samples, failovers)
    print(f"RESULT single_eval_latency_p50_ms {percentile(single, 0.50) * 1000:.1f} ms")
    print(f"RESULT single_eval_latency_p99_ms {percentile(single, 0.99) * 1000:.1f} ms")
    print(f"RESULT replica_eval_latency_p50_ms {percentile(shared, 0.50) * 1000:.1f} ms")
    print(f"RESULT replica_eval_latency_p99_ms {percentile(shared, 0.99) * 1000:.1f} ms")
    print(f"RESULT replica_failover_s {statistics.median(takeovers):.2f} s")
    print(f"RESULT replica_failover_max_s {max(takeovers):.2f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    args = parser.parse_args(argv)
    return asyncio.run(run(samples=40 if args.quick else 300, failovers=3 if args.quick else 10))


if __name__ == "__main__":
    raise SystemExit(main())
