"""Keep credentials out of logs, metrics, errors and API responses."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")
_SECRET_QUERY = re.compile(
    r"(?P<key>(?:password|passwd|pwd|token|secret|api_key|apikey|key|auth)=)[^&\s]+", re.IGNORECASE
)
MASK = "***"


def redact_url(url: str) -> str:
    """`rtsp://admin:pw@host/x?token=t` -> `rtsp://admin:***@host/x?token=***`."""
    redacted = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", url)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", redacted)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """Redact every URL's credentials in free text, and any known secret value."""
    result = redact_url(text)
    for secret in secrets or []:
        if secret and len(secret) >= 3:
            result = result.replace(secret, MASK)
    return result
