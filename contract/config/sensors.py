"""Environmental sensors and how their MQTT payloads become readings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from contract.config.types import Duration, GeoPoint, Identifier, PositiveDuration, StrictModel
from contract.jsonpath import parse_json_path

SensorKind = Literal[
    "salinity",
    "water_level",
    "rainfall",
    "pm25",
    "pm10",
    "temperature",
    "humidity",
    "ph",
    "dissolved_oxygen",
    "turbidity",
    "wind_speed",
    "other",
]

_JSON_PATH_HELP = "a JSON path like '$.data.salinity' or '$.readings[0].value'"


def check_json_path(path: str) -> str:
    parse_json_path(path)
    return path


class NativePayload(StrictModel):
    """The project's own format on `<prefix>/sensors/<id>`: a number, or
    `{"value": 3.2, "ts": "2026-03-01T07:00:00+07:00"}`, or a batch `{"readings": [...]}`."""

    format: Literal["native"] = "native"
    """payload format"""


class NumberPayload(StrictModel):
    """The payload is a bare number such as `3.2`; the time is the time of arrival."""

    format: Literal["number"]
    """payload format"""


class JsonPathPayload(StrictModel):
    """A JSON document of the sensor's own shape; paths point at the value and (optionally) time."""

    format: Literal["json"]
    """payload format"""
    value_path: str = Field(description=_JSON_PATH_HELP)
    time_path: str | None = Field(default=None, description="ISO 8601 text or epoch seconds/ms")

    @field_validator("value_path", "time_path")
    @classmethod
    def _check_paths(cls, path: str | None) -> str | None:
        return None if path is None else check_json_path(path)


FiwareEntityType = Literal["WaterQualityObserved", "AirQualityObserved", "WeatherObserved", "WaterObserved"]


class FiwarePayload(StrictModel):
    """A FIWARE Smart Data Model entity (NGSI-v2 normalised or key-values, or NGSI-LD);
    `attribute` names the property to read, `dateObserved` gives the time."""

    format: Literal["fiware"]
    """payload format"""
    entity_type: FiwareEntityType
    """the FIWARE Smart Data Model"""
    attribute: str = Field(min_length=1, description="e.g. 'salinity', 'pm25', 'waterLevel'")
    entity_id: str | None = Field(default=None, description="only accept this entity id")


PayloadMapping = Annotated[
    NativePayload | NumberPayload | JsonPathPayload | FiwarePayload, Field(discriminator="format")
]


class ValueRange(StrictModel):
    """The physically possible range; readings outside it are dead-lettered, not stored."""

    min: float
    """lowest possible value"""
    max: float
    """highest possible value"""

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class UnitConversion(StrictModel):
    """`stored = reading * scale + offset`, e.g. a gauge reporting mS/cm or cm."""

    scale: float = 1.0
    """multiply by this"""
    offset: float = 0.0
    """then add this"""

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, scale: float) -> float:
        if scale == 0:
            raise ValueError("scale cannot be 0")
        return scale


class Sensor(StrictModel):
    id: Identifier
    name: str = Field(min_length=1)
    kind: SensorKind
    """what it measures"""
    unit: str = Field(min_length=1, max_length=16, description="unit of stored values, e.g. '‰', 'm', 'mm', 'µg/m³'")
    site: Identifier
    topic: str | None = Field(default=None, description="MQTT topic when not `<prefix>/sensors/<id>`")
    payload: PayloadMapping = Field(default_factory=NativePayload)
    """how the MQTT payload is read (`format`)"""
    convert: UnitConversion | None = None
    """unit conversion applied before storing"""
    range: ValueRange | None = None
    """physically possible values; others are dead-lettered"""
    expected_interval: PositiveDuration = Field(
        default=timedelta(seconds=300), description="how often it reports; offline after 3 intervals with no data"
    )
    offline_after: Duration | None = Field(default=None, description="override of 3 x expected_interval")
    location: GeoPoint | None = None
    """map position"""
    enabled: bool = True
    """false: ignore its messages"""

    @field_validator("topic")
    @classmethod
    def _plain_topic(cls, topic: str | None) -> str | None:
        if topic is not None and (not topic or "+" in topic or "#" in topic or topic.startswith("$")):
            raise ValueError("a sensor topic is a plain MQTT topic (no wildcards, not starting with '$')")
        return topic

    @property
    def offline_timeout(self) -> float:
        """Seconds of silence after which the sensor counts as offline."""
        if self.offline_after is not None:
            return self.offline_after.total_seconds()
        return 3 * self.expected_interval.total_seconds()
