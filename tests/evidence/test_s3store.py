"""The S3 clip store against a real S3-protocol HTTP server (moto's, in-process), and its signer
against AWS's published SigV4 example."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.evidence.clipstore import ClipStoreError, clip_key
from server.evidence.component import clip_store_of
from server.evidence.s3store import S3ClipStore, S3Retry
from server.evidence.settings import EvidenceSettings
from server.evidence.sigv4 import Credentials, sign
from tests.fixtures.tcp_proxy import TcpProxy
from tests.server.helpers import make_settings, running_app, write_streams

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


class _FlakyS3:
    """An HTTP front of the S3 server that answers the first `failures` requests with 503
    (S3's `SlowDown`) and forwards the rest unchanged (the Host header too: it is signed)."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = upstream
        self.failures = failures
        self.cut_bodies = 0  # then cut off the body of this many GET answers halfway
        self.seen = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                front.seen += 1
                if front.seen <= front.failures:
                    self._answer(503, {}, b"<Error><Code>SlowDown</Code></Error>")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
                with httpx.Client() as client:
                    answer = client.request(self.command, front.upstream + self.path, headers=headers, content=body)
                dropped = ("content-length", "transfer-encoding", "content-encoding")
                kept = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
                if self.command == "HEAD":  # no body, but the object's length
                    kept["Content-Length"] = answer.headers.get("content-length", "0")
                if self.command == "GET" and front.cut_bodies > 0:
                    front.cut_bodies -= 1
                    kept["Content-Length"] = str(len(answer.content))
                    self.close_connection = True
                    self._answer(answer.status_code, kept, answer.content[: len(answer.content) // 2])
                    return
                self._answer(answer.status_code, kept, answer.content)

            def _answer(self, code: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(code)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_DELETE = _any  # noqa: N815 - the names http.server calls

        return Handler


def test_temporary_5xx_answers_are_retried_with_bounded_backoff(s3: dict[str, Any], tmp_path: Path) -> None:
    _store(s3).create_bucket()
    front = _FlakyS3(s3["endpoint"], failures=2)
    pauses: list[float] = []
    try:
        retry = S3Retry(attempts=3, initial_s=0.05, maximum_s=0.08)
        store = S3ClipStore(front.endpoint, "ioc-clips", s3["access"], s3["secret"], retry=retry, sleep=pauses.append)
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"clip-bytes" * 1000)
        store.put("pier/2026-12-02/r1.mp4", source)  # two 503s, then stored (the body sent again)
        assert store.retries == 2 and len(pauses) == 2 and all(0.025 <= p <= 0.08 for p in pauses), pauses
        with store.open("pier/2026-12-02/r1.mp4") as file:
            assert file.read() == b"clip-bytes" * 1000
        front.cut_bodies = 1  # a body cut off midway: fetched again, whole
        with store.open("pier/2026-12-02/r1.mp4") as file:
            assert file.read() == b"clip-bytes" * 1000
        assert front.cut_bodies == 0 and store.retries == 3
        front.failures, front.seen = 3, 0  # more failures than tries: the last answer is the error
        with pytest.raises(ClipStoreError, match="HTTP 503"):
            store.size("pier/2026-12-02/r1.mp4")
        assert front.seen == 3 and store.retries == 5
        front.failures, front.seen = 0, 0
        assert store.size("pier/2026-12-02/r1.mp4") == 10_000
        front.seen = 0
        with pytest.raises(ClipStoreError, match="no longer kept"):  # a 404 is not retried
            store.size("pier/2026-12-02/absent.mp4")
        assert front.seen == 1 and store.retries == 5
    finally:
        front.close()


def test_connection_errors_are_retried_until_the_store_is_back(s3: dict[str, Any], tmp_path: Path) -> None:
    _store(s3).create_bucket()
    port = int(s3["endpoint"].rsplit(":", 1)[1])
    proxy = TcpProxy("127.0.0.1", port)
    proxy.start()
    proxy.stop()  # its port now refuses connections
    pauses: list[float] = []

    def pause(delay: float) -> None:
        pauses.append(delay)
        if len(pauses) == 2:
            proxy.start()  # the store comes back during the second pause

    endpoint = f"http://127.0.0.1:{proxy.port}"
    retry = S3Retry(attempts=4, initial_s=0.05, maximum_s=0.1)
    store = S3ClipStore(endpoint, "ioc-clips", s3["access"], s3["secret"], retry=retry, sleep=pause)
    try:
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"x" * 5000)
        store.put("pier/2026-12-02/c9.mp4", source)
        assert store.retries == 2 and store.size("pier/2026-12-02/c9.mp4") == 5000
        proxy.stop()
        source.write_bytes(b"y" * 10)
        with pytest.raises(ClipStoreError, match="ConnectError"):
            store.put("pier/2026-12-02/c10.mp4", source)
        assert store.retries == 5 and source.exists(), "four tries in all, then the file is kept"
    finally:
        proxy.stop()
        store.close()


def test_the_bucket_is_made_at_start_or_its_absence_explained(s3: dict[str, Any]) -> None:
    missing = S3ClipStore(s3["endpoint"], "ioc-not-made", s3["access"], s3["secret"])
    with pytest.raises(ClipStoreError, match="IOC_EVIDENCE_S3_CREATE_BUCKET=true"):
        missing.prepare()
    made = S3ClipStore(s3["endpoint"], "ioc-made-at-start", s3["access"], s3["secret"], create_bucket=True)
    made.prepare()
    made.prepare()  # there now: nothing to do
    missing.close()
    made.close()


async def test_a_clip_uploaded_through_the_api_is_kept_in_s3_and_plays_back(
    s3: dict[str, Any], tmp_path: Path, pg_database: str, mqtt_broker: Any, topic_prefix: str
) -> None:
    """End to end: the app makes its bucket at start, the edge's upload route stores the clip in
    the S3 server, and playback (whole and by range) reads the same bytes back from it."""
    bucket = f"ioc-e2e-{uuid.uuid4().hex[:8]}"
    evidence = EvidenceSettings(
        clip_store="s3", s3_endpoint=s3["endpoint"], s3_bucket=bucket, s3_access_key=s3["access"],
        s3_secret_key=s3["secret"],
    )  # fmt: skip
    settings = make_settings(pg_database, mqtt_broker.url, write_streams(tmp_path, topic_prefix))
    app = create_app(settings, evidence=evidence)
    body = Path("/work/shared/data/vtest.avi").read_bytes()[: 2 * 1024 * 1024]
    start = datetime(2026, 3, 1, 7, 5, tzinfo=UTC)
    meta = {
        "clip_id": uuid.uuid4().hex, "camera_id": "gate", "worker_id": "edge-1", "event_ids": [],
        "start": start.isoformat(), "end": (start + timedelta(seconds=6)).isoformat(),
        "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "duration_s": 6.0,
    }  # fmt: skip
    async with running_app(settings, app) as admin:
        S3ClipStore(s3["endpoint"], bucket, s3["access"], s3["secret"]).prepare()  # made at start: no error
        headers = {"X-IOC-Clip": json.dumps(meta), "Content-Type": "video/mp4"}
        created = await admin.post("/api/evidence/clips", content=body, headers=headers)
        assert created.status_code == 201, created.text
        video = await admin.get(f"/api/evidence/clips/{meta['clip_id']}/video")
        assert video.status_code == 200 and video.content == body
        part = await admin.get(f"/api/evidence/clips/{meta['clip_id']}/video", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == body[1000:2000]
    stored = S3ClipStore(s3["endpoint"], bucket, s3["access"], s3["secret"])  # the object itself, in S3
    with stored.open(clip_key("gate", start, str(meta["clip_id"]))) as file:
        assert file.read() == body
    stored.close()
