"""Leader-only component: removes clips and audit rows past `retention.clips` / `retention.audit`
every `IOC_EVIDENCE_RETENTION_INTERVAL_S` (one replica at a time; the evidence component itself
runs on every replica, for its routes)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from server.tasks import cancel_until_done

if TYPE_CHECKING:
    from server.state import Services

logger = logging.getLogger(__name__)


class EvidenceRetention:
    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self, state: Services) -> None:
        self._task = asyncio.create_task(self._loop(state), name="evidence-retention")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_until_done(self._task)
            self._task = None

    async def _loop(self, state: Services) -> None:
        evidence = state.evidence
        if evidence is None:
            return
        interval = evidence.settings.retention_interval_s
        while True:
            try:
                await evidence.apply_retention()
            except Exception:
                logger.exception("evidence retention failed; next try in %.0f s", interval)
            await asyncio.sleep(interval)
