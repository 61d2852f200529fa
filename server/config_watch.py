"""Live reload of streams.yaml: a valid edit is applied to every reloadable part of the running
server; an invalid one is logged with its lines, shown through the API, and the running config stays."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from contract.config import ConfigError, StreamsConfig, load_config
from contract.timeutil import utc_now

logger = logging.getLogger(__name__)


@runtime_checkable
class Reloadable(Protocol):
    """A part of the server that follows streams.yaml while running."""

    async def reload(self, config: StreamsConfig) -> None: ...


@dataclass
class ConfigStatus:
    """What the server runs, and the last edit it refused (if it is still the file's content)."""

    path: Path
    digest: str
    loaded_at: datetime
    error: str | None = None
    error_at: datetime | None = None


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ConfigReloader:
    """Polls the file's content every `interval` seconds (mtime alone misses fast edits)."""

    def __init__(
        self,
        status: ConfigStatus,
        apply: Callable[[StreamsConfig], None],
        targets: Callable[[], Sequence[Reloadable]],
        interval: float,
    ) -> None:
        self.status = status
        self._apply = apply
        self._targets = targets
        self._interval = interval
        self._refused_digest: str | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:
                logger.exception("checking %s failed; will check again", self.status.path)

    async def check(self) -> bool:
        """Reload when the content changed; True when a new config was applied."""
        path = self.status.path
        try:
            digest = await asyncio.to_thread(file_digest, path)
        except OSError as exc:
            self._refuse(f"{path}: cannot read the file: {exc.strerror}", f"unreadable:{exc.errno}")
            return False
        if digest == self.status.digest:
            self._clear_error()  # the file is back to what runs: nothing is refused any more
            return False
        if digest == self._refused_digest:
            return False
        try:
            config = await asyncio.to_thread(load_config, path)
        except ConfigError as exc:
            self._refuse(exc.render(), digest)
            return False
        self._apply(config)
        for target in self._targets():
            await target.reload(config)
        self.status.digest, self.status.loaded_at = digest, utc_now()
        self._clear_error()
        logger.info(
            "reloaded %s: %d cameras, %d sensors, %d rules",
            path,
            len(config.cameras),
            len(config.sensors),
            len(config.rules),
        )
        return True

    def _clear_error(self) -> None:
        if self.status.error is not None:
            logger.info("%s matches the running config again", self.status.path)
        self.status.error = self.status.error_at = None
        self._refused_digest = None

    def _refuse(self, message: str, digest: str) -> None:
        if digest == self._refused_digest:
            return
        self._refused_digest = digest
        self.status.error, self.status.error_at = message, utc_now()
        logger.error("streams.yaml edit refused; the running config stays:\n%s", message)
