"""Helpers of the app-level incident tests: fire an alert through the engine, list incidents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from server.alerts.component import AlertComponent
from server.store.records import StoredReading
from tests.server.helpers import wait_until


async def fire(app: FastAPI, sensor: str, value: float = 5.0) -> None:
    now = datetime.now(UTC)
    component = next(c for c in app.state.ioc.components if isinstance(c, AlertComponent))
    await component.engine.on_readings([StoredReading(sensor, now, value, now)])


async def incidents_of(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/incidents", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def wait_for_alerts(client: httpx.AsyncClient, count: int, site: str = "long-phu") -> dict[str, Any]:
    async def ready() -> bool:
        found = await incidents_of(client, site=site)
        return len(found) >= 1 and len(found[0]["alerts"]) == count

    await wait_until(ready, timeout=10, what=f"an incident with {count} alerts at {site}")
    return (await incidents_of(client, site=site))[0]
