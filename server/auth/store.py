"""Users, sessions and API keys in PostgreSQL (migration 0200_auth.sql)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from server.auth.records import ApiKeyRecord, UsernameTakenError, UserRecord
from server.auth.roles import Role

logger = logging.getLogger(__name__)

_USER_COLUMNS = "id, username, display_name, role, language, disabled, created_at, password_hash, sites"
_KEY_COLUMNS = "id, name, prefix, key_sha256, role, created_at, last_used_at, revoked_at, sites"


def _user(row: dict[str, Any]) -> UserRecord:
    return UserRecord(**{**row, "role": Role(row["role"])})


def _key(row: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(**{**row, "role": Role(row["role"])})


class AuthStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def _one(self, sql: str, params: tuple[object, ...]) -> dict[str, Any] | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.encode(), params)
            return await cur.fetchone() if cur.description else None

    async def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.encode(), params)
            return await cur.fetchall()

    # ------------------------------------------------------------------ users

    async def count_users(self) -> int:
        row = await self._one("SELECT count(*) AS n FROM users", ())
        return int(row["n"]) if row else 0

    async def user_by_name(self, username: str) -> UserRecord | None:
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE username = %s", (username,))
        return None if row is None else _user(row)

    async def user_by_id(self, user_id: int) -> UserRecord | None:
        row = await self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
        return None if row is None else _user(row)

    async def users(self) -> list[UserRecord]:
        return [_user(row) for row in await self._all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY username")]

    async def create_user(
        self,
        username: str,
        display_name: str,
        role: Role,
        password_hash: str,
        language: str,
        sites: list[str] | None = None,
    ) -> UserRecord:
        sql = (
            "INSERT INTO users (username, display_name, role, password_hash, language, sites) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}"
        )
        try:
            row = await self._one(sql, (username, display_name, role.value, password_hash, language, sites))
        except psycopg.errors.UniqueViolation as exc:
            raise UsernameTakenError(f"user '{username}' exists already") from exc
        assert row is not None
        return _user(row)

    async def update_user(self, user_id: int, changes: dict[str, object]) -> UserRecord | None:
        """`changes`: any of display_name, role, language, disabled, password_hash, sites."""
        allowed = {"display_name", "role", "language", "disabled", "password_hash", "sites"}
        fields = {key: value for key, value in changes.items() if key in allowed}
        if not fields:
            return await self.user_by_id(user_id)
        assignments = ", ".join(f"{key} = %s" for key in fields)
        sql = f"UPDATE users SET {assignments}, updated_at = now() WHERE id = %s RETURNING {_USER_COLUMNS}"
        row = await self._one(sql, (*fields.values(), user_id))
        return None if row is None else _user(row)

    async def delete_user(self, user_id: int) -> bool:
        return await self._one("DELETE FROM users WHERE id = %s RETURNING id", (user_id,)) is not None

    # ------------------------------------------------------------------ sessions

    async def create_session(self, token_sha256: str, user_id: int, ttl: timedelta) -> None:
        sql = "INSERT INTO user_sessions (token_sha256, user_id, expires_at) VALUES (%s, %s, now() + %s)"
        await self._one(sql, (token_sha256, user_id, ttl))

    async def session_user(self, token_sha256: str) -> UserRecord | None:
        """The enabled user of a live session; refreshes its last-seen time."""
        sql = (
            "UPDATE user_sessions s SET last_seen_at = now() FROM users u "
            "WHERE s.token_sha256 = %s AND s.user_id = u.id AND s.expires_at > now() AND NOT u.disabled "
            f"RETURNING {', '.join('u.' + column for column in _USER_COLUMNS.split(', '))}"
        )
        row = await self._one(sql, (token_sha256,))
        return None if row is None else _user(row)

    async def delete_session(self, token_sha256: str) -> None:
        await self._one("DELETE FROM user_sessions WHERE token_sha256 = %s", (token_sha256,))

    async def delete_sessions_of(self, user_id: int) -> None:
        await self._one("DELETE FROM user_sessions WHERE user_id = %s", (user_id,))

    async def delete_expired_sessions(self, now: datetime | None = None) -> int:
        rows = await self._all("DELETE FROM user_sessions WHERE expires_at <= coalesce(%s, now()) RETURNING 1", (now,))
        return len(rows)

    # ------------------------------------------------------------------ API keys

    async def create_api_key(
        self,
        name: str,
        prefix: str,
        key_sha256: str,
        role: Role,
        created_by: int | None,
        sites: list[str] | None = None,
    ) -> ApiKeyRecord:
        sql = (
            "INSERT INTO api_keys (name, prefix, key_sha256, role, created_by, sites) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_KEY_COLUMNS}"
        )
        try:
            row = await self._one(sql, (name, prefix, key_sha256, role.value, created_by, sites))
        except psycopg.errors.UniqueViolation as exc:
            raise UsernameTakenError(f"API key '{name}' exists already") from exc
        assert row is not None
        return _key(row)

    async def api_key_by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        sql = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = %s AND revoked_at IS NULL"
        row = await self._one(sql, (prefix,))
        return None if row is None else _key(row)

    async def touch_api_key(self, key_id: int) -> None:
        await self._one("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))

    async def api_keys(self) -> list[ApiKeyRecord]:
        return [_key(row) for row in await self._all(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY name")]

    async def revoke_api_key(self, key_id: int) -> bool:
        sql = "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL RETURNING id"
        return await self._one(sql, (key_id,)) is not None
