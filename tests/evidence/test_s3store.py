"""The S3 clip store against a real S3-protocol HTTP server (moto's, in-process), and its signer
against AWS's published SigV4 example."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from server.evidence.clipstore import ClipStoreError
from server.evidence.component import clip_store_of
from server.evidence.s3store import S3ClipStore
from server.evidence.settings import EvidenceSettings
from server.evidence.sigv4 import Credentials, sign

try:
    import boto3  # type: ignore[import-untyped]
    import moto.settings
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - depends on the test extra
    pytest.skip(f"moto[server] is not installed: {exc}", allow_module_level=True)


def test_signer_reproduces_aws_published_example() -> None:
    # AWS S3 docs, "Signature Calculations for the Authorization Header", example GET Object
    creds = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
    headers = sign(
        creds, "GET", "examplebucket.s3.amazonaws.com", "/test.txt", datetime(2013, 5, 24, tzinfo=UTC),
        headers={"Range": "bytes=0-9"},
    )  # fmt: skip
    assert headers["x-amz-date"] == "20130524T000000Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A moto server with authentication on and one IAM user's key pair."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = moto.settings.INITIAL_NO_AUTH_ACTION_COUNT
    try:
        iam = boto3.client(
            "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )  # fmt: skip
        iam.create_user(UserName="ioc")
        policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
        iam.put_user_policy(UserName="ioc", PolicyName="s3", PolicyDocument=policy)
        key = iam.create_access_key(UserName="ioc")["AccessKey"]
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from here on every request is authenticated
        yield {"endpoint": endpoint, "access": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        server.stop()


def _store(s3: dict[str, Any], secret: str | None = None) -> S3ClipStore:
    return S3ClipStore(s3["endpoint"], "ioc-clips", s3["access"], secret or s3["secret"], "us-east-1")


def test_put_open_seek_size_delete(s3: dict[str, Any], tmp_path: Path) -> None:
    store = _store(s3)
    store.create_bucket()
    store.create_bucket()  # idempotent
    body = Path("/work/shared/data/vtest.avi").read_bytes()[: 3 * 1024 * 1024] + b"tail"
    source = tmp_path / "clip.mp4"
    source.write_bytes(body)
    key = "pier/2026-12-02/c1.mp4"
    store.put(key, source)
    assert not source.exists(), "put takes the local file"
    assert store.size(key) == len(body)
    with store.open(key) as file:
        assert file.read() == body
        file.seek(len(body) - 4)
        assert file.read() == b"tail"
        file.seek(1000)
        assert file.read(16) == body[1000:1016]
    store.delete(key)
    with pytest.raises(ClipStoreError, match="no longer kept"):
        store.open(key)
    with pytest.raises(ClipStoreError, match="no longer kept"):
        store.size(key)
    store.delete(key)  # deleting a gone clip is fine
    with pytest.raises(ClipStoreError, match="not a clip key"):
        store.open("../etc/passwd")


def test_wrong_secret_is_refused_without_leaking_it(s3: dict[str, Any], tmp_path: Path) -> None:
    _store(s3).create_bucket()
    wrong = "WrongSecretValue123456789"
    store = _store(s3, secret=wrong)
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"x" * 1000)
    with pytest.raises(ClipStoreError) as refused:
        store.put("pier/2026-12-02/c2.mp4", source)
    assert "403" in str(refused.value)
    assert wrong not in str(refused.value)
    assert source.exists(), "a refused put keeps the local file"
    with pytest.raises(ClipStoreError) as refused:
        store.size("pier/2026-12-02/c2.mp4")
    assert wrong not in str(refused.value)


def test_settings_choose_and_validate_the_store(s3: dict[str, Any], tmp_path: Path) -> None:
    settings = EvidenceSettings(
        clip_store="s3", s3_endpoint=s3["endpoint"], s3_bucket="ioc-clips", s3_access_key=s3["access"],
        s3_secret_key=s3["secret"],
    )  # fmt: skip
    store = clip_store_of(settings)
    assert isinstance(store, S3ClipStore)
    store.create_bucket()
    source = tmp_path / "c.mp4"
    source.write_bytes(b"clip")
    store.put("pier/2026-12-02/c3.mp4", source)
    assert store.size("pier/2026-12-02/c3.mp4") == 4
    with pytest.raises(ValueError, match="IOC_EVIDENCE_S3_SECRET_KEY"):
        EvidenceSettings(clip_store="s3", s3_endpoint=s3["endpoint"], s3_bucket="b-1", s3_access_key="a")
    with pytest.raises(ValueError):
        EvidenceSettings(clip_store="s3", s3_endpoint="not a url", s3_bucket="b-1", s3_access_key="a")


def test_the_secret_key_reaches_the_log_redactor() -> None:
    from contract.redact import secrets_of

    settings = EvidenceSettings(
        clip_store="s3", s3_endpoint="http://minio:9000", s3_bucket="ioc-clips", s3_access_key="AKIDEXAMPLE",
        s3_secret_key="s3-Secret-Value-42",
    )  # fmt: skip
    assert "s3-Secret-Value-42" in secrets_of(settings)
    assert "s3-Secret-Value-42" not in repr(settings)
