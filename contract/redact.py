"""Keep credentials out of logs, metrics, errors and API responses.

One boundary: `install_log_redaction()` wraps the logging record factory, so every record any
logger makes (ours, uvicorn's, a library's) is redacted once, when it is made: its formatted
message, its exception text and traceback, and its stack. What is redacted is every URL's userinfo
password (`scheme://user:pass@`), secret-looking query parameters, and every secret value the
process knows (`SecretRedactor.add`: camera passwords, API keys, webhook secrets, DB and broker
passwords, collected from the settings and the config tree by `secrets_of`). The API's error
handler uses the same redactor for error texts.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, SecretStr

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^/\s]*)?@")
_SECRET_QUERY = re.compile(
    r"(?<![\w-])(?P<key>(?:password|passwd|pwd|token|secret|api_key|apikey|key|auth)=)[^&\s'\"]+", re.IGNORECASE
)
_SECRET_NAMES = re.compile(r"password|passwd|secret|token|api_key|apikey", re.IGNORECASE)
MASK = "***"
MIN_SECRET = 3
"""shorter values are not masked on their own (they would mask unrelated text); URLs still are"""


def redact_url(url: str) -> str:
    """`rtsp://admin:pw@host/x?token=t` -> `rtsp://admin:***@host/x?token=***`."""
    redacted = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", url)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", redacted)


def redact_text(text: str, secrets: Iterable[str] | None = None) -> str:
    """Redact every URL's credentials in free text, and any known secret value."""
    result = redact_url(text)
    for secret in sorted(set(secrets or ()), key=len, reverse=True):
        if secret and len(secret) >= MIN_SECRET:
            result = result.replace(secret, MASK)
    return result


def url_secrets(url: str) -> list[str]:
    """The password of a URL's userinfo, as written and percent-decoded (libraries print either)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def secrets_of(*values: object) -> set[str]:
    """Every secret in settings objects and config trees: `SecretStr` values, fields whose name says
    secret (password, token, ...) and URL passwords, found in models, lists and dicts alike."""
    found: set[str] = set()
    for value in values:
        found.update(_walk(value, ""))
    return {secret for secret in found if len(secret) >= MIN_SECRET}


def _walk(value: object, name: str) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for field_name in type(value).model_fields:
            yield from _walk(getattr(value, field_name, None), field_name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, str(key))
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item, name)
    elif isinstance(value, str):
        if "://" in value:
            yield from url_secrets(value)
        elif _SECRET_NAMES.search(name):
            yield value


class SecretRedactor:
    """Redacts URL credentials and the secrets it was told about; thread-safe, secrets only added."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = {*self._secrets, *(s for s in secrets if s and len(s) >= MIN_SECRET)}
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        result = redact_url(text)
        for secret in self._secrets:
            if secret in result:
                result = result.replace(secret, MASK)
        return result

    def scrub(self, record: logging.LogRecord) -> None:
        """Redact the record's message and arguments (each kept as it is unless it shows a secret,
        so formatters that read `args`, as uvicorn's access log does, still work), its exception
        text with the traceback, and its stack."""
        record.msg = self._value(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: self._value(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(self._value(value) for value in record.args)
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)

    def _value(self, value: object) -> object:
        """`value` itself, or its redacted text when its text shows a secret."""
        if value is None or isinstance(value, int | float):
            return value
        try:
            text = value if isinstance(value, str) else str(value)
        except Exception:
            return value
        redacted = self.redact(text)
        return value if redacted == text else redacted


class _RedactingFactory:
    def __init__(self, inner: Callable[..., logging.LogRecord], redactor: SecretRedactor) -> None:
        self.inner = inner
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        self.redactor.scrub(record)
        return record


_install_lock = threading.Lock()


def install_log_redaction(secrets: Iterable[str] = ()) -> SecretRedactor:
    """Make every log record of this process pass the redactor (installed once; a second call adds
    `secrets` to the installed one). Returns the redactor, for error texts outside logging."""
    with _install_lock:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingFactory):
            factory = _RedactingFactory(factory, SecretRedactor())
            logging.setLogRecordFactory(factory)
    factory.redactor.add(secrets)
    return factory.redactor
