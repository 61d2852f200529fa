"""The transport registry: `IOC_TRANSPORT` names one, built here from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from contract.config import StreamsConfig
from server.ingest.transport import IngestTransport
from server.settings import Settings


def make_transport(settings: Settings, config: StreamsConfig, topics: Sequence[str]) -> IngestTransport:
    if settings.transport == "jetstream":
        raise NotImplementedError("the jetstream transport is not built yet")
    from server.ingest.mqtt_transport import MqttTransport

    return MqttTransport(settings, config, topics)
