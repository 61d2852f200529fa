"""Alert rules: sensor conditions and detection conditions, with noise control."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contract.config.incidents import IncidentOptions
from contract.config.sensors import SensorKind
from contract.config.types import Duration, Identifier, PositiveDuration, StrictModel, TimeZoneName

Severity = Literal["info", "warning", "critical"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
GroupKey = Literal["site", "rule", "subject"]
ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_GROUP_BY: tuple[GroupKey, ...] = ("rule", "subject")


class Schedule(StrictModel):
    """When a rule is active. `start` after `end` spans midnight (e.g. 18:00 to 06:00)."""

    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS))
    """weekdays when active"""
    start: time = time(0, 0)
    """local time the rule becomes active (HH:MM)"""
    end: time = time(23, 59, 59)
    """local time it stops; earlier than start spans midnight"""
    timezone: TimeZoneName | None = Field(default=None, description="defaults to the site's time zone")


class Bound(StrictModel):
    """`above` or `below` a level, held for `for` before it counts."""

    above: float | None = None
    """level the value must exceed"""
    below: float | None = None
    """level the value must fall under"""
    for_: Duration = Field(default=timedelta(seconds=0), alias="for")
    """how long the condition must hold"""

    @model_validator(mode="after")
    def _one_side(self) -> Bound:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self


class RuleBase(StrictModel):
    id: Identifier
    name: str | None = None
    """title shown to people"""
    description: str | None = None
    """longer text for responders"""
    enabled: bool = True
    """false: keep the rule but do not evaluate it"""
    severity: Severity = "warning"
    """how urgent"""
    channels: list[Identifier] = Field(default_factory=lambda: ["dashboard"])
    """channel ids to notify"""
    schedule: Schedule | None = None
    """only evaluate within these hours and days"""
    group_by: list[GroupKey] = Field(default_factory=lambda: list(DEFAULT_GROUP_BY))
    """labels that group alerts into one notification"""
    repeat_interval: PositiveDuration = Field(
        default=timedelta(seconds=3600), description="re-notify a firing alert this often"
    )
    escalate_after: PositiveDuration | None = Field(default=None, description="unacknowledged this long: escalate")
    escalate_to: list[Identifier] = Field(default_factory=list)
    """channels notified on escalation"""
    incident: IncidentOptions | None = None
    """this rule's firing alerts open (or join) incidents"""

    @model_validator(mode="after")
    def _escalation_complete(self) -> RuleBase:
        if (self.escalate_after is None) != (not self.escalate_to):
            raise ValueError("'escalate_after' and 'escalate_to' go together")
        return self


class SensorSelector(StrictModel):
    """Which sensors a sensor rule watches: listed ids, or every sensor of a kind (optionally at a site)."""

    sensors: list[Identifier] = Field(default_factory=list)
    """sensor ids to watch"""
    sensor_kind: SensorKind | None = None
    """or: every sensor of this kind"""
    site: Identifier | None = None
    """limit `sensor_kind` to one site"""


class SensorRuleBase(RuleBase, SensorSelector):
    @model_validator(mode="after")
    def _selects_something(self) -> SensorRuleBase:
        if not self.sensors and self.sensor_kind is None:
            raise ValueError("name the 'sensors' to watch or a 'sensor_kind'")
        return self


class ThresholdRule(SensorRuleBase):
    """Raise when `raise` holds, clear when `clear` holds: separate levels give hysteresis."""

    type: Literal["threshold"]
    """rule kind"""
    raise_: Bound = Field(alias="raise")
    """condition that raises the alert"""
    clear: Bound
    """condition that clears it (on the other side of `raise`: hysteresis)"""

    @model_validator(mode="after")
    def _hysteresis_direction(self) -> ThresholdRule:
        r, c = self.raise_, self.clear
        if r.above is not None:
            if c.below is None or c.below > r.above:
                raise ValueError("a rule raised 'above' X clears 'below' a level <= X")
        elif r.below is not None and (c.above is None or c.above < r.below):
            raise ValueError("a rule raised 'below' X clears 'above' a level >= X")
        return self


class RateOfChangeRule(SensorRuleBase):
    """Raise when the value changes by more than `change` within `window`."""

    type: Literal["rate_of_change"]
    """rule kind"""
    window: PositiveDuration
    """time window"""
    rise: float | None = Field(default=None, gt=0)
    fall: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _some_change(self) -> RateOfChangeRule:
        if self.rise is None and self.fall is None:
            raise ValueError("give 'rise', 'fall' or both")
        return self


class NoDataRule(RuleBase, SensorSelector):
    """Raise when a sensor or camera sends nothing for `after`."""

    type: Literal["no_data"]
    """rule kind"""
    cameras: list[Identifier] = Field(default_factory=list)
    """camera ids to watch"""
    after: PositiveDuration
    """silence longer than this raises the alert"""

    @model_validator(mode="after")
    def _selects_something(self) -> NoDataRule:
        if not self.sensors and self.sensor_kind is None and not self.cameras:
            raise ValueError("name the 'sensors', a 'sensor_kind' or the 'cameras' to watch")
        return self


class CameraRuleBase(RuleBase):
    camera: Identifier
    classes: list[str] | None = None
    """object classes that count (default: any)"""
    min_confidence: float = Field(default=0.0, ge=0, le=1)


class ObjectInZoneRule(CameraRuleBase):
    type: Literal["object_in_zone"]
    """rule kind"""
    zone: Identifier
    for_: Duration = Field(default=timedelta(seconds=0), alias="for")
    """how long the condition must hold"""


class ZoneOccupancyRule(CameraRuleBase):
    type: Literal["zone_occupancy"]
    """rule kind"""
    zone: Identifier
    above: int = Field(ge=0, le=100000)
    """level the value must exceed"""
    for_: Duration = Field(default=timedelta(seconds=0), alias="for")
    """how long the condition must hold"""


class LoiteringRule(CameraRuleBase):
    type: Literal["loitering"]
    """rule kind"""
    zone: Identifier
    over: PositiveDuration
    """how long an object stays in the zone before it counts as loitering"""


class LineCrossedRule(CameraRuleBase):
    type: Literal["line_crossed"]
    """rule kind"""
    line: Identifier
    direction: Literal["both", "in", "out"] = "both"
    """which crossings count"""
    count_over: int = Field(default=0, ge=0, description="raise when crossings in `window` exceed this")
    window: PositiveDuration = Field(default=timedelta(seconds=600))
    """time window"""


class CameraOfflineRule(RuleBase):
    type: Literal["camera_offline"]
    """rule kind"""
    cameras: list[Identifier] = Field(default_factory=list, description="empty: every camera")
    for_: Duration = Field(default=timedelta(seconds=60), alias="for")
    """how long the condition must hold"""


AlertRule = Annotated[
    ThresholdRule
    | RateOfChangeRule
    | NoDataRule
    | ObjectInZoneRule
    | ZoneOccupancyRule
    | LoiteringRule
    | LineCrossedRule
    | CameraOfflineRule,
    Field(discriminator="type"),
]


class Silence(StrictModel):
    """A silence declared in config (operators also create them through the API)."""

    id: Identifier
    matchers: dict[str, str] = Field(min_length=1, description="label: value, e.g. {site: long-phu}")
    starts_at: str | None = None
    """ISO 8601 time; default now"""
    ends_at: str
    """ISO 8601 time when the silence ends"""
    author: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class Inhibition(StrictModel):
    """While an alert matching `source` fires, alerts matching `target` that share `equal` are muted."""

    source: dict[str, str] = Field(min_length=1)
    target: dict[str, str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)
    """labels that must be equal on source and target"""
