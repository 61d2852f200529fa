"""Process settings (not streams.yaml): where the database and broker are, how the server runs.

Read from `IOC_*` environment variables (and CLI options that override them); built once in the
entrypoint and passed down, never read from a global.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.jetstream import DEFAULT_NATS_URL
from contract.redact import redact_url

NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


def _default_client_id() -> str:
    return f"ioc-server-{socket.gethostname()}"[:64]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IOC_", extra="ignore", frozen=True)

    database_url: str = Field(default="postgresql://postgres@127.0.0.1:5432/ioc", description="libpq URL")
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="broker URL, mqtt:// or mqtts://")
    transport: Literal["mqtt", "jetstream"] = Field(
        default="mqtt",
        description="how readings and events arrive: an MQTT broker (one ingesting replica) or NATS JetStream",
    )
    nats_url: str = Field(
        default=DEFAULT_NATS_URL, description="NATS server URL(s), comma-separated (transport jetstream)"
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT version of the alert publisher ('3.1.1' against NATS's MQTT listener)"
    )
    config: Path = Field(default=Path("streams.yaml"), description="path to streams.yaml")
    host: str = Field(default="127.0.0.1", description="address to listen on (0.0.0.0: every interface)")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port of the API and console")

    migrate_on_start: bool = Field(default=True, description="apply pending migrations at start")
    ingest_enabled: bool = Field(default=True, description="subscribe to MQTT (off: API only)")
    mqtt_client_id: str = Field(
        default_factory=_default_client_id,
        min_length=1,
        max_length=64,
        description="MQTT client id; its persistent session keeps unacked messages across restarts",
    )
    mqtt_shared_group: str | None = Field(
        default=None, description="override of streams.yaml mqtt.shared_group; empty: plain subscriptions"
    )
    mqtt_receive_maximum: int = Field(default=2000, ge=1, le=65535, description="unacked messages in flight")
    mqtt_session_expiry_s: int = Field(default=86400, ge=0, description="the broker keeps the session this long")

    ingest_stall_after_s: float = Field(
        default=30, gt=0, description="/health says stalled when nothing was committed this long while messages wait"
    )
    nats_stream_replicas: int = Field(default=1, ge=1, le=5, description="replicas of the IOC stream (3 in a cluster)")
    nats_duplicate_window_s: float = Field(
        default=120, gt=0, description="the stream drops a resend with a known Nats-Msg-Id within this window"
    )
    nats_max_age_s: float = Field(default=7 * 86400, gt=0, description="the stream keeps messages this long")
    nats_fetch_batch: int = Field(default=500, ge=1, le=10_000, description="messages per pull request")
    nats_max_ack_pending: int = Field(
        default=20_000, ge=1, description="unacknowledged messages the consumer hands out, all replicas together"
    )
    nats_max_deliver: int = Field(
        default=5, ge=2, description="deliveries of one message at most; after the last a failure is a dead letter"
    )
    nats_ack_wait_s: float = Field(
        default=30, gt=0, description="a message not acknowledged this long is delivered again (to any replica)"
    )

    batch_max_rows: int = Field(default=5000, ge=1, le=100_000, description="rows per database transaction, at most")
    batch_max_delay_ms: int = Field(
        default=50, ge=1, le=10_000, description="longest wait to fill a batch while the writer is busy"
    )
    max_future_skew_s: float = Field(default=300, ge=0, description="readings further in the future are rejected")
    dead_letter_max_bytes: int = Field(
        default=4096, ge=64, le=1_048_576, description="raw payload kept per dead letter"
    )
    snapshot_max_bytes: int = Field(default=2_000_000, ge=1024, description="larger snapshots are refused")

    pool_min_size: int = Field(default=2, ge=1, description="database connections kept open")
    pool_max_size: int = Field(default=8, ge=1, description="database connections at most")
    pool_max_waiting: int = Field(default=64, ge=1, description="requests queued for a connection before 503")
    db_timeout_s: float = Field(default=5.0, gt=0, description="connection and query timeout")
    retention_interval_s: float = Field(default=3600, gt=0, description="how often old data is removed")
    config_reload_interval_s: float = Field(default=2.0, gt=0, description="how often streams.yaml is checked")

    replica_mode: Literal["single", "shared"] = Field(
        default="single",
        description="single: this server alone runs everything; shared: replicas on one database elect a leader"
        " (advisory lock) that alone runs the alert engine, outbox delivery and retention",
    )
    leader_retry_s: float = Field(
        default=2.0, gt=0, le=60, description="shared mode: how often a follower tries the lock and a leader checks it"
    )
    replica_tail_poll_s: float = Field(
        default=0.5, gt=0, le=10, description="shared mode: the leader reads newly stored data at least this often"
    )
    replica_command_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="shared mode: a follower waits this long for the leader to take an action"
    )
    outbox_claim_lease_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="a delivery claimed by a dispatcher that stopped renewing it (died) is taken over after this",
    )
    replica_tail_overlap_s: float = Field(
        default=5.0, ge=0, le=600, description="shared mode: look back this far for rows committed out of order"
    )

    station_files_dir: Path | None = Field(
        default=None,
        description="root of the TT 10/2021 station-file receiver (ftp/, drop/, processed/, rejected/); unset: off",
    )
    ftp_port: int | None = Field(
        default=None, ge=0, le=65535, description="FTP port for station uploads (0: any free); unset: no FTP"
    )
    ftp_host: str = Field(default="127.0.0.1", description="address the FTP server listens on")
    ftp_passive_ports: str | None = Field(
        default=None,
        pattern=r"^\d{1,5}-\d{1,5}$",
        description="passive data ports, e.g. '60000-60099' (for a firewall)",
    )
    ftp_masquerade_address: str | None = Field(default=None, description="public address announced in PASV (NAT)")
    ftp_max_connections: int = Field(default=64, ge=1, le=10_000, description="FTP connections at most")
    station_file_settle_s: float = Field(
        default=2.0, ge=0, description="a dropped file is read once unchanged this long"
    )
    station_file_stale_s: float = Field(default=600, gt=0, description="a non-.txt file is rejected after this long")
    station_file_poll_s: float = Field(default=2.0, gt=0, description="how often the drop folder is looked at")
    station_file_max_bytes: int = Field(default=1_048_576, ge=1024, description="larger station files are rejected")

    @field_validator("database_url", "mqtt_url")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("nats_url")
    @classmethod
    def _nats_urls(cls, value: str) -> str:
        urls = [url.strip() for url in value.split(",")]
        for url in urls:
            if not url.startswith(NATS_SCHEMES) or len(url) <= len(url.split("//")[0]) + 2:
                raise ValueError(f"'{redact_url(url)}' is not a NATS URL (nats://host:port, tls://, ws://)")
        return ",".join(urls)

    @property
    def nats_servers(self) -> list[str]:
        return self.nats_url.split(",")

    def describe(self) -> str:
        """For logs: every URL with its credentials redacted."""
        return (
            f"database={redact_url(self.database_url)} mqtt={redact_url(self.mqtt_url)} "
            f"transport={self.transport} nats={','.join(redact_url(url) for url in self.nats_servers)} "
            f"config={self.config} client_id={self.mqtt_client_id} replicas={self.replica_mode}"
        )
