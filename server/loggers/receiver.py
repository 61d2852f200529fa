"""The station-file receiver: files from the inbox become readings and dead letters, committed
through the ingest's writer (the same transaction, metrics and observers as MQTT readings), and
only then moved to `processed/`; a file that cannot be used goes to `rejected/` with its reason.

Files that arrive late or twice are stored once: readings are keyed by (sensor, time), and an
identical copy of a processed file is recognised and removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge

from contract.config import Sensor, StreamsConfig
from contract.config.stations import Station
from contract.timeutil import utc_now
from server.ingest.decode import ReadingValidator
from server.ingest.errors import Reason, Rejected
from server.loggers.inbox import Arrival, StationInbox
from server.loggers.tt10 import LineProblem, StationFileError, parameter_key, parse_station_file
from server.store.base import StoreRejectedError, WriteBatch, WriteResult
from server.store.records import StoredDeadLetter

logger = logging.getLogger(__name__)

Commit = Callable[[WriteBatch], Awaitable[WriteResult]]
TOPIC_PREFIX = "stationfiles"
FILES_PER_ROUND = 256


class StationFileMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.files = Counter("ioc_station_files", "station files handled, by outcome", ["outcome"], registry=registry)
        self.lines = Counter("ioc_station_file_lines", "station file lines, by outcome", ["outcome"], registry=registry)
        self.ready = Gauge(
            "ioc_station_files_ready",
            "complete files found waiting in the inbox (at most one round)",
            registry=registry,
        )


@dataclass
class FilePlan:
    """What one file will write, before it is committed."""

    arrival: Arrival
    data: bytes
    batch: WriteBatch = field(default_factory=WriteBatch)


class StationMap:
    """streams.yaml's stations and their parameter -> sensor maps."""

    def __init__(self, config: StreamsConfig) -> None:
        self.stations = {station.id: station for station in config.stations}
        self.sensors: dict[tuple[str, str], Sensor] = {
            (sensor.station, parameter_key(sensor.parameter)): sensor
            for sensor in config.sensors
            if sensor.station is not None and sensor.parameter is not None
        }
        self._zones = {site.id: site.timezone for site in config.sites}

    def zone(self, station: Station) -> ZoneInfo:
        return ZoneInfo(station.timezone or self._zones.get(station.site, "UTC"))


class StationFileProcessor:
    """Turns inbox files into `FilePlan`s, commits them, and moves them."""

    def __init__(
        self,
        inbox: StationInbox,
        commit: Commit,
        max_future_skew: timedelta,
        max_bytes: int,
        registry: CollectorRegistry,
        dead_letter_max_bytes: int = 4096,
    ) -> None:
        self._inbox = inbox
        self._dead_letter_max = dead_letter_max_bytes
        self._commit = commit
        self._validator = ReadingValidator(max_future_skew)
        self._max_bytes = max_bytes
        self.metrics = StationFileMetrics(registry)

    async def run_once(self, config: StreamsConfig) -> int:
        """Process what is ready; the number of files handled."""
        ready, stale = await asyncio.to_thread(self._inbox.ready, FILES_PER_ROUND)
        self.metrics.ready.set(len(ready))
        for arrival in stale:
            await asyncio.to_thread(self._reject, arrival, "not a station file (only .txt files are read)")
        if not ready:
            return len(stale)
        stations, now = StationMap(config), utc_now()
        plans = await asyncio.to_thread(lambda: [p for a in ready if (p := self._plan(a, stations, now)) is not None])
        await self._commit_plans(plans)
        return len(ready) + len(stale)

    def _plan(self, arrival: Arrival, stations: StationMap, received_at: datetime) -> FilePlan | None:
        """Read and parse one file; None when it was rejected instead."""
        station = stations.stations.get(arrival.station_id)
        if station is None or not station.enabled:
            state = "disabled" if station is not None else "not in streams.yaml"
            self._reject(arrival, f"station '{arrival.station_id}' is {state}")
            return None
        try:
            size = arrival.path.stat().st_size
            if size > self._max_bytes:
                self._reject(arrival, f"{size} bytes, more than the {self._max_bytes} a station file may have")
                return None
            data = arrival.path.read_bytes()
            lines = parse_station_file(data, stations.zone(station), station.decimal_comma)
        except FileNotFoundError:
            return None  # taken away meanwhile (the station deleted its upload)
        except StationFileError as exc:
            self._reject(arrival, str(exc))
            return None
        plan = FilePlan(arrival, data)
        topic = f"{TOPIC_PREFIX}/{station.id}/{arrival.name}"
        for line in lines:
            if isinstance(line, LineProblem):
                self._dead_letter(
                    plan, topic, line.number, line.text, Rejected(line.reason, line.detail), None, received_at
                )
                continue
            sensor = stations.sensors.get((station.id, parameter_key(line.parameter)))
            if sensor is None:
                problem = Rejected(
                    Reason.UNMAPPED_PARAMETER, f"no sensor has station '{station.id}' and parameter '{line.parameter}'"
                )
                self._dead_letter(plan, topic, line.number, line.text, problem, None, received_at)
                continue
            try:
                reading = self._validator.accept(sensor, line.value, line.time, received_at, line.quality)
            except Rejected as rejected:
                self._dead_letter(plan, topic, line.number, line.text, rejected, sensor.id, received_at)
                continue
            plan.batch.readings.append(reading)
        self.metrics.lines.labels("read").inc(len(plan.batch.readings))
        return plan

    def _dead_letter(
        self,
        plan: FilePlan,
        topic: str,
        number: int,
        text: str,
        rejected: Rejected,
        sensor_id: str | None,
        received_at: datetime,
    ) -> None:
        payload = text.encode()
        letter = StoredDeadLetter(
            topic=topic,
            reason=rejected.reason.value,
            detail=f"{plan.arrival.name} line {number}: {rejected.detail}"[:500],
            payload=payload[: self._dead_letter_max],
            received_at=received_at,
            sensor_id=sensor_id,
            payload_size=len(payload),
        )
        plan.batch.dead_letters.append(letter)
        self.metrics.lines.labels(rejected.reason.value).inc()

    async def _commit_plans(self, plans: list[FilePlan]) -> None:
        """All files in one transaction; if the database refuses it, file by file."""
        if not plans:
            return
        merged = WriteBatch()
        for plan in plans:
            merged.readings.extend(plan.batch.readings)
            merged.dead_letters.extend(plan.batch.dead_letters)
        try:
            await self._commit(merged)
        except StoreRejectedError:
            if len(plans) > 1:
                for plan in plans:
                    await self._commit_plans([plan])
                return
            await asyncio.to_thread(self._reject, plans[0].arrival, "the database refused its readings")
            return
        await asyncio.to_thread(self._all_processed, plans)

    def _all_processed(self, plans: list[FilePlan]) -> None:
        for plan in plans:
            self._processed(plan)

    def _processed(self, plan: FilePlan) -> None:
        target = self._inbox.processed(plan.arrival, plan.data)
        outcome = "duplicate" if target is None else "processed"
        self.metrics.files.labels(outcome).inc()
        logger.debug("station %s: %s %s", plan.arrival.station_id, plan.arrival.name, outcome)

    def _reject(self, arrival: Arrival, reason: str) -> None:
        try:
            self._inbox.rejected(arrival, reason)
        except FileNotFoundError:
            return
        self.metrics.files.labels("rejected").inc()
        logger.warning("station %s: file %s rejected: %s", arrival.station_id, arrival.name, reason)
