"""Live-view settings, from `IOC_LIVE_*` environment variables (built in the entrypoint)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_LIVE_", extra="ignore", frozen=True)

    host_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="extra local addresses offered as ICE host candidates (aioice skips loopback)",
    )
    ice_servers: list[str] = Field(default_factory=list, description="stun:/turn: URLs; none needed on a LAN")
    turn_username: str | None = None
    turn_password: SecretStr | None = None
    open_timeout_s: float = Field(default=10.0, gt=0, description="give up opening a camera after this")
    read_timeout_s: float = Field(default=5.0, gt=0, description="no packet for this long: reopen the camera")
    reopen_max_backoff_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(
        default=15.0, gt=0, description="a viewer whose browser has not connected after this is closed"
    )
    max_viewers: int = Field(default=64, ge=1, description="peer connections served at once, all cameras")
    idle_close_s: float = Field(default=0.0, ge=0, description="keep a camera pull this long after its last viewer")
