"""`IOC_TRANSPORT` and `IOC_NATS_URL` are validated with messages that name the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.settings import Settings


def test_transport_and_nats_url_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_TRANSPORT", "jetstream")
    monkeypatch.setenv("IOC_NATS_URL", "nats://a:4222, nats://user:pw@b:4222")
    settings = Settings()
    assert settings.transport == "jetstream"
    assert settings.nats_servers == ["nats://a:4222", "nats://user:pw@b:4222"]
    assert "pw" not in settings.describe()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"transport": "kafka"}, "Input should be 'mqtt' or 'jetstream'"),
        ({"nats_url": "http://x:4222"}, "'http://x:4222' is not a NATS URL"),
        ({"nats_url": "nats://"}, "is not a NATS URL"),
        ({"nats_url": "nats://h:1,mqtt://u:secret@h"}, "'mqtt://u:***@h' is not a NATS URL"),
        ({"nats_max_deliver": 1}, "greater than or equal to 2"),
        ({"mqtt_protocol": "4"}, "Input should be '5' or '3.1.1'"),
    ],
)
def test_bad_transport_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**values)  # type: ignore[arg-type]
    (error,) = info.value.errors()
    assert message in error["msg"]
    assert "secret" not in error["msg"]  # the URL in our message is redacted
