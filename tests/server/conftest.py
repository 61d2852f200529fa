"""Fixtures for the server tests (services come from tests/fixtures/services.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import Publisher, write_streams


@pytest.fixture
def streams_path(tmp_path: Path, topic_prefix: str) -> Path:
    return write_streams(tmp_path, topic_prefix)


@pytest.fixture
def publisher(mqtt_broker: object) -> Iterator[Publisher]:
    client = Publisher(mqtt_broker.host, mqtt_broker.port)  # type: ignore[attr-defined]
    yield client
    client.close()
