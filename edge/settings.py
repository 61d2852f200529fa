"""Process settings of an edge worker (not in streams.yaml): IOC_* environment variables or options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.config import EdgeWorker
from contract.jetstream import DEFAULT_NATS_URL


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_", extra="ignore")

    transport: Literal["mqtt", "jetstream"] = Field(
        default="mqtt", description="events over MQTT (mqtt_url) or straight into the NATS JetStream stream"
    )
    mqtt_url: SecretStr = Field(default=SecretStr("mqtt://127.0.0.1:1883"), description="broker URL")
    mqtt_protocol: Literal["5", "3.1.1"] = Field(default="5", description="3.1.1 for NATS's MQTT listener")
    nats_url: SecretStr = Field(default=SecretStr(DEFAULT_NATS_URL), description="NATS URL (transport jetstream)")
    sender_stall_s: float = Field(
        default=15.0, gt=0, description="events waiting this long without an acknowledgement: sender stalled"
    )
    config: Path = Field(default=Path("streams.yaml"), description="streams.yaml")
    worker_id: str = Field(min_length=1, description="this worker's id in streams.yaml edge_workers")
    spool_dir: Path | None = Field(default=None, description="overrides edge_workers[].spool_dir")
    snapshot_dir: Path | None = Field(default=None, description="overrides edge_workers[].snapshot_dir")
    snapshot_cap_mb: int | None = Field(default=None, ge=1, description="overrides edge_workers[].snapshot_cap_mb")
    record_dir: Path | None = Field(default=None, description="overrides edge_workers[].record_dir")
    record_cap_mb: int | None = Field(default=None, ge=1, description="overrides edge_workers[].record_cap_mb")
    server_url: str | None = Field(default=None, description="the server's base URL, where event clips are uploaded")
    server_api_key: SecretStr | None = Field(default=None, description="API key (operator role) for clip uploads")
    reload_interval_s: float = Field(default=2.0, gt=0, description="how often streams.yaml is checked")
    stats_interval_s: float | None = Field(default=None, gt=0, description="overrides edge_workers[].stats_interval")
    reconnect_initial_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    rejected_retry_s: float = Field(default=60.0, gt=0, description="retry delay after wrong credentials / URL")
    log_level: str = "INFO"

    def spool_path(self, worker: EdgeWorker | None) -> Path:
        directory = self.spool_dir or (Path(worker.spool_dir) if worker and worker.spool_dir else Path("spool"))
        return directory / f"{self.worker_id}.sqlite3"

    def snapshot_path(self, worker: EdgeWorker | None) -> Path | None:
        if self.snapshot_dir is not None:
            return self.snapshot_dir
        return Path(worker.snapshot_dir) if worker and worker.snapshot_dir else None

    def snapshot_cap_bytes(self, worker: EdgeWorker | None) -> int:
        """The size cap of the snapshot directory in bytes (1 GiB unless configured)."""
        megabytes = self.snapshot_cap_mb or (worker.snapshot_cap_mb if worker else 1024)
        return megabytes * 1024 * 1024

    def record_path(self, worker: EdgeWorker | None) -> Path | None:
        if self.record_dir is not None:
            return self.record_dir
        return Path(worker.record_dir) if worker and worker.record_dir else None

    def record_cap_bytes(self, worker: EdgeWorker | None) -> int:
        megabytes = self.record_cap_mb or (worker.record_cap_mb if worker else 20480)
        return megabytes * 1024 * 1024
