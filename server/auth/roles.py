"""Roles, ordered: each role may do everything the roles below it may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """viewer watches; responder also acknowledges the alerts assigned to them; operator acknowledges,
    resolves, assigns and silences any alert; admin also manages users, API keys and configuration."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


_RANKS = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a console user (by session) or a machine (by API key)."""

    kind: Literal["user", "api_key"]
    id: int
    name: str
    role: Role
    display_name: str = ""
    language: str = "vi"
    sites: frozenset[str] | None = None
    """the sites this caller may see (a district); None: every site (see `server.auth.scope`)"""

    @property
    def label(self) -> str:
        """For audit fields such as 'acknowledged by'."""
        return self.name if self.kind == "user" else f"key:{self.name}"
