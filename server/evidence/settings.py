"""Evidence settings, from `IOC_EVIDENCE_*` environment variables (read once by the app factory)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EvidenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_EVIDENCE_", extra="ignore", frozen=True)

    clip_dir: Path = Field(default=Path("clips"), description="the directory clip store: where event clips are kept")
    max_clip_mb: int = Field(default=512, ge=1, description="largest clip upload accepted, in MiB")
    retention_interval_s: float = Field(default=3600.0, gt=0, description="how often old clips and audit rows go")
