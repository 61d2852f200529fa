"""The station-file receiver as the app lifespan runs it: the FTP server thread, and one task
that processes the inbox whenever an upload completes (and every `poll_s` for the drop folder)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from contract.config import StreamsConfig
from server.loggers.ftp import FtpOptions, StationFtpServer
from server.loggers.inbox import StationInbox, UploadTracker
from server.loggers.receiver import Commit, StationFileProcessor

if TYPE_CHECKING:
    from server.state import AppState

logger = logging.getLogger(__name__)


class StationFileReceiver:
    def __init__(
        self,
        inbox: StationInbox,
        processor: StationFileProcessor,
        config_of: Callable[[], StreamsConfig],
        ftp: FtpOptions | None,
        poll_s: float,
    ) -> None:
        self.inbox = inbox
        self.processor = processor
        self._config_of = config_of
        self._ftp_options = ftp
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.ftp: StationFtpServer | None = None
        self.rounds = 0
        self.last_error: str | None = None
        self._folders_for: StreamsConfig | None = None

    @property
    def running(self) -> bool:
        """The inbox task runs and, when configured, the FTP server thread serves."""
        task_ok = self._task is not None and not self._task.done()
        return task_ok and (self._ftp_options is None or (self.ftp is not None and self.ftp.serving))

    def nudge(self) -> None:
        """From any thread: an upload completed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._ensure_folders(self._config_of())
        if self._ftp_options is not None:
            self.ftp = StationFtpServer(self._ftp_options, self.inbox, self._config_of, self.nudge)
            self.ftp.start()
        self._task = asyncio.create_task(self._run(), name="station-files")
        logger.info("station-file receiver on %s (drop folder %s)", self.inbox.root, self.inbox.root / "drop")

    async def stop(self) -> None:
        if self.ftp is not None:
            await asyncio.to_thread(self.ftp.stop)
        if self._task is not None:
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)

    async def _ensure_folders(self, config: StreamsConfig) -> None:
        """Every station's FTP home and drop folder (again after a reload adds stations)."""
        self._folders_for = config
        for station in config.stations:
            await asyncio.to_thread(self.inbox.ensure_station, station.id)

    async def _run(self) -> None:
        failing = False
        while True:
            self._wake.clear()
            try:
                config = self._config_of()
                if config is not self._folders_for:
                    await self._ensure_folders(config)
                handled = await self.processor.run_once(config)
                self.last_error = None
                if failing:
                    logger.info("station-file receiver recovered")
                failing = False
            except Exception as exc:
                self.last_error = str(exc)[:300]
                if not failing:
                    logger.exception(
                        "station-file round failed; files stay in the inbox, retrying in %ss", self._poll_s
                    )
                failing, handled = True, 0
            self.rounds += 1
            if handled:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)


def _ftp_options(state: AppState) -> FtpOptions | None:
    settings = state.settings
    if settings.ftp_port is None:
        return None
    passive = None
    if settings.ftp_passive_ports:
        low, high = (int(part) for part in settings.ftp_passive_ports.split("-"))
        passive = range(low, high + 1)
    return FtpOptions(
        settings.ftp_host, settings.ftp_port, passive, settings.ftp_masquerade_address, settings.ftp_max_connections
    )


@contextlib.asynccontextmanager
async def station_files(state: AppState) -> AsyncIterator[None]:
    """The receiver for the app lifespan: on when `station_files_dir` is set and ingest runs."""
    settings = state.settings
    ingest = state.ingest
    if settings.station_files_dir is None or ingest is None:
        yield
        return
    commit: Commit = ingest.commit
    inbox = StationInbox(
        settings.station_files_dir, UploadTracker(), settings.station_file_settle_s, settings.station_file_stale_s
    )
    processor = StationFileProcessor(
        inbox,
        commit,
        timedelta(seconds=settings.max_future_skew_s),
        settings.station_file_max_bytes,
        state.metrics.registry,
        settings.dead_letter_max_bytes,
    )
    receiver = StationFileReceiver(
        inbox, processor, lambda: state.config, _ftp_options(state), settings.station_file_poll_s
    )
    await receiver.start()
    state.station_files = receiver
    try:
        yield
    finally:
        await receiver.stop()
