"""Environmental sensors and how their MQTT payloads become readings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from contract.config.types import Duration, GeoPoint, Identifier, PositiveDuration, StrictModel, TimeZoneName
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


QualityFlag = Literal["normal", "calibrating", "error"]
"""A reading's instrument status: calibrating and error readings are stored and charted as such,
and never raise or clear an alert."""

_DECIMAL_COMMA_HELP = "values are text with a decimal comma, '3,2' = 3.2 (explicit: never guessed)"


class NumberPayload(StrictModel):
    """The payload is a bare number such as `3.2`; the time is the time of arrival."""

    format: Literal["number"]
    """payload format"""
    decimal_comma: bool = Field(default=False, description=_DECIMAL_COMMA_HELP)


class QualityMapping(StrictModel):
    """Where a payload carries the instrument status, and what its values mean."""

    quality_path: str | None = Field(default=None, description="JSON path of the instrument status, if any")
    quality_values: dict[str, QualityFlag] = Field(
        default_factory=dict,
        description="status value (as text) to flag, e.g. {'0': normal, 'CAL': calibrating}; "
        "'normal', 'calibrating' and 'error' are always understood",
    )

    @field_validator("quality_path")
    @classmethod
    def _check_quality_path(cls, path: str | None) -> str | None:
        return None if path is None else check_json_path(path)


class JsonPathPayload(QualityMapping):
    """A JSON document of the sensor's own shape; paths point at the value and (optionally) time."""

    format: Literal["json"]
    """payload format"""
    value_path: str = Field(description=_JSON_PATH_HELP)
    time_path: str | None = Field(default=None, description="ISO 8601 text or epoch seconds/ms")
    timezone: TimeZoneName | None = Field(
        default=None, description="IANA zone of times without a UTC offset (Tasmota, ESPHome); default: the site's"
    )
    decimal_comma: bool = Field(default=False, description=_DECIMAL_COMMA_HELP)

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


class ChirpStackPayload(QualityMapping):
    """A ChirpStack v4 uplink event on `application/<application_id>/device/<dev_eui>/event/up`:
    the device by `deviceInfo.devEui`, the value by a path under `object` (the decoded payload),
    the time from `time`; a frame seen again (same device and `fCnt`) is stored once."""

    format: Literal["chirpstack"]
    """payload format"""
    application_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    """the ChirpStack application (UUID) whose uplink topic is subscribed"""
    dev_eui: str = Field(pattern=r"^[0-9a-fA-F]{16}$", description="the device's DevEUI, 16 hex digits")
    value_path: str = Field(description="path under `object`, e.g. '$.salinity'")
    decimal_comma: bool = Field(default=False, description=_DECIMAL_COMMA_HELP)
    duplicate_window: PositiveDuration = Field(
        default=timedelta(minutes=10), description="a frame counter seen again within this is the same uplink"
    )

    @field_validator("value_path")
    @classmethod
    def _check_value_path(cls, path: str) -> str:
        return check_json_path(path)

    @property
    def uplink_topic(self) -> str:
        return f"application/{self.application_id}/device/{self.dev_eui.lower()}/event/up"


PayloadMapping = Annotated[
    NativePayload | NumberPayload | JsonPathPayload | FiwarePayload | ChirpStackPayload,
    Field(discriminator="format"),
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
    station: Identifier | None = Field(
        default=None, description="the monitoring station (under `stations:`) whose files carry this sensor"
    )
    parameter: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the parameter name in the station's files, e.g. 'Cl', 'PM2,5', 'Mực nước'",
    )

    @model_validator(mode="after")
    def _station_and_parameter(self) -> Sensor:
        if (self.station is None) != (self.parameter is None):
            raise ValueError("'station' and 'parameter' go together: the station's files name the parameter")
        return self

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
