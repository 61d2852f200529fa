"""What the console draws: sites, cameras, sensors with map positions, threshold lines, site time zones.

Built from streams.yaml; never includes a camera URL, a channel URL or any secret.
"""

from __future__ import annotations

from pydantic import BaseModel

from contract.config import StreamsConfig
from contract.config.console import ColourBand
from contract.config.rules import ThresholdRule
from contract.config.sensors import Sensor
from contract.config.types import LocalText


class Point(BaseModel):
    lat: float
    lon: float


class SiteView(BaseModel):
    id: str
    name: str
    timezone: str
    location: Point | None


class ZoneShape(BaseModel):
    id: str
    name: str
    points: list[tuple[float, float]]
    """polygon corners as [x, y] fractions of the frame"""


class LineShape(BaseModel):
    id: str
    name: str
    start: tuple[float, float]
    end: tuple[float, float]


class CameraView(BaseModel):
    id: str
    name: str
    site: str
    location: Point | None
    zones: list[str]
    lines: list[str]
    zone_shapes: list[ZoneShape]
    """zones and lines in normalised coordinates, for the detection overlay"""
    line_shapes: list[LineShape]


class Threshold(BaseModel):
    rule: str
    name: str
    severity: str
    value: float
    direction: str
    """'above' or 'below'"""


class SensorView(BaseModel):
    id: str
    name: str
    kind: str
    unit: str
    site: str
    location: Point | None
    thresholds: list[Threshold]


class MapView(BaseModel):
    tile_url: str | None
    """none: the offline grid"""
    attribution: str
    max_zoom: int
    outlines: list[str]
    """sites that have a GeoJSON outline (`/api/console/outlines/{site}`); the others are drawn as circles"""


class Layout(BaseModel):
    title: LocalText
    bands: dict[str, list[ColourBand]]
    map: MapView
    timezone: str
    sites: list[SiteView]
    cameras: list[CameraView]
    sensors: list[SensorView]


def _point(location: object) -> Point | None:
    lat, lon = getattr(location, "lat", None), getattr(location, "lon", None)
    return Point(lat=lat, lon=lon) if lat is not None and lon is not None else None


def _applies(rule: ThresholdRule, sensor: Sensor) -> bool:
    if rule.sensors:
        return sensor.id in rule.sensors
    return rule.sensor_kind == sensor.kind and (rule.site is None or rule.site == sensor.site)


def _thresholds(config: StreamsConfig, sensor: Sensor) -> list[Threshold]:
    found = []
    for rule in config.rules:
        if isinstance(rule, ThresholdRule) and rule.enabled and _applies(rule, sensor):
            above = rule.raise_.above
            value = above if above is not None else rule.raise_.below
            assert value is not None
            direction = "above" if above is not None else "below"
            name = rule.name or rule.id
            found.append(Threshold(rule=rule.id, name=name, severity=rule.severity, value=value, direction=direction))
    return sorted(found, key=lambda threshold: threshold.value)


def build_layout(config: StreamsConfig) -> Layout:
    console = config.console
    return Layout(
        title=console.title,
        bands=console.bands,
        map=MapView(
            tile_url=console.map.tile_url,
            attribution=console.map.attribution,
            max_zoom=console.map.max_zoom,
            outlines=sorted(site for site in console.map.outlines if config.site(site) is not None),
        ),
        timezone=config.sites[0].timezone if config.sites else "Asia/Ho_Chi_Minh",  # a scope of no known site
        sites=[SiteView(id=s.id, name=s.name, timezone=s.timezone, location=_point(s.location)) for s in config.sites],
        cameras=[
            CameraView(
                id=c.id,
                name=c.name,
                site=c.site,
                location=_point(c.location),
                zones=[zone.id for zone in c.zones],
                lines=[line.id for line in c.lines],
                zone_shapes=[
                    ZoneShape(id=z.id, name=z.name or z.id, points=[(p[0], p[1]) for p in z.points]) for z in c.zones
                ],
                line_shapes=[
                    LineShape(
                        id=ln.id, name=ln.name or ln.id, start=(ln.start[0], ln.start[1]), end=(ln.end[0], ln.end[1])
                    )
                    for ln in c.lines
                ],
            )
            for c in config.cameras
            if c.enabled
        ],
        sensors=[
            SensorView(
                id=s.id,
                name=s.name,
                kind=s.kind,
                unit=s.unit,
                site=s.site,
                location=_point(s.location),
                thresholds=_thresholds(config, s),
            )
            for s in config.sensors
            if s.enabled
        ],
    )
