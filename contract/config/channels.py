"""Notification channels that alert rules deliver to."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator

from contract.config.types import Identifier, PositiveDuration, StrictModel, check_url


class BodyTemplate(StrictModel):
    """The body a channel sends instead of the default JSON: a Jinja2 template (sandboxed; no code
    runs) in Vietnamese and English, so an SMS gateway, Zalo OA or Telegram bridge is fed without
    code. Variables: `event` (e.g. `firing`, `incident_escalation`), `alert` (the alert payload;
    for incident notices `alert.labels.incident_id`, `.level`, `.round`), `lang`."""

    language: Literal["vi", "en"] = "vi"
    """which text to send"""
    vi: str = Field(min_length=1, max_length=8000)
    """the template in Vietnamese"""
    en: str | None = Field(default=None, max_length=8000)
    """the template in English (default: the Vietnamese one)"""
    content_type: str = "application/json"
    """the webhook's Content-Type for the rendered body"""

    def text(self) -> str:
        return self.en if self.language == "en" and self.en else self.vi


class DashboardChannel(StrictModel):
    """The operator console, over WebSocket."""

    id: Identifier
    type: Literal["dashboard"]
    """channel kind"""


class MqttChannel(StrictModel):
    """Retained alert state for responders' apps, under `topic` (default `<prefix>/alerts`)."""

    id: Identifier
    type: Literal["mqtt"]
    """channel kind"""
    topic: str | None = None
    """MQTT topic prefix for alert state (default `<prefix>/alerts`)"""
    qos: Literal[0, 1, 2] = 1
    """MQTT QoS of alert messages"""
    clear_resolved_after: PositiveDuration | None = Field(default=timedelta(hours=24))
    """clear a resolved alert's retained message this long after publishing it; null keeps it"""
    template: BodyTemplate | None = None
    """the message body as a template (default: the alert payload's JSON)"""


class WebhookChannel(StrictModel):
    """A JSON POST signed with HMAC-SHA256 over `timestamp.body`."""

    id: Identifier
    type: Literal["webhook"]
    """channel kind"""
    url: str
    """http(s) endpoint that receives the POST"""
    secret: SecretStr = Field(description="shared secret for the signature; use ${ENV}")
    timeout: PositiveDuration = Field(default=timedelta(seconds=5))
    """per attempt"""
    max_attempts: int = Field(default=6, ge=1, le=50)
    template: BodyTemplate | None = None
    """the POST body as a template (default: `{"event": ..., "alert": {...}}`)"""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return check_url(url, ("http", "https"), "a webhook")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 16:
            raise ValueError("a webhook secret needs at least 16 characters")
        return secret


NotificationChannel = Annotated[DashboardChannel | MqttChannel | WebhookChannel, Field(discriminator="type")]
