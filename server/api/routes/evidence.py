"""Evidence: clip upload (edge), clip playback with range requests, a camera timeline, recording
requests, per-operator review state, cases and their export, audited snapshot downloads, the audit log.

Who may do what is in `server.auth.policy` (viewers watch, operators export, admins read the audit).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.background import BackgroundTask

from contract.timeutil import parse_timestamp, utc_now
from server.api.deps import ConfigDep, StoreDep
from server.api.timerange import resolve_range
from server.auth.deps import CurrentPrincipal
from server.evidence.clipstore import ClipStoreError, clip_key
from server.evidence.component import EvidenceComponent
from server.evidence.export import ExportItem, write_export
from server.evidence.store import AuditRecord, ClipRecord
from server.state import services_of
from server.store.base import EventQuery

router = APIRouter(prefix="/api/evidence", tags=["evidence"])

META_HEADER = "x-ioc-clip"
CHUNK = 256 * 1024
EPOCH = parse_timestamp("1970-01-01T00:00:00Z")
FAR_FUTURE = parse_timestamp("9999-01-01T00:00:00Z")
ClipId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


def get_evidence(request: Request) -> EvidenceComponent:
    evidence = services_of(request).evidence
    if evidence is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "evidence is not enabled")
    return evidence


EvidenceDep = Annotated[EvidenceComponent, Depends(get_evidence)]


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


# ---------------------------------------------------------------------- schemas


class ClipMetaIn(BaseModel):
    clip_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    camera_id: str = Field(min_length=1, max_length=64)
    worker_id: str | None = None
    event_ids: list[str] = Field(default_factory=list, max_length=10000)
    start: datetime
    end: datetime
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=1)
    duration_s: float = Field(ge=0)
    kind: str = Field(default="event", pattern=r"^(event|range)$")
    request_id: str | None = None


class ClipOut(BaseModel):
    id: str
    camera_id: str
    worker_id: str | None
    kind: str
    request_id: str | None
    start_time: datetime
    end_time: datetime
    duration_s: float
    bytes: int
    sha256: str
    event_ids: list[str]
    received_at: datetime | None
    url: str


def _clip_out(clip: ClipRecord) -> ClipOut:
    fields = {k: getattr(clip, k) for k in ClipOut.model_fields if k != "url"}
    return ClipOut(**fields, url=f"/api/evidence/clips/{clip.id}/video")


class RangeOut(BaseModel):
    start: datetime
    end: datetime


class TimelineEvent(BaseModel):
    id: str
    time: datetime
    kind: str
    label: str | None


class TimelineOut(BaseModel):
    camera_id: str
    start: datetime
    end: datetime
    recorded: list[RangeOut]
    """what the edge holds (as last reported by the worker)"""
    recorded_reported_at: datetime | None
    clips: list[ClipOut]
    events: list[TimelineEvent]


class RecordingRequestIn(BaseModel):
    start: datetime
    end: datetime


class RecordingRequestOut(BaseModel):
    request_id: str
    worker_id: str


class ReviewIn(BaseModel):
    event_ids: list[str] = Field(min_length=1, max_length=1000)
    reviewed: bool = True


class ReviewItem(BaseModel):
    id: str
    camera_id: str
    time: datetime
    kind: str
    label: str | None
    reviewed: bool
    clip_ids: list[str]


class CaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=5000)
    clips: list[str] = Field(default_factory=list, max_length=1000)
    snapshots: list[str] = Field(default_factory=list, max_length=1000, description="event ids")


class CaseItemsIn(BaseModel):
    clips: list[str] = Field(default_factory=list, max_length=1000)
    snapshots: list[str] = Field(default_factory=list, max_length=1000)


class CaseOut(BaseModel):
    id: int
    title: str
    reference: str | None
    note: str | None
    created_by: str
    created_at: datetime
    clips: list[str]
    snapshots: list[str]


class AuditOut(BaseModel):
    id: int
    time: datetime | None
    actor: str
    actor_kind: str
    role: str
    action: str
    object: str
    detail: dict[str, Any]
    remote: str | None


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
        return _clip_out(known)
    temp, sha256, size = await _receive(request, evidence.settings.max_clip_mb << 20)
    try:
        if sha256 != meta.sha256 or size != meta.bytes:
            evidence.counts.clips["damaged"] += 1
            raise HTTPException(422, f"the clip arrived damaged: SHA-256 {sha256} ({size} bytes) != {meta.sha256}")
        key = clip_key(meta.camera_id, meta.start, meta.clip_id)
        await asyncio.to_thread(evidence.clips.put, key, temp)
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
    return _clip_out(record)


@router.get("/clips", response_model=list[ClipOut])
async def list_clips(
    evidence: EvidenceDep,
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
    return [_clip_out(c) for c in await evidence.store.clips(camera, start, end, event, limit)]


async def _clip_or_404(evidence: EvidenceComponent, clip_id: str) -> ClipRecord:
    clip = await evidence.store.clip(clip_id)
    if clip is None:
        raise HTTPException(404, f"clip '{clip_id}' not found")
    return clip


@router.get("/clips/{clip_id}", response_model=ClipOut)
async def get_clip(clip_id: ClipId, evidence: EvidenceDep) -> ClipOut:
    return _clip_out(await _clip_or_404(evidence, clip_id))


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` -> (first, last); None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None  # several ranges: answer with the whole file (allowed by RFC 9110)
    first_text, _, last_text = spec.strip().partition("-")
    try:
        if not first_text:
            first, last = max(0, size - int(last_text)), size - 1
        else:
            first, last = int(first_text), min(size - 1, int(last_text) if last_text else size - 1)
    except ValueError:
        return None
    if first > last or first >= size:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"}
        )
    return first, last


async def _chunks(file: BinaryIO, first: int, length: int) -> AsyncIterator[bytes]:
    await asyncio.to_thread(file.seek, first)
    left = length
    while left > 0:
        chunk = await asyncio.to_thread(file.read, min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


@router.get("/clips/{clip_id}/video", response_class=StreamingResponse, responses={200: {"content": {"video/mp4": {}}}})
async def play_clip(clip_id: ClipId, request: Request, evidence: EvidenceDep, who: CurrentPrincipal) -> Response:
    """The clip's MP4, seekable (HTTP range requests). The first request of a playback is audited."""
    clip = await _clip_or_404(evidence, clip_id)
    try:
        file = await asyncio.to_thread(evidence.clips.open, clip.store_key)
    except ClipStoreError as exc:
        raise HTTPException(404, str(exc)) from exc
    size = clip.bytes
    try:
        byte_range = _byte_range(request.headers.get("range"), size)
    except HTTPException:
        file.close()
        raise
    first, last = byte_range or (0, size - 1)
    if first == 0:
        await evidence.audit(who, "clip_playback", f"clip:{clip.id}", _remote(request), camera_id=clip.camera_id)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1), "ETag": f'"{clip.sha256}"'}
    code = status.HTTP_200_OK
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        _chunks(file, first, last - first + 1),
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
        clips=[_clip_out(c) for c in clips],
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
    await evidence.audit(who, "recording_request", f"camera:{camera_id}", _remote(request), **detail)
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
    who: CurrentPrincipal,
    camera: str | None = None,
    unreviewed: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewItem]:
    """Events with the caller's review state and their clips; `unreviewed=true` leaves out the reviewed."""
    start, end = resolve_range(start, end, timedelta(days=1))
    events = await store.events(EventQuery(camera, None, None, None, None, start, end, limit, None))
    reviewed = await evidence.store.reviewed([e.id for e in events], who.label)
    clips = await evidence.store.clips(camera, start - timedelta(minutes=10), end + timedelta(minutes=10))
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
    event_id: str, request: Request, evidence: EvidenceDep, store: StoreDep, who: CurrentPrincipal
) -> Response:
    """An event's snapshot as a download, audited."""
    event = await store.event(event_id)
    snapshot = await store.snapshot(event.snapshot_sha256) if event and event.snapshot_sha256 else None
    if event is None or snapshot is None:
        raise HTTPException(404, f"event '{event_id}' has no snapshot kept")
    await evidence.audit(who, "snapshot_download", f"event:{event_id}", _remote(request), camera_id=event.camera_id)
    headers = {"Content-Disposition": f'attachment; filename="{event.camera_id}_{event_id}.jpg"'}
    return Response(snapshot.data, media_type=snapshot.content_type, headers=headers)


# ---------------------------------------------------------------------- cases


def _case_out(case: Any) -> CaseOut:
    return CaseOut(**{k: getattr(case, k) for k in CaseOut.model_fields})


@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def create_case(body: CaseIn, request: Request, evidence: EvidenceDep, who: CurrentPrincipal) -> CaseOut:
    case_id = await evidence.store.create_case(body.title, body.reference, body.note, who.label)
    await _add_items(evidence, case_id, body.clips, body.snapshots)
    await evidence.audit(who, "case_create", f"case:{case_id}", _remote(request), title=body.title)
    return await _case_or_404(evidence, case_id)


async def _add_items(evidence: EvidenceComponent, case_id: int, clips: list[str], snapshots: list[str]) -> None:
    for clip_id in clips:
        await _clip_or_404(evidence, clip_id)
    if clips:
        await evidence.store.add_case_items(case_id, "clip", clips)
    if snapshots:
        await evidence.store.add_case_items(case_id, "snapshot", snapshots)


async def _case_or_404(evidence: EvidenceComponent, case_id: int) -> CaseOut:
    case = await evidence.store.case(case_id)
    if case is None:
        raise HTTPException(404, f"case {case_id} not found")
    return _case_out(case)


@router.get("/cases", response_model=list[CaseOut])
async def list_cases(evidence: EvidenceDep) -> list[CaseOut]:
    return [_case_out(c) for c in await evidence.store.cases()]


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: int, evidence: EvidenceDep) -> CaseOut:
    return await _case_or_404(evidence, case_id)


@router.post("/cases/{case_id}/items", response_model=CaseOut)
async def add_case_items(case_id: int, body: CaseItemsIn, evidence: EvidenceDep) -> CaseOut:
    await _case_or_404(evidence, case_id)
    await _add_items(evidence, case_id, body.clips, body.snapshots)
    return await _case_or_404(evidence, case_id)


@router.get(
    "/cases/{case_id}/export", response_class=StreamingResponse, responses={200: {"content": {"application/zip": {}}}}
)
async def export_case(
    case_id: int, request: Request, evidence: EvidenceDep, store: StoreDep, config: ConfigDep, who: CurrentPrincipal
) -> Response:
    """The case as one zip with a manifest (see `server.evidence.export`); every export is audited."""
    case = await _case_or_404(evidence, case_id)
    files: list[tuple[ExportItem, BinaryIO]] = []
    try:
        for clip_id in case.clips:
            clip = await _clip_or_404(evidence, clip_id)
            item = _item(config, "clip", clip.camera_id, clip.start_time, clip.end_time, clip.event_ids, clip.id)
            files.append((item, await asyncio.to_thread(evidence.clips.open, clip.store_key)))
        for event_id in case.snapshots:
            event = await store.event(event_id)
            snapshot = await store.snapshot(event.snapshot_sha256) if event and event.snapshot_sha256 else None
            if event is None or snapshot is None:
                raise HTTPException(409, f"the snapshot of event '{event_id}' is no longer kept")
            item = _item(config, "snapshot", event.camera_id, event.time, event.time, [event_id], event_id)
            files.append((item, io.BytesIO(snapshot.data)))
        out = FilePath(tempfile.mkstemp(prefix="export-", suffix=".zip")[1])
        exported_at = utc_now()
        case_meta = case.model_dump(mode="json")
        manifest_sha = await asyncio.to_thread(write_export, out, case_meta, files, who.label, exported_at)
    except ClipStoreError as exc:
        raise HTTPException(409, str(exc)) from exc
    finally:
        for _, file in files:
            file.close()
    detail = {"manifest_sha256": manifest_sha, "files": len(files), "bytes": out.stat().st_size}
    await evidence.audit(who, "export", f"case:{case_id}", _remote(request), **detail)
    name = f"case-{case_id}-{exported_at.strftime('%Y%m%dT%H%M%SZ')}.zip"
    handle = out.open("rb")
    return StreamingResponse(
        _chunks(handle, 0, out.stat().st_size),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Manifest-SHA256": manifest_sha},
        background=BackgroundTask(_close_and_delete, handle, out),
    )


def _close_and_delete(handle: BinaryIO, path: FilePath) -> None:
    handle.close()
    path.unlink(missing_ok=True)


def _item(
    config: Any, kind: str, camera_id: str, start: datetime, end: datetime, event_ids: list[str], source: str
) -> ExportItem:
    camera = config.camera(camera_id)
    site = next((s for s in config.sites if camera and s.id == camera.site), None)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    suffix = "mp4" if kind == "clip" else "jpg"
    return ExportItem(
        name=f"{kind}s/{camera_id}_{stamp}_{source[:12]}.{suffix}",
        kind=kind,
        camera_id=camera_id,
        camera_name=camera.name if camera else camera_id,
        site_id=site.id if site else "",
        site_name=site.name if site else "",
        timezone=site.timezone if site else "UTC",
        start=start,
        end=end,
        event_ids=event_ids,
        source_id=source,
    )


# ---------------------------------------------------------------------- audit


def _audit_out(record: AuditRecord) -> AuditOut:
    return AuditOut(**{k: getattr(record, k) for k in AuditOut.model_fields})


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    evidence: EvidenceDep,
    action: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """The audit log, newest first (admins only)."""
    return [_audit_out(r) for r in await evidence.store.audit(action, actor, limit, before_id)]
