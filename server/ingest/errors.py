"""Why a message (or one reading in it) was not stored: the dead-letter reasons."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_SENSOR = "unknown_sensor"
    UNKNOWN_CAMERA = "unknown_camera"
    DISABLED_SENSOR = "disabled_sensor"
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIME = "future_time"
    BAD_TIME = "bad_time"
    ENTITY_MISMATCH = "entity_mismatch"
    INVALID_EVENT = "invalid_event"
    INVALID_STATUS = "invalid_status"
    CAMERA_MISMATCH = "camera_mismatch"
    BAD_SNAPSHOT = "bad_snapshot"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    DECODE_FAILED = "decode_failed"  # a bug in decoding, caught: the message is kept as a dead letter
    BAD_QUALITY = "bad_quality"
    UNMAPPED_PARAMETER = "unmapped_parameter"
    BAD_LINE = "bad_line"


class Rejected(Exception):  # noqa: N818 - a decoding outcome, not a failure of the server
    """A payload (or part of it) is not acceptable as data; carries the dead-letter reason."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
