"""Session tokens and API keys: random, shown once, stored only as SHA-256 digests.

An API key reads `ioc_<prefix>_<secret>`; the prefix finds the row, the digest of the whole key
is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

API_KEY_SCHEME = "ioc"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(secret: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_sha256)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    prefix: str
    key: str

    @property
    def sha256(self) -> str:
        return digest(self.key)


def new_api_key() -> NewApiKey:
    prefix = secrets.token_hex(4)
    return NewApiKey(prefix, f"{API_KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}")


def api_key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_SCHEME or len(parts[1]) != 8 or len(parts[2]) < 20:
        return None
    return parts[1]
