"""The console's own data: the layout (sites, cameras, sensors, thresholds) from streams.yaml."""

from __future__ import annotations

from fastapi import APIRouter

from server.api.deps import ConfigDep
from server.web.layout import Layout, build_layout

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/layout")
async def layout(config: ConfigDep) -> Layout:
    return build_layout(config)
