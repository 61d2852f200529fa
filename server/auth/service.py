"""Logins, sessions and API keys: turns credentials into a `Principal`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from server.auth.passwords import PasswordHashing, check_password_policy
from server.auth.ratelimit import LoginRateLimiter
from server.auth.records import UserRecord
from server.auth.roles import Principal, Role
from server.auth.scope import scope_of
from server.auth.settings import AuthSettings
from server.auth.store import AuthStore
from server.auth.tokens import api_key_prefix, digest, new_session_token, same_digest

logger = logging.getLogger(__name__)


class LoginRefusedError(Exception):
    """Wrong name or password (the message never says which), or too many attempts."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: UserRecord
    ttl: timedelta


def principal_of(user: UserRecord) -> Principal:
    sites = scope_of(user.sites)
    return Principal("user", user.id, user.username, user.role, user.display_name, user.language, sites)


class AuthService:
    def __init__(self, store: AuthStore, settings: AuthSettings) -> None:
        self.store = store
        self.settings = settings
        self.hashing = PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_kib)
        self.limiter = LoginRateLimiter(settings.login_max_failures, settings.login_window_s)

    async def login(self, username: str, password: str, client: str) -> Session:
        keys = (f"user:{username.lower()}", f"addr:{client}")
        wait = self.limiter.retry_after(*keys)
        if wait > 0:
            logger.warning("login for %s from %s refused: too many failed attempts", username, client)
            raise LoginRefusedError("too many failed logins; try again later", retry_after=wait)
        user = await self.store.user_by_name(username.lower())
        ok = self.hashing.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            self.limiter.failed(*keys)
            logger.info("failed login for %s from %s", username, client)
            raise LoginRefusedError("wrong user name or password")
        self.limiter.succeeded(*keys)
        await self._rehash_if_needed(user, password)
        token = new_session_token()
        ttl = timedelta(seconds=self.settings.session_ttl_s)
        await self.store.create_session(digest(token), user.id, ttl)
        logger.info("user %s logged in from %s", user.username, client)
        return Session(token, user, ttl)

    async def _rehash_if_needed(self, user: UserRecord, password: str) -> None:
        if self.hashing.needs_rehash(user.password_hash):
            await self.store.update_user(user.id, {"password_hash": self.hashing.hash(password)})

    async def logout(self, token: str) -> None:
        await self.store.delete_session(digest(token))

    async def principal_from_session(self, token: str) -> Principal | None:
        user = await self.store.session_user(digest(token))
        return None if user is None else principal_of(user)

    async def principal_from_api_key(self, key: str) -> Principal | None:
        prefix = api_key_prefix(key)
        record = None if prefix is None else await self.store.api_key_by_prefix(prefix)
        if record is None or not same_digest(key, record.key_sha256):
            return None
        await self.store.touch_api_key(record.id)
        return Principal("api_key", record.id, record.name, record.role, sites=scope_of(record.sites))

    async def create_user(
        self,
        username: str,
        password: str,
        role: Role,
        display_name: str = "",
        language: str = "vi",
        sites: list[str] | None = None,
    ) -> UserRecord:
        check_password_policy(password, username)
        hashed = self.hashing.hash(password)
        return await self.store.create_user(username, display_name, role, hashed, language, sites)

    async def set_password(self, user: UserRecord, password: str) -> None:
        check_password_policy(password, user.username)
        await self.store.update_user(user.id, {"password_hash": self.hashing.hash(password)})
        await self.store.delete_sessions_of(user.id)

    async def ensure_bootstrap_admin(self) -> None:
        """With no user at all, create the configured first admin (when a password is configured)."""
        secret = self.settings.bootstrap_password
        if await self.store.count_users() > 0:
            return
        if secret is None:
            logger.warning("no console user exists; set IOC_AUTH_BOOTSTRAP_PASSWORD to create the first admin")
            return
        await self.create_user(self.settings.bootstrap_admin, secret.get_secret_value(), Role.ADMIN, "Admin")
        logger.info("created the first admin user %s", self.settings.bootstrap_admin)
