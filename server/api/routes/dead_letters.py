"""Messages that were not stored as data, with the reason; newest first. A caller scoped to sites
sees the letters of its sensors and cameras only (a letter that names neither is nobody's site)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.api.deps import ConfigDep, StoreDep
from server.api.schemas import DeadLetterOut, DeadLetterPage
from server.auth.deps import CurrentPrincipal
from server.auth.scope import scoped_dead_letters

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])


@router.get("", response_model=DeadLetterPage)
async def list_dead_letters(
    store: StoreDep,
    config: ConfigDep,
    principal: CurrentPrincipal,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="next_before of the previous page")] = None,
) -> DeadLetterPage:
    rows = await store.dead_letters(reason, limit, before, scoped_dead_letters(config, principal))
    items = [
        DeadLetterOut(
            id=row_id,
            received_at=letter.received_at,
            topic=letter.topic,
            sensor_id=letter.sensor_id,
            reason=letter.reason,
            detail=letter.detail,
            payload=letter.payload.decode("utf-8", errors="replace"),
            payload_size=letter.payload_size or len(letter.payload),
            payload_truncated=(letter.payload_size or 0) > len(letter.payload),
        )
        for row_id, letter in rows
    ]
    return DeadLetterPage(items=items, next_before=rows[-1][0] if len(rows) == limit else None)
