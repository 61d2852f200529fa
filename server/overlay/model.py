"""What an overlay client receives for one detection event: geometry and labels, nothing secret.
Read from the stored record by attribute (`OverlayDetection.model_validate(event)`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field


class OverlayDetection(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: str
    camera_id: str
    kind: str
    ts: datetime = Field(validation_alias="time")
    """the frame's time (edge clock)"""
    received_at: datetime = Field(exclude=True)
    label: str | None = None
    confidence: float | None = None
    box: tuple[float, float, float, float] | None = None
    """x1, y1, x2, y2 as fractions of the frame"""
    track_id: int | None = None
    zone: str | None = None
    line: str | None = None
    direction: str | None = None
    count: int | None = None
    count_in: int | None = None
    count_out: int | None = None
    dwell_s: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lag_ms(self) -> int:
        """server receipt minus frame time: how late the overlay draws it relative to the picture"""
        return round((self.received_at - self.ts).total_seconds() * 1000)
