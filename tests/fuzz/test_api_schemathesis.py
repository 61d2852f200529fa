"""Fuzz the HTTP API from its own OpenAPI description (schemathesis) against a real running server
(PostgreSQL, Mosquitto, uvicorn in a child process): no request may produce a 5xx, and responses
must match their documented schema."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation

from tests.fixtures.services import DatabaseFactory, MosquittoBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Fuzz-Operator-8c41e2!"
# Logging out or changing the password would end the fuzzer's own session, not find bugs.
EXCLUDED = ("/api/auth/logout", "/api/auth/password")


class RunningServer:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api_server(
    tmp_path_factory: pytest.TempPathFactory,
    pg_admin_dsn: str,
    database_factory: DatabaseFactory,
    mqtt_broker: MosquittoBroker,
) -> Iterator[RunningServer]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("api-fuzz")
    env = dict(
        os.environ,
        IOC_DATABASE_URL=database_factory(pg_admin_dsn),
        IOC_MQTT_URL=mqtt_broker.url,
        IOC_CONFIG=str(ROOT / "streams.yaml"),
        IOC_PORT=str(port),
        IOC_MQTT_CLIENT_ID=f"fuzz-{port}",
        IOC_AUTH_BOOTSTRAP_PASSWORD=PASSWORD,
        IOC_SNAPSHOT_DIR=str(workdir / "snapshots"),
    )
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "ioc.cli", "server"], env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, base_url, workdir / "server.log")
        login = httpx.post(f"{base_url}/api/auth/login", json={"username": "admin", "password": PASSWORD})
        login.raise_for_status()
        yield RunningServer(base_url, login.json()["token"])
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    server_log = (workdir / "server.log").read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
    assert PASSWORD not in server_log


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server was not healthy after {timeout}s")


def _operations(server: RunningServer) -> list[APIOperation]:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [operation for operation in operations if operation.path not in EXCLUDED]


def _fuzz(operation: APIOperation, server: RunningServer, problems: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate]
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=server.base_url, headers=server.headers, timeout=20)
        if response.status_code >= 500:
            problems.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")
            return
        try:
            case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
        except FailureGroup as failures:
            problems.append(f"{case.method} {case.formatted_path}: response does not match its schema: {failures}")

    check()


def test_api_never_fails_with_a_server_error(api_server: RunningServer) -> None:
    operations = _operations(api_server)
    assert len(operations) > 30, "the OpenAPI description lists every route"
    problems: list[str] = []
    for operation in operations:
        _fuzz(operation, api_server, problems)
    assert not problems, "\n".join(sorted(set(problems))[:20])
