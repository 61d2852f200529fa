"""Admin: console users and machine API keys. Hashes and keys are never returned (a new key once)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from contract.config.root import StreamsConfig
from server.api.deps import ConfigDep
from server.auth.deps import AdminPrincipal, Auth
from server.auth.passwords import WeakPasswordError
from server.auth.records import ApiKeyRecord, UsernameTakenError, UserRecord
from server.auth.roles import Role
from server.auth.tokens import new_api_key

logger = logging.getLogger(__name__)

router = APIRouter(tags=["users"])

Language = Literal["vi", "en"]
SiteScope = Annotated[
    list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]] | None,
    Field(default=None, max_length=200, description="the sites (ids) this account sees; null: every site"),
]


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    language: str
    disabled: bool
    created_at: datetime
    sites: list[str] | None = None
    """the sites the user sees; null: every site"""

    @classmethod
    def of(cls, user: UserRecord) -> UserPublic:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            language=user.language,
            disabled=user.disabled,
            created_at=user.created_at,
            sites=user.sites,
        )


class UserCreate(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
    password: str = Field(max_length=256)
    role: Role
    display_name: str = Field(default="", max_length=120)
    language: Language = "vi"
    sites: SiteScope = None


class UserUpdate(BaseModel):
    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=120)
    language: Language | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=256)
    sites: SiteScope = None
    """given as null: every site again; left out: unchanged"""


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    sites: list[str] | None = None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyPublic:
        return cls(
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            role=record.role,
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            revoked=record.revoked_at is not None,
            sites=record.sites,
        )


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role = Role.VIEWER
    sites: SiteScope = None


class ApiKeyCreated(ApiKeyPublic):
    key: str
    """shown once; only its digest is stored"""


def _check_sites(sites: list[str] | None, config: StreamsConfig) -> None:
    """A scope names sites of streams.yaml (as the caller sees it)."""
    unknown = sorted(set(sites or ()) - {site.id for site in config.sites})
    if unknown:
        known = ", ".join(site.id for site in config.sites)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown sites {unknown} (known: {known})")


@router.get("/api/users")
async def list_users(auth: Auth, admin: AdminPrincipal) -> list[UserPublic]:
    return [UserPublic.of(user) for user in await auth.store.users()]


@router.post("/api/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, auth: Auth, admin: AdminPrincipal, config: ConfigDep) -> UserPublic:
    _check_sites(body.sites, config)
    try:
        user = await auth.create_user(
            body.username, body.password, body.role, body.display_name, body.language, body.sites
        )
    except WeakPasswordError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except UsernameTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    logger.info("%s created user %s with role %s", admin.label, user.username, user.role)
    return UserPublic.of(user)


@router.patch("/api/users/{user_id}")
async def update_user(
    user_id: int, body: UserUpdate, auth: Auth, admin: AdminPrincipal, config: ConfigDep
) -> UserPublic:
    _check_sites(body.sites, config)
    user = await auth.store.user_by_id(user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    if user_id == admin.id and admin.kind == "user" and (body.disabled or body.role not in (None, Role.ADMIN)):
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin cannot demote or disable their own account")
    if body.password is not None:
        try:
            await auth.set_password(user, body.password)
        except WeakPasswordError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    changes = body.model_dump(exclude_none=True, exclude={"password", "sites"})
    if "sites" in body.model_fields_set:
        changes["sites"] = body.sites
    updated = await auth.store.update_user(user_id, changes)
    if body.disabled:
        await auth.store.delete_sessions_of(user_id)
    assert updated is not None
    logger.info("%s updated user %s: %s", admin.label, updated.username, sorted(changes))
    return UserPublic.of(updated)


@router.delete("/api/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, auth: Auth, admin: AdminPrincipal) -> None:
    if user_id == admin.id and admin.kind == "user":
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin cannot delete their own account")
    if not await auth.store.delete_user(user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    logger.info("%s deleted user %s", admin.label, user_id)


@router.get("/api/api-keys")
async def list_api_keys(auth: Auth, admin: AdminPrincipal) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.of(record) for record in await auth.store.api_keys()]


@router.post("/api/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, auth: Auth, admin: AdminPrincipal, config: ConfigDep) -> ApiKeyCreated:
    _check_sites(body.sites, config)
    fresh = new_api_key()
    created_by = admin.id if admin.kind == "user" else None
    try:
        record = await auth.store.create_api_key(
            body.name, fresh.prefix, fresh.sha256, body.role, created_by, body.sites
        )
    except UsernameTakenError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    logger.info("%s created API key %s (%s) with role %s", admin.label, record.name, record.prefix, record.role)
    return ApiKeyCreated(**ApiKeyPublic.of(record).model_dump(), key=fresh.key)


@router.delete("/api/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: int, auth: Auth, admin: AdminPrincipal) -> None:
    if not await auth.store.revoke_api_key(key_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active API key {key_id}")
    logger.info("%s revoked API key %s", admin.label, key_id)
