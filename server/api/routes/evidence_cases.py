"""Cases for evidence: clips and snapshots of several cameras grouped under a title, reference and
note, and exported as one zip with a verifiable manifest (`server.evidence.export`); audited.
Operators only (`server.auth.policy`); a caller limited to some sites sees the cases whose
evidence is all theirs."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from contract.timeutil import utc_now
from server.api.deps import ConfigDep, StoreDep
from server.auth.deps import CurrentPrincipal
from server.auth.scope import scoped_cameras
from server.evidence.clipstore import ClipStoreError
from server.evidence.component import EvidenceComponent
from server.evidence.export import ExportItem, write_export
from server.evidence.http import EvidenceDep, clip_or_404, file_chunks, remote_of, visible_cameras
from server.evidence.schemas import CaseIn, CaseItemsIn, CaseOut
from server.evidence.store import CaseRecord
from server.store.pg import PgStore

router = APIRouter(prefix="/api/evidence", tags=["evidence"])


def _case_out(case: Any) -> CaseOut:
    return CaseOut(**{k: getattr(case, k) for k in CaseOut.model_fields})


@dataclass(frozen=True)
class _CaseAccess:
    """What a case route needs to tell whether the caller may see an item (site scope)."""

    evidence: EvidenceComponent
    store: PgStore
    seen: Container[str]

    async def eventvisible_cameras(self, event_id: str) -> bool:
        event = await self.store.event(event_id)
        return event is not None and event.camera_id in self.seen

    async def event_camera(self, event_id: str) -> str:
        """The camera of a snapshot's event, or 404 when it is gone or outside the caller's sites."""
        event = await self.store.event(event_id)
        if event is None or event.camera_id not in self.seen:
            raise HTTPException(404, f"event '{event_id}' not found")
        return event.camera_id

    async def casevisible_cameras(self, case: CaseRecord) -> bool:
        for clip_id in case.clips:
            clip = await self.evidence.store.clip(clip_id)
            if clip is not None and clip.camera_id not in self.seen:
                return False
        for event_id in case.snapshots:
            if not await self.eventvisible_cameras(event_id):
                return False
        return True

    async def case_or_404(self, case_id: int) -> CaseOut:
        """The case, or 404 when it does not exist or holds evidence outside the caller's sites."""
        case = await self.evidence.store.case(case_id)
        if case is None or not await self.casevisible_cameras(case):
            raise HTTPException(404, f"case {case_id} not found")
        return _case_out(case)

    async def add_items(self, case_id: int, clips: list[str], snapshots: list[str]) -> None:
        for clip_id in clips:
            await clip_or_404(self.evidence, clip_id, self.seen)
        for event_id in snapshots:
            if not await self.eventvisible_cameras(event_id):
                raise HTTPException(404, f"event '{event_id}' not found")
        if clips:
            await self.evidence.store.add_case_items(case_id, "clip", clips)
        if snapshots:
            await self.evidence.store.add_case_items(case_id, "snapshot", snapshots)


def case_access(evidence: EvidenceDep, store: StoreDep, config: ConfigDep, who: CurrentPrincipal) -> _CaseAccess:
    return _CaseAccess(evidence, store, visible_cameras(config, who))


CaseAccess = Annotated[_CaseAccess, Depends(case_access)]


@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def create_case(body: CaseIn, request: Request, access: CaseAccess, who: CurrentPrincipal) -> CaseOut:
    cameras = []  # check every item before anything is made
    for clip_id in body.clips:
        cameras.append((await clip_or_404(access.evidence, clip_id, access.seen)).camera_id)
    for event_id in body.snapshots:
        cameras.append(await access.event_camera(event_id))
    case_id = await access.evidence.store.create_case(body.title, body.reference, body.note, who.label)
    await access.add_items(case_id, body.clips, body.snapshots)
    target = f"case:{case_id}"
    await access.evidence.audit(who, "case_create", target, remote_of(request), cameras=cameras, title=body.title)
    return await access.case_or_404(case_id)


@router.get("/cases", response_model=list[CaseOut])
async def list_cases(access: CaseAccess, config: ConfigDep, who: CurrentPrincipal) -> list[CaseOut]:
    """Cases, newest first; a caller scoped to sites sees the cases whose evidence is all theirs."""
    found = []
    for summary in await access.evidence.store.cases(cameras=scoped_cameras(config, who)):
        case = await access.evidence.store.case(summary.id)
        if case is not None:
            found.append(_case_out(case))
    return found


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: int, access: CaseAccess) -> CaseOut:
    return await access.case_or_404(case_id)


@router.post("/cases/{case_id}/items", response_model=CaseOut)
async def add_case_items(case_id: int, body: CaseItemsIn, access: CaseAccess) -> CaseOut:
    await access.case_or_404(case_id)
    await access.add_items(case_id, body.clips, body.snapshots)
    return await access.case_or_404(case_id)


@router.get(
    "/cases/{case_id}/export", response_class=StreamingResponse, responses={200: {"content": {"application/zip": {}}}}
)
async def export_case(
    case_id: int, request: Request, access: CaseAccess, store: StoreDep, config: ConfigDep, who: CurrentPrincipal
) -> Response:
    """The case as one zip with a manifest (see `server.evidence.export`); every export is audited."""
    evidence = access.evidence
    case = await access.case_or_404(case_id)
    files: list[tuple[ExportItem, BinaryIO]] = []
    try:
        for clip_id in case.clips:
            clip = await clip_or_404(evidence, clip_id, access.seen)
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
    cameras = [item.camera_id for item, _ in files]
    await evidence.audit(who, "export", f"case:{case_id}", remote_of(request), cameras=cameras, **detail)
    name = f"case-{case_id}-{exported_at.strftime('%Y%m%dT%H%M%SZ')}.zip"
    handle = out.open("rb")
    return StreamingResponse(
        file_chunks(handle, 0, out.stat().st_size),
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
