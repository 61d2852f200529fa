"""Liveness with the state of the database and broker connections, and Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from server.api.deps import StateDep
from server.api.schemas import Health
from server.state import Services

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep) -> JSONResponse:
    """200 when the database and broker are reachable and ingest runs; 503 (same body) otherwise."""
    ingest = state.ingest
    database_ok = ingest.database_ok if ingest is not None else True
    mqtt = "disabled" if ingest is None else ("connected" if ingest.mqtt_connected else "disconnected")
    receiver = state.station_files
    station_files = "off" if receiver is None else ("up" if receiver.running else "down")
    ingest_state = "disabled" if ingest is None else ingest.state
    alerts = _alerts_state(state)
    ok = (
        database_ok
        and mqtt != "disconnected"
        and station_files != "down"
        and alerts != "down"
        and ingest_state in ("running", "disabled")
    )
    body = Health(
        status="ok" if ok else "degraded",
        database="up" if database_ok else "down",
        mqtt=mqtt,
        transport=state.settings.transport,
        ingest=ingest_state,
        detail=ingest.state_detail if ingest is not None else None,
        pending_messages=ingest.pending if ingest is not None else 0,
        timescale=state.features.timescale,
        timescale_license=state.features.license,
        station_files=station_files,
        role="leader" if state.leadership.is_leader else "follower",
        alerts=alerts,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _alerts_state(state: Services) -> Literal["running", "standby", "down", "off"]:
    if state.alerts is None:
        return "off"
    if state.alerts.running:
        return "running"
    return "down" if state.leadership.is_leader else "standby"


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(state: StateDep) -> Response:
    """Prometheus text format."""
    stats = state.pool.get_stats()
    state.metrics.pool_size.set(stats.get("pool_size", 0))
    state.metrics.pool_available.set(stats.get("pool_available", 0))
    state.metrics.pool_waiting.set(stats.get("requests_waiting", 0))
    if state.ingest is not None:
        state.metrics.mqtt_connected.set(1 if state.ingest.mqtt_connected else 0)
        state.metrics.pending.set(state.ingest.pending)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
