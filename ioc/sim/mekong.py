"""Simulated Mekong Delta sensors: what a Sóc Trăng station network reports, as functions of time.

- Salinity follows the semi-diurnal tide (two highs a day) on top of a seasonal level that rises
  through the dry season (peaking in March) and is near zero in the wet season; inland gauges see
  less than the river mouth.
- Water level is the tide (semi-diurnal M2 plus diurnal K1) around a mean.
- Rainfall comes in bursts in the wet season, rarely in the dry season.
- PM2.5 has a daily cycle with morning and evening traffic peaks.

`time_scale` speeds the natural cycles up for demos (60: a tidal day passes in about 25 minutes).
Every value is a pure function of (time, seed), so runs are reproducible and testable.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import datetime

from contract.config.sensors import Sensor, SensorKind

M2_HOURS = 12.42  # principal lunar semi-diurnal tide
K1_HOURS = 23.93  # lunisolar diurnal tide
DAY_HOURS = 24.0


@dataclass(frozen=True)
class SimulatedStation:
    """One simulated sensor: its kind and how exposed it is to the sea (1 at the river mouth)."""

    sensor_id: str
    kind: SensorKind
    exposure: float = 1.0
    seed: int = 0


def _hours(at: datetime, time_scale: float) -> float:
    return at.timestamp() / 3600.0 * time_scale


def dry_season_factor(at: datetime) -> float:
    """0 in the wet season (Aug-Oct), rising to 1 in March (peak saltwater intrusion)."""
    day_of_year = at.timetuple().tm_yday
    peak_day = 75  # mid March
    phase = 2 * math.pi * (day_of_year - peak_day) / 365.25
    return float(max(0.0, math.cos(phase)) ** 1.5)


def _rng(*parts: object) -> random.Random:
    """A generator seeded from the parts, the same in every process (unlike hash())."""
    return random.Random(zlib.crc32("/".join(map(str, parts)).encode()))


def _noise(station: SimulatedStation, at: datetime, scale: float) -> float:
    bucket = int(at.timestamp() // 60)
    return _rng(station.seed, station.sensor_id, bucket).gauss(0.0, scale)


def salinity_ppt(
    station: SimulatedStation, at: datetime, time_scale: float = 1.0, season: float | None = None
) -> float:
    """Salinity in ‰: tide-driven oscillation on a seasonal level, scaled by exposure."""
    level = dry_season_factor(at) if season is None else season
    hours = _hours(at, time_scale)
    tide = 0.5 * (1 + math.sin(2 * math.pi * hours / M2_HOURS))  # 0..1, two highs a day
    base = 0.15 + 3.6 * level * station.exposure
    value = base * (0.55 + 0.75 * tide) + _noise(station, at, 0.03)
    return round(max(0.0, value), 3)


def water_level_m(station: SimulatedStation, at: datetime, time_scale: float = 1.0) -> float:
    hours = _hours(at, time_scale)
    m2 = 1.05 * math.sin(2 * math.pi * hours / M2_HOURS)
    k1 = 0.35 * math.sin(2 * math.pi * hours / K1_HOURS + 0.7)
    return round(0.45 + station.exposure * (m2 + k1) + _noise(station, at, 0.01), 3)


def rainfall_mm(station: SimulatedStation, at: datetime, time_scale: float = 1.0) -> float:
    """Rain in mm over the last reporting interval: mostly 0, bursts more likely in the wet season."""
    wet = 1.0 - dry_season_factor(at)
    hours = _hours(at, time_scale)
    storm_slot = int(hours // 3)
    rng = _rng(station.seed, station.sensor_id, "storm", storm_slot)
    if rng.random() > 0.08 + 0.5 * wet:
        return 0.0
    intensity = rng.uniform(5, 70)
    position = (hours % 3) / 3
    return round(intensity * math.sin(math.pi * position) ** 2, 2)


def pm25_ugm3(station: SimulatedStation, at: datetime, time_scale: float = 1.0, utc_offset_hours: float = 7.0) -> float:
    """PM2.5 with traffic peaks at 07:00 and 18:00 local time, higher in the dry season."""
    local_hour = (_hours(at, time_scale) + utc_offset_hours) % DAY_HOURS
    morning = math.exp(-(((local_hour - 7.0) / 1.5) ** 2))
    evening = math.exp(-(((local_hour - 18.0) / 2.0) ** 2))
    base = 18 + 14 * dry_season_factor(at)
    return round(max(1.0, base + 45 * morning + 38 * evening + _noise(station, at, 2.0)), 1)


def simulate(station: SimulatedStation, at: datetime, time_scale: float = 1.0, season: float | None = None) -> float:
    """The station's value at `at`, in the unit of its kind (‰, m, mm, µg/m³; others: a slow wave)."""
    if station.kind == "salinity":
        return salinity_ppt(station, at, time_scale, season)
    if station.kind == "water_level":
        return water_level_m(station, at, time_scale)
    if station.kind == "rainfall":
        return rainfall_mm(station, at, time_scale)
    if station.kind in ("pm25", "pm10"):
        return pm25_ugm3(station, at, time_scale)
    hours = _hours(at, time_scale)
    return round(28 + 3 * math.sin(2 * math.pi * hours / DAY_HOURS) + _noise(station, at, 0.1), 2)


def station_for(sensor: Sensor, seed: int = 0) -> SimulatedStation:
    """Exposure from the sensor's name and site: river mouths and the Hậu river see the most salt."""
    text = f"{sensor.id} {sensor.name} {sensor.site}".lower()
    exposure = 1.25 if any(word in text for word in ("tran-de", "trần đề", "cửa")) else 1.0
    if any(word in text for word in ("kênh", "canal", "city")):
        exposure = 0.8
    return SimulatedStation(sensor_id=sensor.id, kind=sensor.kind, exposure=exposure, seed=seed)
