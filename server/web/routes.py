"""The console's own data: the layout (sites, cameras, sensors, thresholds) from streams.yaml, and the
site outlines (GeoJSON files named in `console.map.outlines`, relative to streams.yaml)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, status

from server.api.deps import ConfigDep, StateDep
from server.web.layout import Layout, build_layout

router = APIRouter(prefix="/api/console", tags=["console"])

MAX_OUTLINE_BYTES = 8 * 1024 * 1024
GEOJSON_TYPES = ("FeatureCollection", "Feature", "Polygon", "MultiPolygon")


@router.get("/layout")
async def layout(config: ConfigDep) -> Layout:
    return build_layout(config)


@router.get("/outlines/{site_id}")
async def outline(site_id: str, config: ConfigDep, services: StateDep) -> dict[str, Any]:
    """The site's outline as GeoJSON; 404 when none is configured, 502 when its file is unusable."""
    name = config.console.map.outlines.get(site_id)
    if name is None or config.site(site_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site '{site_id}' has no outline; it is drawn as a circle")
    path = Path(services.settings.config).parent / name
    try:
        return await asyncio.get_running_loop().run_in_executor(None, read_geojson, path)
    except (OSError, ValueError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"outline of site '{site_id}' ({name}): {exc}") from exc


def read_geojson(path: Path) -> dict[str, Any]:
    """Blocking: a GeoJSON object from `path` (at most 8 MiB)."""
    if path.stat().st_size > MAX_OUTLINE_BYTES:
        raise ValueError("larger than 8 MiB")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("type") not in (
        "FeatureCollection",
        "Feature",
        "Polygon",
        "MultiPolygon",
    ):
        raise ValueError("not a GeoJSON FeatureCollection, Feature, Polygon or MultiPolygon")
    return data
