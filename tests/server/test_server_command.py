"""`ioc server` checks its settings and streams.yaml before it starts: a broken file is printed as
`file:line` errors with exit status 1, never as a start-up traceback; and whatever the server logs
while it fails to start keeps the database password out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.services import free_port
from tests.server.helpers import write_streams

PASSWORD = "Db-S3cret-7781"


def _ioc(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioc.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_broken_streams_yaml_is_reported_without_a_traceback(tmp_path: Path) -> None:
    path = write_streams(tmp_path, "ioc-cli")
    text = path.read_text(encoding="utf-8").replace("worker: edge-1\n", "worker: edge-9\n")
    path.write_text(text.replace("kind: rainfall\n", "kind: rainfall\n    unitt: mm\n"), encoding="utf-8")
    database = f"postgresql://ioc:{PASSWORD}@127.0.0.1:{free_port()}/ioc"
    result = _ioc("server", "--config", str(path), "--database-url", database, "--port", str(free_port()))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: 2 errors" in result.stderr
    assert f"{path}:15: cameras[0].worker: unknown edge worker 'edge-9' (known: edge-1)" in result.stderr
    assert f"{path}:59: sensors[4].unitt: unknown key 'unitt'; did you mean 'unit'?" in result.stderr


def test_invalid_settings_are_named_without_a_traceback(tmp_path: Path) -> None:
    path = write_streams(tmp_path, "ioc-cli")
    result = _ioc("server", "--config", str(path), env={"IOC_POOL_MIN_SIZE": "0"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "IOC_POOL_MIN_SIZE: Input should be greater than or equal to 1" in result.stderr


def test_a_failed_start_never_logs_the_database_password(tmp_path: Path) -> None:
    path = write_streams(tmp_path, "ioc-cli")
    database = f"postgresql://ioc:{PASSWORD}@127.0.0.1:{free_port()}/ioc?connect_timeout=1"
    result = _ioc(
        "server", "--config", str(path), "--database-url", database, "--port", str(free_port()), "--no-ingest"
    )
    assert result.returncode != 0
    assert "ioc:***@127.0.0.1" in result.stderr  # the start-up line names the database, redacted
    assert PASSWORD not in result.stderr + result.stdout
