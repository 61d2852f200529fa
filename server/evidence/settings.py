"""Evidence settings, from `IOC_EVIDENCE_*` environment variables (read once by the app factory)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EvidenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_EVIDENCE_", extra="ignore", frozen=True)

    clip_dir: Path = Field(default=Path("clips"), description="the directory clip store: where event clips are kept")
    max_clip_mb: int = Field(default=512, ge=1, description="largest clip upload accepted, in MiB")
    retention_interval_s: float = Field(default=3600.0, gt=0, description="how often old clips and audit rows go")
    clip_store: Literal["directory", "s3"] = Field(
        default="directory", description="where clips are kept: `directory` (`clip_dir`) or an S3-compatible bucket"
    )
    s3_endpoint: str | None = Field(
        default=None, pattern=r"^https?://[^/\s]+", description="the S3 store's endpoint URL (path-style, e.g. MinIO)"
    )
    s3_bucket: str | None = Field(default=None, min_length=3, max_length=63, description="the S3 store's bucket")
    s3_access_key: str | None = Field(default=None, description="the S3 store's access key id")
    s3_secret_key: SecretStr | None = Field(default=None, description="the S3 store's secret key")
    s3_region: str = Field(default="us-east-1", min_length=1, description="the S3 store's region (signed in requests)")
    s3_create_bucket: bool = Field(default=True, description="make the S3 bucket at start (and on a put) when missing")
    s3_retry_attempts: int = Field(
        default=4, ge=1, le=10, description="tries in all of an S3 request failing temporarily (5xx, connection)"
    )
    s3_retry_max_s: float = Field(
        default=2.0, ge=0.01, le=60, description="the longest pause between S3 retries (doubling from 0.2 s, jittered)"
    )

    @model_validator(mode="after")
    def _s3_complete(self) -> Self:
        if self.clip_store == "s3":
            missing = [
                f"IOC_EVIDENCE_{name.upper()}"
                for name in ("s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"clip_store=s3 needs {', '.join(missing)}")
        return self
