"""Audit of routes owned elsewhere (live view, snapshots): an ASGI middleware that writes one audit
row when an audited route starts a successful response. The evidence routes audit themselves.

The table says which route templates are audited and as what action; the caller is the principal
the access policy already resolved for the request (`conn.state.principal`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.auth.policy import template_of

if TYPE_CHECKING:
    from server.auth.roles import Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditedRoute:
    method: str
    path: str  # the route template
    action: str
    object_param: str  # the path parameter naming the object
    object_kind: str


AUDITED_ROUTES: tuple[AuditedRoute, ...] = (
    AuditedRoute("POST", "/api/live/{camera_id}/offer", "live_view", "camera_id", "camera"),
    AuditedRoute("GET", "/api/live/{camera_id}/mjpeg", "live_view", "camera_id", "camera"),
    AuditedRoute("GET", "/api/live/{camera_id}/snapshot.jpg", "snapshot_download", "camera_id", "camera"),
    AuditedRoute("GET", "/api/events/{event_id}/snapshot", "snapshot_download", "event_id", "event"),
)


def _audited(scope: Scope) -> AuditedRoute | None:
    route = scope.get("route")
    path = template_of(getattr(route, "path", ""))
    method = scope.get("method", "")
    return next((r for r in AUDITED_ROUTES if r.path == path and r.method == method), None)


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def audited_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await self._record(scope)
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _record(self, scope: Scope) -> None:
        route = _audited(scope)
        if route is None:
            return
        principal: Principal | None = scope.get("state", {}).get("principal")
        services: Any = getattr(scope["app"].state, "ioc", None)
        evidence = getattr(services, "evidence", None)
        if principal is None or evidence is None:
            return
        client = scope.get("client")
        remote = client[0] if client else None
        object_id = str(scope.get("path_params", {}).get(route.object_param, "?"))
        target = f"{route.object_kind}:{object_id}"
        try:
            cameras = await _cameras_of(services, route.object_kind, object_id)
            await evidence.audit(principal, route.action, target, remote, cameras=cameras)
        except Exception:
            logger.exception("audit of %s %s failed", route.action, target)


async def _cameras_of(services: Any, kind: str, object_id: str) -> list[str]:
    """The camera an audited object is about: the camera itself, or an event's camera."""
    if kind == "camera":
        return [object_id]
    if kind == "event":
        event = await services.store.event(object_id)
        return [event.camera_id] if event is not None else []
    return []
