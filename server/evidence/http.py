"""HTTP helpers shared by the evidence routers: the component dependency, site scope for evidence,
byte ranges and chunked file reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Container
from typing import Annotated, BinaryIO

from fastapi import Depends, HTTPException, Request, status

from contract.config import StreamsConfig
from server.auth.roles import Principal
from server.auth.scope import sites_of
from server.evidence.component import EvidenceComponent
from server.evidence.store import ClipRecord
from server.state import services_of

CHUNK = 256 * 1024


def get_evidence(request: Request) -> EvidenceComponent:
    evidence = services_of(request).evidence
    if evidence is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "evidence is not enabled")
    return evidence


EvidenceDep = Annotated[EvidenceComponent, Depends(get_evidence)]


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def visible_cameras(config: StreamsConfig, who: Principal) -> Container[str]:
    """The cameras whose evidence the caller sees: all for an unscoped caller (cameras removed from
    streams.yaml included), those of its sites otherwise (`ConfigDep` is already the caller's view)."""
    if sites_of(who) is None:
        return _Everything()
    return {camera.id for camera in config.cameras}


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


async def clip_or_404(evidence: EvidenceComponent, clip_id: str, seen: Container[str]) -> ClipRecord:
    """The clip, or 404 when it does not exist or is outside the caller's sites (never 403)."""
    clip = await evidence.store.clip(clip_id)
    if clip is None or clip.camera_id not in seen:
        raise HTTPException(404, f"clip '{clip_id}' not found")
    return clip


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
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


async def file_chunks(file: BinaryIO, first: int, length: int) -> AsyncIterator[bytes]:
    await asyncio.to_thread(file.seek, first)
    left = length
    while left > 0:
        chunk = await asyncio.to_thread(file.read, min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk
