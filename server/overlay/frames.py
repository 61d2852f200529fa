"""Live detection frames (the edge's `LiveDetectionsPayload`s) as overlay clients receive them.

A frame carries the tracked objects of one detected picture and the picture's capture time `t`
(the edge's wall clock when the picture arrived, epoch milliseconds); the browser matches it to
the video frame it shows by that time. Parsing is strict and bounded: a message larger than
`MAX_FRAME_BYTES`, one that is not a `LiveDetectionsPayload`, or one whose `camera_id` differs from
its topic's is refused with a reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contract.payloads import LiveDetectionsPayload

MAX_FRAME_BYTES = 131_072
Message = dict[str, Any]


class InvalidFrameError(ValueError):
    """A live detections message that cannot be drawn; the text says why."""


def parse_frame(camera_id: str, payload: bytes) -> LiveDetectionsPayload:
    if len(payload) > MAX_FRAME_BYTES:
        raise InvalidFrameError(f"camera '{camera_id}': {len(payload)} bytes, more than {MAX_FRAME_BYTES}")
    try:
        frame = LiveDetectionsPayload.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise InvalidFrameError(f"camera '{camera_id}': {where}: {first['msg']}") from exc
    if frame.camera_id != camera_id:
        raise InvalidFrameError(f"camera '{camera_id}': the payload names camera '{frame.camera_id}'")
    return frame


def epoch_ms(at: datetime) -> float:
    return round(at.timestamp() * 1000, 1)


def frame_message(frame: LiveDetectionsPayload, received_at: datetime) -> Message:
    """`{"type": "frame", ...}`: `t` the picture's capture time, `received_t` the server's receipt
    (both epoch ms, server clock), boxes as fractions of the picture."""
    return {
        "type": "frame",
        "camera_id": frame.camera_id,
        "seq": frame.seq,
        "t": epoch_ms(frame.ts),
        "received_t": epoch_ms(received_at),
        "objects": [
            {"box": list(o.box), "label": o.label, "confidence": o.confidence, "track_id": o.track_id}
            for o in frame.objects
        ],
    }
