"""Console login: a session cookie (HttpOnly, SameSite=Strict); also returned for scripts."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from server.auth.deps import SESSION_COOKIE, Auth, CurrentPrincipal
from server.auth.passwords import WeakPasswordError
from server.auth.roles import Principal
from server.auth.service import LoginRefusedError, principal_of

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=63)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    kind: Literal["user", "api_key"]
    name: str
    display_name: str
    role: str
    language: str

    @classmethod
    def of(cls, principal: Principal) -> Me:
        return cls(
            kind=principal.kind,
            name=principal.name,
            display_name=principal.display_name,
            role=principal.role.value,
            language=principal.language,
        )


class LoginResponse(BaseModel):
    user: Me
    expires_in: int
    token: str
    """the session token, for scripts; the console uses the cookie"""


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


@router.post("/login")
async def login(body: LoginRequest, request: Request, response: Response, auth: Auth) -> LoginResponse:
    client = request.client.host if request.client else "unknown"
    try:
        session = await auth.login(body.username, body.password, client)
    except LoginRefusedError as exc:
        if exc.retry_after > 0:
            retry = str(int(exc.retry_after) + 1)
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), {"Retry-After": retry}) from exc
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    seconds = int(session.ttl.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=seconds,
        httponly=True,
        samesite="strict",
        secure=auth.settings.cookie_secure,
        path="/",
    )
    return LoginResponse(user=Me.of(principal_of(session.user)), expires_in=seconds, token=session.token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, auth: Auth, principal: CurrentPrincipal) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await auth.logout(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me")
async def me(principal: CurrentPrincipal) -> Me:
    return Me.of(principal)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, auth: Auth) -> None:
    user = await auth.store.user_by_id(principal.id) if principal.kind == "user" else None
    if user is None or not auth.hashing.verify(user.password_hash, body.current_password):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong")
    try:
        await auth.set_password(user, body.new_password)
    except WeakPasswordError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
