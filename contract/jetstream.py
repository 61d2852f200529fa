"""The JetStream side of the contract: stream, subjects, message ids, consumer names.

MQTT topics map to NATS subjects the way NATS's MQTT listener maps them (`ioc/sensors/x` is
`ioc.sensors.x`), so a reading published natively and one arriving through the MQTT listener
land on the same subject of the same stream. A native publisher sets `Nats-Msg-Id` to the
reading's or event's stable id: the stream de-duplicates a resend within its duplicate window.
"""

from __future__ import annotations

from datetime import datetime

STREAM_NAME = "IOC"
"""The one stream that captures every `<prefix>.>` subject (readings, events, status)."""

MSG_ID_HEADER = "Nats-Msg-Id"
INGEST_DURABLE = "ioc-ingest"
"""The durable pull consumer shared by every ingesting server replica."""

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def subject_of(topic: str) -> str:
    """`ioc/sensors/x` -> `ioc.sensors.x` (MQTT wildcards `+`/`#` become `*`/`>`)."""
    return ".".join("*" if part == "+" else ">" if part == "#" else part for part in topic.split("/"))


def topic_of(subject: str) -> str:
    """`ioc.sensors.x` -> `ioc/sensors/x`: decoders keep working on MQTT topic names."""
    return subject.replace(".", "/")


def stream_subjects(topic_prefix: str) -> list[str]:
    """The stream's subjects for a topic prefix (`ioc` -> `ioc.>`)."""
    return [f"{subject_of(topic_prefix)}.>"]


def reading_msg_id(sensor_id: str, at: datetime) -> str:
    """A reading's stable id: one sensor, one device time."""
    return f"r:{sensor_id}:{at.isoformat()}"


def event_msg_id(event_id: str) -> str:
    return f"e:{event_id}"
