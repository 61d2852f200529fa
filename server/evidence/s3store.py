"""An S3-compatible clip store (MinIO, Ceph RGW, AWS S3): path-style URLs, our SigV4 signer, `httpx`.

`open` streams the object into a spooled temporary file (memory up to `SPOOL_BYTES`, then disk) so
HTTP range playback and case export can seek it like a local file. Every error becomes a
`ClipStoreError` whose text has the secret key redacted (`contract.redact.redact_text`); the app
registers the key with the log redactor through `secrets_of(EvidenceSettings)`.

Temporary failures (a connection error or timeout, HTTP 500 / 502 / 503 / 504, S3's `SlowDown`)
are retried `S3Retry.attempts` times in all, with capped, jittered backoff (`contract.backoff`),
counted in `retries`; anything else fails at once. `prepare` (at start) makes the bucket when it
is missing and `create_bucket` is on, and a put that finds no bucket makes it then.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import urlsplit

import httpx

from contract.backoff import jittered_delay
from contract.redact import redact_text
from contract.timeutil import utc_now
from server.evidence.clipstore import _SAFE, ClipStoreError
from server.evidence.sigv4 import EMPTY_SHA256, Credentials, canonical_uri, sign

logger = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
RETRIED_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class S3Retry:
    """How temporary S3 failures are retried: `attempts` tries in all, the delays doubling from
    `initial_s` up to `maximum_s` (jittered)."""

    attempts: int = 4
    initial_s: float = 0.2
    maximum_s: float = 2.0


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class S3ClipStore:
    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout_s: float = 30.0,
        retry: S3Retry | None = None,
        create_bucket: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an S3 endpoint URL: {endpoint_url!r}")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self.bucket = bucket
        self._creds = Credentials(access_key, secret_key, region)
        self._client = httpx.Client(timeout=timeout_s)
        self.retry = retry or S3Retry()
        self.creates_bucket = create_bucket
        self._sleep = sleep
        self.retries = 0

    def close(self) -> None:
        self._client.close()

    def _path(self, key: str | None) -> str:
        if key is None:
            return f"{self._prefix}/{self.bucket}"
        if not _SAFE.match(key) or ".." in key.split("/"):
            raise ClipStoreError(f"not a clip key: {key!r}")
        return f"{self._prefix}/{self.bucket}/{key}"

    def _error(self, text: str) -> ClipStoreError:
        return ClipStoreError(redact_text(text, [self._creds.secret_key]))

    def _request(
        self,
        method: str,
        key: str | None,
        content: BinaryIO | None = None,
        payload_sha256: str = EMPTY_SHA256,
        stream: bool = False,
    ) -> httpx.Response:
        """One request, retried while it fails temporarily; the last answer (or error) is the result."""
        attempt = 1
        while True:
            if content is not None:
                content.seek(0)
            try:
                response = self._send(method, key, content, payload_sha256, stream)
            except httpx.TransportError as exc:
                if attempt >= self.retry.attempts:
                    raise self._error(f"S3 {method} {self._path(key)}: {type(exc).__name__}: {exc}") from exc
                self._pause(attempt, method, key, type(exc).__name__)
            else:
                if response.status_code not in RETRIED_STATUS or attempt >= self.retry.attempts:
                    return response
                response.close()
                self._pause(attempt, method, key, f"HTTP {response.status_code}")
            attempt += 1

    def _send(
        self, method: str, key: str | None, content: BinaryIO | None, payload_sha256: str, stream: bool
    ) -> httpx.Response:
        path = self._path(key)
        headers = sign(self._creds, method, self._host, path, utc_now(), payload_sha256)
        request = self._client.build_request(
            method, self._origin + canonical_uri(path), headers=headers, content=content
        )
        try:
            return self._client.send(request, stream=stream)
        except httpx.TransportError:
            raise
        except httpx.HTTPError as exc:
            raise self._error(f"S3 {method} {path}: {type(exc).__name__}: {exc}") from exc

    def _pause(self, attempt: int, method: str, key: str | None, why: str) -> None:
        self.retries += 1
        delay = jittered_delay(attempt, self.retry.initial_s, self.retry.maximum_s)
        logger.warning(
            "S3 %s %s failed (%s); try %d of %d in %.2fs",
            method, self._path(key), why, attempt + 1, self.retry.attempts, delay,
        )  # fmt: skip
        self._sleep(delay)

    def _check(self, response: httpx.Response, method: str, key: str | None) -> None:
        if response.is_success:
            return
        response.read()
        detail = response.text[:300] if method != "HEAD" else ""
        what = self._path(key)
        if response.status_code == 404:
            raise self._error(f"clip {key} is no longer kept" if key else f"S3 bucket {what} does not exist")
        raise self._error(f"S3 {method} {what}: HTTP {response.status_code} {detail}".strip())

    def create_bucket(self) -> None:
        """Make the bucket (an existing one of ours is fine): for tests and first setup."""
        response = self._request("PUT", None)
        if response.status_code == 409 and "BucketAlreadyOwnedByYou" in response.text:
            return
        self._check(response, "PUT", None)

    def prepare(self) -> None:
        """At start: the bucket exists, or is made now (`create_bucket`), or this says how to fix it."""
        response = self._request("HEAD", None)
        if response.status_code != 404:
            self._check(response, "HEAD", None)
            return
        if not self.creates_bucket:
            raise self._error(
                f"S3 bucket {self.bucket} does not exist: create it, or set IOC_EVIDENCE_S3_CREATE_BUCKET=true"
            )
        self.create_bucket()
        logger.info("S3 bucket %s created", self.bucket)

    def put(self, key: str, source: Path) -> None:
        digest = file_sha256(source)
        with source.open("rb") as file:
            response = self._request("PUT", key, content=file, payload_sha256=digest)
            if response.status_code == 404 and self.creates_bucket and "NoSuchBucket" in response.text:
                logger.warning("S3 bucket %s is gone; making it again", self.bucket)
                self.create_bucket()
                response = self._request("PUT", key, content=file, payload_sha256=digest)
        self._check(response, "PUT", key)
        source.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        """The object in a spooled file; a body cut off midway is fetched again (retried as above)."""
        attempt = 1
        while True:
            try:
                return self._fetch(key)
            except httpx.TransportError as exc:
                if attempt >= self.retry.attempts:
                    raise self._error(f"S3 GET {self._path(key)}: {type(exc).__name__}: {exc}") from exc
                self._pause(attempt, "GET", key, f"body cut off: {type(exc).__name__}")
                attempt += 1

    def _fetch(self, key: str) -> BinaryIO:
        response = self._request("GET", key, stream=True)
        try:
            self._check(response, "GET", key)
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
            try:
                for chunk in response.iter_bytes(_CHUNK):
                    spool.write(chunk)
            except httpx.TransportError:
                spool.close()
                raise
            except httpx.HTTPError as exc:
                spool.close()
                raise self._error(f"S3 GET {self._path(key)}: {type(exc).__name__}: {exc}") from exc
            spool.seek(0)
            return cast(BinaryIO, spool)
        finally:
            response.close()

    def size(self, key: str) -> int:
        response = self._request("HEAD", key)
        self._check(response, "HEAD", key)
        return int(response.headers["content-length"])

    def delete(self, key: str) -> None:
        response = self._request("DELETE", key)
        if response.status_code != 404:
            self._check(response, "DELETE", key)
