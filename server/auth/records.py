"""What the auth store returns. `UserRecord.password_hash` never leaves the auth package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.auth.roles import Role


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    role: Role
    language: str
    disabled: bool
    created_at: datetime
    password_hash: str
    sites: list[str] | None = None
    """the sites this user sees; None: every site"""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    key_sha256: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    sites: list[str] | None = None
    """the sites this key sees; None: every site"""


class UsernameTakenError(Exception):
    """A user (or API key) with this name exists already."""
