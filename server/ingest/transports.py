"""The transport registry: `IOC_TRANSPORT` names one, built here from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from contract.config import StreamsConfig
from server.ingest.transport import IngestTransport
from server.metrics import Metrics
from server.settings import Settings


def make_transport(
    settings: Settings, config: StreamsConfig, topics: Sequence[str], metrics: Metrics
) -> IngestTransport:
    if settings.transport == "jetstream":
        from server.ingest.jetstream import JetStreamTransport  # nats-py only where it is used

        return JetStreamTransport(settings, config, topics)
    from server.ingest.mqtt_transport import MqttTransport

    return MqttTransport(settings, config, topics, metrics)
