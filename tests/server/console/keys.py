"""Credentials for tests that call the API: an API key of a given role, made through the auth store."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from server.auth.roles import Role
from server.auth.service import AuthService
from server.auth.tokens import new_api_key


async def api_key_headers(app: FastAPI, role: Role = Role.ADMIN) -> dict[str, str]:
    """`X-API-Key` headers for a fresh key with `role` (the app's lifespan must be running)."""
    service: AuthService = app.state.ioc.auth
    fresh = new_api_key()
    await service.store.create_api_key(
        f"test-{role.value}-{uuid.uuid4().hex[:8]}", fresh.prefix, fresh.sha256, role, None
    )
    return {"X-API-Key": fresh.key}
