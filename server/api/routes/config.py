"""The running streams.yaml: what is loaded, and the last edit refused (with its lines)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from server.api.deps import StateDep

router = APIRouter(prefix="/api/config", tags=["config"])


class ConfigStatusOut(BaseModel):
    path: str
    loaded_at: datetime
    digest: str
    sites: int
    cameras: int
    sensors: int
    rules: int
    error: str | None = None
    """every problem of the refused edit, as `file:line: key.path: message` lines"""
    error_at: datetime | None = None


@router.get("/status")
async def config_status(state: StateDep) -> ConfigStatusOut:
    status, config = state.config_status, state.config
    return ConfigStatusOut(
        path=str(status.path),
        loaded_at=status.loaded_at,
        digest=status.digest,
        sites=len(config.sites),
        cameras=len(config.cameras),
        sensors=len(config.sensors),
        rules=len(config.rules),
        error=status.error,
        error_at=status.error_at,
    )
