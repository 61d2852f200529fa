"""AWS Signature Version 4 for S3-protocol requests (header auth, one chunk): a small, pure signer.

`sign` returns the headers to add (`x-amz-date`, `x-amz-content-sha256`, `Authorization`); the
caller sends them with the request unchanged. Path-style or virtual-hosted: the signer signs the
host and path it is given.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str
    service: str = "s3"


def canonical_uri(path: str) -> str:
    """S3 encodes each path segment once (unreserved characters and `/` kept)."""
    return quote(path or "/", safe="/-_.~")


def canonical_query(query: Mapping[str, str]) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(
    creds: Credentials,
    method: str,
    host: str,
    path: str,
    now: datetime,
    payload_sha256: str = EMPTY_SHA256,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The auth headers for one request; `headers` are further headers to sign (e.g. `range`)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed: dict[str, str] = {k.lower(): " ".join(v.strip().split()) for k, v in (headers or {}).items()}
    signed.update({"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date})
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query or {}),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{date}/{creds.region}/{creds.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(creds.secret_key, date, creds.region, creds.service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
        "Authorization": (
            f"{ALGORITHM} Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
        ),
    }
