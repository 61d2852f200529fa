"""Evidence: clip upload (edge), clip playback with range requests, a camera timeline, recording
requests, per-operator review state, audited snapshot downloads, the audit log (cases and their
export: `evidence_cases.py`).

Who may do what is in `server.auth.policy` (viewers watch, operators export, admins read the audit).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from contract.timeutil import parse_timestamp
from server.api.deps import ConfigDep, StoreDep
from server.api.timerange import resolve_range
from server.auth.deps import CurrentPrincipal
from server.auth.scope import scoped_cameras, sites_of
from server.evidence.clipstore import ClipStoreError, clip_key
from server.evidence.component import EvidenceComponent
from server.evidence.http import EvidenceDep, byte_range, clip_or_404, file_chunks, remote_of, visible_cameras
from server.evidence.schemas import (
    AuditOut,
    ClipMetaIn,
    ClipOut,
    RangeOut,
    RecordingRequestIn,
    RecordingRequestOut,
    ReviewIn,
    ReviewItem,
    TimelineEvent,
    TimelineOut,
    clip_out,
)
from server.evidence.store import AuditRecord, ClipRecord
from server.store.base import EventQuery

router = APIRouter(prefix="/api/evidence", tags=["evidence"])

META_HEADER = "x-ioc-clip"
EPOCH = parse_timestamp("1970-01-01T00:00:00Z")
FAR_FUTURE = parse_timestamp("9999-01-01T00:00:00Z")
ClipId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


# ---------------------------------------------------------------------- clips


def _parse_meta(request: Request) -> ClipMetaIn:
    raw = request.headers.get(META_HEADER)
    if raw is None:
        raise HTTPException(422, f"the clip's metadata goes in the {META_HEADER} header (JSON)")
    try:
        return ClipMetaIn.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPException(422, f"{META_HEADER} is not valid: {exc.errors(include_url=False)}") from exc


async def _receive(request: Request, limit: int) -> tuple[FilePath, str, int]:
    """Stream the body to a temporary file; its SHA-256 and size."""
    handle = tempfile.NamedTemporaryFile(prefix="clip-", suffix=".mp4", delete=False)  # noqa: SIM115
    digest, size = hashlib.sha256(), 0
    try:
        with handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"a clip is at most {limit >> 20} MiB")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
    except BaseException:
        FilePath(handle.name).unlink(missing_ok=True)
        raise
    return FilePath(handle.name), digest.hexdigest(), size


@router.post("/clips", status_code=status.HTTP_201_CREATED, response_model=ClipOut)
async def upload_clip(request: Request, evidence: EvidenceDep, config: ConfigDep, response: Response) -> ClipOut:
    """The edge uploads an event clip: the body is the MP4, `X-IOC-Clip` its metadata. Idempotent by
    clip id (a redelivery answers 200 with the stored clip)."""
    meta = _parse_meta(request)
    if config.camera(meta.camera_id) is None:
        raise HTTPException(422, f"camera '{meta.camera_id}' is not in streams.yaml")
    known = await evidence.store.clip(meta.clip_id)
    if known is not None:
        evidence.counts.clips["duplicate"] += 1
        response.status_code = status.HTTP_200_OK
        return clip_out(known)
    temp, sha256, size = await _receive(request, evidence.settings.max_clip_mb << 20)
    try:
        if sha256 != meta.sha256 or size != meta.bytes:
            evidence.counts.clips["damaged"] += 1
            raise HTTPException(422, f"the clip arrived damaged: SHA-256 {sha256} ({size} bytes) != {meta.sha256}")
        key = clip_key(meta.camera_id, meta.start, meta.clip_id)
        await _put(evidence, key, temp)
    finally:
        temp.unlink(missing_ok=True)
    record = ClipRecord(
        meta.clip_id,
        meta.camera_id,
        meta.worker_id,
        meta.kind,
        meta.request_id,
        meta.start,
        meta.end,
        meta.duration_s,
        size,
        sha256,
        key,
        event_ids=meta.event_ids,
    )
    await evidence.store.add_clip(record)
    evidence.counts.clips["stored"] += 1
    return clip_out(record)


async def _put(evidence: EvidenceComponent, key: str, temp: FilePath) -> None:
    """Into the clip store; a store that fails (after its own retries) answers 503: try again later."""
    try:
        await asyncio.to_thread(evidence.clips.put, key, temp)
    except ClipStoreError as exc:
        evidence.counts.clips["store_failed"] += 1
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the clip store failed: {exc}") from exc


@router.get("/clips", response_model=list[ClipOut])
async def list_clips(
    evidence: EvidenceDep,
    config: ConfigDep,
    who: CurrentPrincipal,
    camera: str | None = None,
    event: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ClipOut]:
    """Clips of a camera in a time range (default: the last day), or every clip of one `event`."""
    if event is not None:
        start, end = EPOCH, FAR_FUTURE
    else:
        start, end = resolve_range(start, end, timedelta(days=1))
    cameras = scoped_cameras(config, who)
    return [clip_out(c) for c in await evidence.store.clips(camera, start, end, event, limit, cameras)]


@router.get("/clips/{clip_id}", response_model=ClipOut)
async def get_clip(clip_id: ClipId, evidence: EvidenceDep, config: ConfigDep, who: CurrentPrincipal) -> ClipOut:
    return clip_out(await clip_or_404(evidence, clip_id, visible_cameras(config, who)))


@router.get("/clips/{clip_id}/video", response_class=StreamingResponse, responses={200: {"content": {"video/mp4": {}}}})
async def play_clip(
    clip_id: ClipId, request: Request, evidence: EvidenceDep, config: ConfigDep, who: CurrentPrincipal
) -> Response:
    """The clip's MP4, seekable (HTTP range requests). The first request of a playback is audited."""
    clip = await clip_or_404(evidence, clip_id, visible_cameras(config, who))
    try:
        file = await asyncio.to_thread(evidence.clips.open, clip.store_key)
    except ClipStoreError as exc:
        raise HTTPException(404, str(exc)) from exc
    size = clip.bytes
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except HTTPException:
        file.close()
        raise
    first, last = wanted or (0, size - 1)
    if first == 0:
        target, camera_id = f"clip:{clip.id}", clip.camera_id
        await evidence.audit(who, "clip_playback", target, remote_of(request), cameras=[camera_id], camera_id=camera_id)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1), "ETag": f'"{clip.sha256}"'}
    code = status.HTTP_200_OK
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        file_chunks(file, first, last - first + 1),
        status_code=code,
        media_type="video/mp4",
        headers=headers,
        background=BackgroundTask(file.close),
    )


# ---------------------------------------------------------------------- timeline and requests


@router.get("/cameras/{camera_id}/timeline", response_model=TimelineOut)
async def camera_timeline(
    camera_id: str,
    evidence: EvidenceDep,
    store: StoreDep,
    config: ConfigDep,
    start: datetime | None = None,
    end: datetime | None = None,
) -> TimelineOut:
    """Recorded ranges (as the edge reports them), clips on the server and events of one camera."""
    if config.camera(camera_id) is None:
        raise HTTPException(404, f"camera '{camera_id}' is not in streams.yaml")
    start, end = resolve_range(start, end, timedelta(hours=24))
    reported = evidence.recorded.get(camera_id)
    recorded = (
        [RangeOut(start=max(a, start), end=min(b, end)) for a, b in reported.ranges if b > start and a < end]
        if reported
        else []
    )
    clips = await evidence.store.clips(camera_id, start, end)
    events = await store.events(EventQuery(camera_id, None, None, None, None, start, end, 1000, None))
    return TimelineOut(
        camera_id=camera_id,
        start=start,
        end=end,
        recorded=recorded,
        recorded_reported_at=reported.ts if reported else None,
        clips=[clip_out(c) for c in clips],
        events=[TimelineEvent(id=e.id, time=e.time, kind=e.kind, label=e.label) for e in events],
    )


@router.post("/cameras/{camera_id}/recording-requests", status_code=202, response_model=RecordingRequestOut)
async def request_recording(
    camera_id: str,
    body: RecordingRequestIn,
    request: Request,
    evidence: EvidenceDep,
    config: ConfigDep,
    who: CurrentPrincipal,
) -> RecordingRequestOut:
    """Ask the camera's edge worker to upload a recorded range (it arrives as a clip of kind `range`)."""
    camera = config.camera(camera_id)
    if camera is None:
        raise HTTPException(404, f"camera '{camera_id}' is not in streams.yaml")
    if body.end <= body.start or body.end - body.start > timedelta(hours=1):
        raise HTTPException(422, "a recording request covers more than 0 s and at most 1 h")
    request_id = evidence.request_range(camera.worker, camera_id, body.start, body.end, who.label)
    detail = {"start": body.start.isoformat(), "end": body.end.isoformat(), "request_id": request_id}
    target = f"camera:{camera_id}"
    await evidence.audit(who, "recording_request", target, remote_of(request), cameras=[camera_id], **detail)
    return RecordingRequestOut(request_id=request_id, worker_id=camera.worker)


# ---------------------------------------------------------------------- review


@router.post("/reviews", status_code=status.HTTP_204_NO_CONTENT)
async def set_review(body: ReviewIn, evidence: EvidenceDep, who: CurrentPrincipal) -> Response:
    """Mark events reviewed (or not) for the calling operator."""
    await evidence.store.set_reviewed(body.event_ids, who.label, body.reviewed)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/review", response_model=list[ReviewItem])
async def review_list(
    evidence: EvidenceDep,
    store: StoreDep,
    config: ConfigDep,
    who: CurrentPrincipal,
    camera: str | None = None,
    unreviewed: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewItem]:
    """Events with the caller's review state and their clips; `unreviewed=true` leaves out the reviewed."""
    start, end = resolve_range(start, end, timedelta(days=1))
    cameras = scoped_cameras(config, who)
    events = await store.events(EventQuery(camera, None, None, None, None, start, end, limit, None, cameras))
    reviewed = await evidence.store.reviewed([e.id for e in events], who.label)
    margin = timedelta(minutes=10)
    clips = await evidence.store.clips(camera, start - margin, end + margin, cameras=cameras)
    by_event: dict[str, list[str]] = {}
    for clip in clips:
        for event_id in clip.event_ids:
            by_event.setdefault(event_id, []).append(clip.id)
    items = [
        ReviewItem(
            id=e.id,
            camera_id=e.camera_id,
            time=e.time,
            kind=e.kind,
            label=e.label,
            reviewed=e.id in reviewed,
            clip_ids=by_event.get(e.id, []),
        )
        for e in events
    ]
    return [item for item in items if not (unreviewed and item.reviewed)]


# ---------------------------------------------------------------------- snapshots


@router.get("/snapshots/{event_id}", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
async def download_snapshot(
    event_id: str, request: Request, evidence: EvidenceDep, store: StoreDep, config: ConfigDep, who: CurrentPrincipal
) -> Response:
    """An event's snapshot as a download, audited."""
    event = await store.event(event_id)
    if event is not None and event.camera_id not in visible_cameras(config, who):
        event = None
    snapshot = await store.snapshot(event.snapshot_sha256) if event and event.snapshot_sha256 else None
    if event is None or snapshot is None:
        raise HTTPException(404, f"event '{event_id}' has no snapshot kept")
    target, camera_id = f"event:{event_id}", event.camera_id
    await evidence.audit(who, "snapshot_download", target, remote_of(request), cameras=[camera_id], camera_id=camera_id)
    headers = {"Content-Disposition": f'attachment; filename="{event.camera_id}_{event_id}.jpg"'}
    return Response(snapshot.data, media_type=snapshot.content_type, headers=headers)


# ---------------------------------------------------------------------- audit


def _audit_out(record: AuditRecord) -> AuditOut:
    return AuditOut(**{k: getattr(record, k) for k in AuditOut.model_fields})


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    evidence: EvidenceDep,
    who: CurrentPrincipal,
    action: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """The audit log, newest first (admins only); an admin scoped to sites sees the rows about
    those sites alone (an action about no camera, or about another site too, is not theirs)."""
    rows = await evidence.store.audit(action, actor, limit, before_id, sites_of(who))
    return [_audit_out(r) for r in rows]
