"""`Annotated` dependencies, one per service: routes ask for what they need, the lifespan's
`Services` (see `server.state`) provides it. Each works for HTTP routes and WebSockets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from contract.config import StreamsConfig
from server.auth.deps import optional_principal
from server.live.hub import LiveHub
from server.metrics import Metrics
from server.overlay.fanout import DetectionFanout
from server.state import Services, services_of
from server.store.pg import PgStore

if TYPE_CHECKING:
    from server.alerts.component import AlertComponent


def get_services(conn: HTTPConnection) -> Services:
    return services_of(conn)


def get_store(conn: HTTPConnection) -> PgStore:
    return services_of(conn).store


async def get_config(conn: HTTPConnection) -> StreamsConfig:
    """The running streams.yaml: read per request, so it follows reloads. A caller scoped to sites
    gets the part of it about those sites (`server.auth.scope`): cameras, sensors and the layout of
    other sites do not exist for them."""
    services = services_of(conn)
    return services.scoped_views.view(services.config, await optional_principal(conn))


def get_metrics(conn: HTTPConnection) -> Metrics:
    return services_of(conn).metrics


def get_live(conn: HTTPConnection) -> LiveHub:
    return services_of(conn).live


def get_overlay(conn: HTTPConnection) -> DetectionFanout:
    return services_of(conn).overlay


def get_alerts(conn: HTTPConnection) -> AlertComponent:
    alerts = services_of(conn).alerts
    if alerts is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the alert engine is not running")
    return alerts


StateDep = Annotated[Services, Depends(get_services)]
ServicesDep = StateDep
StoreDep = Annotated[PgStore, Depends(get_store)]
ConfigDep = Annotated[StreamsConfig, Depends(get_config)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
LiveDep = Annotated[LiveHub, Depends(get_live)]
OverlayDep = Annotated[DetectionFanout, Depends(get_overlay)]
