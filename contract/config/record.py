"""Recording at the edge: what each camera keeps (segments remuxed from its own stream) and its clips."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from contract.config.types import Duration, PositiveDuration, StrictModel

RecordMode = Literal["off", "events", "continuous"]


class RecordSettings(StrictModel):
    """A camera's recording: segments are the camera's own H.264/H.265, remuxed into MP4 (no transcoding)."""

    mode: RecordMode = "off"
    """`off`, `events` (keep only what event clips need) or `continuous` (keep everything)"""
    continuous_retention: Duration = Field(default=timedelta(days=3))
    """`continuous`: keep segments without events this long"""
    events_retention: Duration = Field(default=timedelta(days=30))
    """keep segments that overlap an event this long (both modes)"""
    segment: PositiveDuration = Field(default=timedelta(seconds=10))
    """target segment length; each segment starts on a keyframe"""
    pre_roll: Duration = Field(default=timedelta(seconds=5))
    """event clips start this long before the event"""
    post_roll: Duration = Field(default=timedelta(seconds=5))
    """event clips end this long after the event"""
    max_clip: PositiveDuration = Field(default=timedelta(seconds=120))
    """events close together share one clip, at most this long"""

    @model_validator(mode="after")
    def _bounds(self) -> RecordSettings:
        if not timedelta(seconds=1) <= self.segment <= timedelta(minutes=10):
            raise ValueError("record.segment must be between 1s and 10m")
        if self.pre_roll > timedelta(minutes=5) or self.post_roll > timedelta(minutes=5):
            raise ValueError("record.pre_roll and record.post_roll are at most 5m")
        return self
