"""FastAPI dependencies: who is calling, and may they? Works for HTTP routes and WebSockets.

Credentials: `X-API-Key: <key>`, `Authorization: Bearer <session token or API key>`, else the
`ioc_session` cookie (the console); an explicit header wins over the cookie. HTTP callers are
refused with 401 (not logged in) or 403 (role too low); WebSockets are closed with 1008 and a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection

from server.auth.policy import RoutePolicy, template_of
from server.auth.roles import Principal, Role
from server.auth.service import AuthService
from server.state import services_of

logger = logging.getLogger(__name__)

SESSION_COOKIE = "ioc_session"
API_KEY_HEADER = "x-api-key"
POLICY_VIOLATION = 1008


def auth_service(conn: HTTPConnection) -> AuthService:
    return services_of(conn).auth


def route_policy(conn: HTTPConnection) -> RoutePolicy:
    return services_of(conn).route_policy


def _credentials(conn: HTTPConnection) -> tuple[str | None, str | None]:
    """(session token, API key) as presented."""
    cookie = conn.cookies.get(SESSION_COOKIE)
    header = conn.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    api_key = conn.headers.get(API_KEY_HEADER)
    if bearer and bearer.startswith("ioc_"):
        return None, bearer
    return bearer or cookie, api_key


async def optional_principal(conn: HTTPConnection) -> Principal | None:
    if hasattr(conn.state, "principal"):
        cached: Principal | None = conn.state.principal
        return cached
    service = auth_service(conn)
    token, api_key = _credentials(conn)
    principal = None
    if api_key:
        principal = await service.principal_from_api_key(api_key)
    if principal is None and token:
        principal = await service.principal_from_session(token)
    conn.state.principal = principal
    return principal


def _refuse(conn: HTTPConnection, code: int, message: str) -> Exception:
    if conn.scope["type"] == "websocket":
        return WebSocketException(code=POLICY_VIOLATION, reason=message)
    headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
    return HTTPException(status_code=code, detail=message, headers=headers)


def check_role(conn: HTTPConnection, principal: Principal | None, required: Role | None) -> None:
    if required is None:
        return
    if principal is None:
        raise _refuse(conn, status.HTTP_401_UNAUTHORIZED, "log in first")
    if not principal.role.allows(required):
        logger.info("%s (%s) refused on %s: needs %s", principal.label, principal.role, conn.url.path, required)
        raise _refuse(conn, status.HTTP_403_FORBIDDEN, f"this needs the {required.value} role")


def require_role(required: Role) -> Callable[[HTTPConnection], Awaitable[Principal]]:
    """A dependency that returns the caller when their role is at least `required`."""

    async def dependency(conn: HTTPConnection) -> Principal:
        principal = await optional_principal(conn)
        check_role(conn, principal, required)
        assert principal is not None
        return principal

    return dependency


async def enforce_policy(conn: HTTPConnection) -> None:
    """Router-level dependency: the role the route policy table asks for this route and method."""
    route = conn.scope.get("route")
    path = template_of(getattr(route, "path", conn.url.path))
    method = "WEBSOCKET" if conn.scope["type"] == "websocket" else conn.scope["method"]
    required = route_policy(conn).required_role(method, path)
    if required is not None:
        check_role(conn, await optional_principal(conn), required)


CurrentPrincipal = Annotated[Principal, Depends(require_role(Role.VIEWER))]
OperatorPrincipal = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Auth = Annotated[AuthService, Depends(auth_service)]
