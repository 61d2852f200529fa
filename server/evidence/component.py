"""The evidence component: the clip store, the evidence rows, the audit log, recording requests to
the edge and the recorded ranges the edge reports (both over MQTT); clip/audit retention is
`apply_retention`, run by the leader-only `EvidenceRetention`.

Started by the app lifespan like the alert engine (`Component`); routes reach it as
`services.evidence` through `server.api.routes.evidence`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from contract.mqttclient import make_client
from contract.mqtturl import parse_mqtt_url
from contract.payloads import RecordingRangesPayload, RecordRequestPayload
from contract.timeutil import utc_now
from contract.topics import Topics
from server.evidence.clipstore import ClipStore, ClipStoreError, DirectoryClipStore
from server.evidence.metrics import EvidenceCollector, EvidenceCounts
from server.evidence.settings import EvidenceSettings
from server.evidence.store import AuditEntry, EvidenceStore

if TYPE_CHECKING:
    from server.auth.roles import Principal
    from server.state import Services

logger = logging.getLogger(__name__)


def clip_store_of(settings: EvidenceSettings) -> ClipStore:
    """The clip store the settings choose (`IOC_EVIDENCE_CLIP_STORE`)."""
    if settings.clip_store == "s3":
        from server.evidence.s3store import S3ClipStore, S3Retry

        assert settings.s3_endpoint and settings.s3_bucket and settings.s3_access_key and settings.s3_secret_key
        retry = S3Retry(settings.s3_retry_attempts, min(0.2, settings.s3_retry_max_s), settings.s3_retry_max_s)
        return S3ClipStore(
            settings.s3_endpoint,
            settings.s3_bucket,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_region,
            retry=retry,
            create_bucket=settings.s3_create_bucket,
        )
    return DirectoryClipStore(settings.clip_dir)


@dataclass(frozen=True)
class RecordedRanges:
    worker_id: str
    ts: datetime
    ranges: list[tuple[datetime, datetime]]


class EvidenceComponent:
    def __init__(self, settings: EvidenceSettings, clips: ClipStore | None = None) -> None:
        self.settings = settings
        self.clips: ClipStore = clips or clip_store_of(settings)
        self._store: EvidenceStore | None = None
        self._services: Services | None = None
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recorded: dict[str, RecordedRanges] = {}
        self.counts = EvidenceCounts()
        self._lost = False
        self._collector = EvidenceCollector(self.counts, lambda: self.clips.retries)

    @property
    def store(self) -> EvidenceStore:
        if self._store is None:
            raise RuntimeError("the evidence component is not started")
        return self._store

    @property
    def topics(self) -> Topics:
        assert self._services is not None
        return Topics(self._services.config.mqtt.topic_prefix)

    async def start(self, state: Services) -> None:
        self._services = state
        self._store = EvidenceStore(state.pool)
        state.metrics.registry.register(self._collector)
        await self._prepare_clips()
        self._loop = asyncio.get_running_loop()
        self._connect(state)

    async def _prepare_clips(self) -> None:
        """Make the clip store ready; a store that is not (S3 away, no bucket) is logged, not fatal:
        uploads answer 503 until it is, and the edge keeps its clips queued meanwhile."""
        try:
            await asyncio.to_thread(self.clips.prepare)
        except ClipStoreError as exc:
            logger.error("evidence: the clip store is not ready (%s); uploads are refused until it is", exc)

    async def stop(self) -> None:
        if self._services is not None:
            self._services.metrics.registry.unregister(self._collector)
        if self._client is not None:
            client, self._client = self._client, None
            client.disconnect()
            client.loop_stop()

    # ------------------------------------------------------------------ MQTT: requests and ranges

    def _connect(self, state: Services) -> None:
        endpoint = parse_mqtt_url(state.settings.mqtt_url)
        client = make_client(endpoint, f"ioc-evidence-{uuid.uuid4().hex[:8]}", protocol=state.settings.mqtt_protocol)
        topic = Topics(state.config.mqtt.topic_prefix).all_camera_recordings

        def on_connect(c: mqtt.Client, *_: Any) -> None:
            c.subscribe(topic, qos=1)
            if self._lost:
                self._lost = False
                logger.info("evidence: the MQTT broker is back")

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, *_: Any) -> None:
            if not self._lost and self._client is not None:
                self._lost = True
                logger.warning("evidence: lost the MQTT broker (%s); reconnecting, requests wait", reason)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = self._on_message
        client.connect_async(endpoint.host, endpoint.port)
        client.loop_start()
        self._client = client

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = RecordingRangesPayload.model_validate_json(message.payload)
        except ValidationError:
            logger.warning("recorded ranges on %s are not valid: ignored", message.topic)
            return
        ranges = RecordedRanges(payload.worker_id, payload.ts, [(r[0], r[1]) for r in payload.ranges])
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.recorded.__setitem__, payload.camera_id, ranges)

    def request_range(self, worker_id: str, camera_id: str, start: datetime, end: datetime, who: str) -> str:
        """Ask the camera's edge worker to upload [start, end]; returns the request id."""
        if self._client is None:
            raise RuntimeError("the evidence component is not started")
        request = RecordRequestPayload(
            request_id=uuid.uuid4().hex, camera_id=camera_id, start=start, end=end, requested_by=who, ts=utc_now()
        )
        self._client.publish(self.topics.record_requests(worker_id), request.to_json(), qos=1)
        self.counts.recording_requests += 1
        return request.request_id

    # ------------------------------------------------------------------ audit

    async def audit(
        self,
        who: Principal,
        action: str,
        obj: str,
        remote: str | None,
        *,
        cameras: Iterable[str] = (),
        **detail: Any,
    ) -> None:
        """Append to the audit log, with the sites of the `cameras` the action touched; a failure
        is counted and raised (the action is refused)."""
        entry = AuditEntry(who.label, who.kind, who.role.value, action, obj, detail, remote, self._sites_of(cameras))
        try:
            await self.store.append_audit(entry)
        except Exception:
            self.counts.audit_failures += 1
            raise
        logger.info("audit: %s %s %s", who.label, action, obj)

    def _sites_of(self, cameras: Iterable[str]) -> list[str]:
        """The sites of these cameras in the running streams.yaml (a removed camera has none)."""
        assert self._services is not None
        config = self._services.config
        found = (config.camera(camera_id) for camera_id in cameras)
        return sorted({camera.site for camera in found if camera is not None})

    # ------------------------------------------------------------------ retention

    async def apply_retention(self) -> tuple[int, int]:
        """Delete clips and audit rows past `retention.clips` / `retention.audit`: (clips, audit rows)."""
        assert self._services is not None
        retention = self._services.config.retention
        expired = await self.store.expired_clips(retention.clips)
        for clip in expired:
            await asyncio.to_thread(self.clips.delete, clip.store_key)
            await self.store.delete_clip(clip.id)
        audit_rows = await self.store.expire_audit(retention.audit)
        if expired or audit_rows:
            logger.info("evidence retention: %d clip(s), %d audit row(s) removed", len(expired), audit_rows)
        return len(expired), audit_rows
