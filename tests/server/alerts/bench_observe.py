"""Micro-benchmark of the engine's per-reading cost on the ingest path (`on_readings`: samples,
routing, evaluation, commit), with in-memory persistence and delivery.

    .venv/bin/python -m tests.server.alerts.bench_observe

A gateway batch of 500 sensors where rules watch `watched` of them; values stay below the
threshold, so no alert fires (the steady state). Prints microseconds per reading."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from contract.config.root import StreamsConfig
from contract.timeutil import utc_now
from server.alerts.core import RuleEngine
from server.alerts.engine import AlertEngine
from server.alerts.repository import MemoryRepository
from server.notify.base import Dispatcher
from server.notify.hub import AlertHub
from server.store.records import StoredReading
from tests.server.alerts.configs import SITES, T0

SENSORS = 500
BATCH = 500
ROUNDS = 200


def config(watched: int) -> StreamsConfig:
    sensors = [
        {"id": f"s{i}", "name": f"S{i}", "kind": kind, "unit": "x", "site": "long-phu"}
        for i, kind in enumerate(["salinity"] * watched + ["other"] * (SENSORS - watched))
    ]
    rule: dict[str, Any] = {
        "id": "salinity",
        "type": "threshold",
        "sensor_kind": "salinity",
        "raise": {"above": 4.0},
        "clear": {"below": 3.5},
        "severity": "critical",
    }
    return StreamsConfig.model_validate({"sites": SITES, "sensors": sensors, "rules": [rule] if watched else []})


async def per_reading_us(watched: int) -> float:
    dispatcher = Dispatcher(AlertHub(), {}, frozenset())
    engine = AlertEngine(RuleEngine(config(watched)), MemoryRepository(), dispatcher, utc_now)
    batch = [StoredReading(f"s{i}", T0 + timedelta(seconds=i), 1.0, T0) for i in range(BATCH)]
    await engine.on_readings(batch)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await engine.on_readings(batch)
    return (time.perf_counter() - started) / (ROUNDS * BATCH) * 1e6


async def main() -> None:
    for watched in (0, 10, 100, 500):
        print(f"watched {watched:>3} of {SENSORS}: {await per_reading_us(watched):.2f} us/reading")


if __name__ == "__main__":
    asyncio.run(main())
