"""Access-control settings, from `IOC_AUTH_*` environment variables (built in the entrypoint)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "admin", "password", "replace-me"}


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_AUTH_", extra="ignore", frozen=True)

    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="a console session lasts this long")
    cookie_secure: bool = Field(default=False, description="send the session cookie over HTTPS only")
    login_max_failures: int = Field(default=5, ge=1, description="failed logins per name or address per window")
    login_window_s: float = Field(default=300.0, gt=0)
    bootstrap_admin: str = Field(default="admin", description="created at start when there is no user yet")
    bootstrap_password: SecretStr | None = Field(default=None, description="its password; no user is made without")
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)

    @field_validator("bootstrap_password")
    @classmethod
    def _not_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in _PLACEHOLDERS:
            raise ValueError("choose a real password for the first admin (not a placeholder)")
        return value
