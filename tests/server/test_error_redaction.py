"""API error texts pass the same redactor as the logs: a camera password in an error detail (as a
library's message would put it there) never reaches the client."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException

from server.api.routers import api_routers
from server.app import create_app
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import make_settings, running_app

CAMERA_PASSWORD = "Cam-Pass-8812"

broken = APIRouter()


@broken.get("/api/broken")
async def fails() -> None:
    raise HTTPException(502, f"cannot open rtsp://admin:{CAMERA_PASSWORD}@10.0.0.9/live: refused")


async def test_error_details_are_redacted(pg_database: str, mqtt_broker: MosquittoBroker, streams_path: Path) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, streams_path, ingest_enabled=False)
    app = create_app(settings, routers=[*api_routers(), broken])
    async with running_app(settings, app) as client:
        response = await client.get("/api/broken")
    assert response.status_code == 502
    assert response.json() == {"detail": "cannot open rtsp://admin:***@10.0.0.9/live: refused"}
