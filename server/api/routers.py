"""The routers the app serves; add a resource by adding its router here."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from server.api.routes import cameras, config, dead_letters, events, evidence, evidence_cases, health, sensors

    routers = [health.router, sensors.router, cameras.router, events.router, dead_letters.router, config.router]
    return [*routers, evidence.router, evidence_cases.router]
