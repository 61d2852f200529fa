"""Incidents as an app component: started after the alert engine (whose public feed it follows
and whose push notifiers deliver its escalation notices), stopped before it. Its counts are
exported on /metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contract.config.root import StreamsConfig
from contract.payloads import AlertPayload
from contract.timeutil import utc_now
from server.incidents.core import IncidentDesk
from server.incidents.pg_repository import PgIncidentRepository
from server.incidents.service import IncidentService
from server.notify.base import Notifier

if TYPE_CHECKING:
    from server.state import Services

logger = logging.getLogger(__name__)


class IncidentCollector(Collector):
    def __init__(self, service: IncidentService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        s = self.service
        yield CounterMetricFamily("ioc_incident_failures", "incident saves or ticks that failed (retried)", s.failures)
        yield CounterMetricFamily("ioc_incident_unsaved_dropped", "incident changes dropped while unsaved", s.dropped)
        yield CounterMetricFamily("ioc_incident_notices", "escalation deliveries handed to notifiers", s.notices)
        yield GaugeMetricFamily(
            "ioc_incidents_active", "incidents open, acknowledged or in progress", len(s.desk.incidents)
        )


class IncidentComponent:
    def __init__(self, tick_interval_s: float = 1.0) -> None:
        self.tick_interval_s = tick_interval_s
        self._service: IncidentService | None = None
        self._exported: tuple[CollectorRegistry, IncidentCollector] | None = None

    @property
    def service(self) -> IncidentService:
        if self._service is None:
            raise RuntimeError("the incident service is not started")
        return self._service

    @property
    def running(self) -> bool:
        """Started (this replica leads: incidents run where the alert engine runs) and not stopped."""
        return self._service is not None

    async def start(self, state: Services) -> None:
        alerts = state.alerts
        if alerts is None:
            raise RuntimeError("incidents need the alert engine")
        engine = alerts.engine

        def notifiers() -> Mapping[str, Notifier]:
            return engine.dispatcher.notifiers

        service = IncidentService(
            IncidentDesk(state.config),
            PgIncidentRepository(state.pool, announce=state.settings.replica_mode == "shared"),
            utc_now,
            alerts.hub,
            notifiers,
            self.tick_interval_s,
        )
        self._service = service

        async def alert(alert_id: str) -> AlertPayload | None:
            found = await engine.alert(alert_id)
            return None if found is None else found.payload()

        await service.open(engine.subscribe, alert)
        collector = IncidentCollector(service)
        state.metrics.registry.register(collector)
        self._exported = (state.metrics.registry, collector)

    async def reload(self, config: StreamsConfig) -> None:
        """New rules, SOPs and policies apply to the next change; not running (a follower): the
        next start reads the new config."""
        service = self._service
        if service is None:
            return
        async with service.lock:
            service.desk.reload(config)

    async def stop(self) -> None:
        if self._exported is not None:
            registry, collector = self._exported
            registry.unregister(collector)
            self._exported = None
        service, self._service = self._service, None
        if service is not None:
            await service.close()
