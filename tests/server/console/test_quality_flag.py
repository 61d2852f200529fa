"""A station in calibration shows so in the console: real Chromium, a TT-10 file uploaded over FTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from tests.fixtures.services import free_port
from tests.server.console.conftest import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    LiveServer,
    _Server,
    add_users,
    console_app,
    log_in,
    server_loop,
)
from tests.server.helpers import make_settings
from tests.server.loggers.test_station_files import PASSWORD, STREAMS, stamp, station_file, upload


@pytest.fixture
def station_console(pg_database: str, mqtt_broker: object, topic_prefix: str, tmp_path: Path) -> Iterator[LiveServer]:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, password=PASSWORD), encoding="utf-8")
    settings = make_settings(
        pg_database,
        mqtt_broker.url,  # type: ignore[attr-defined]
        config,
        station_files_dir=tmp_path / "stations",
        ftp_port=0,
        station_file_poll_s=0.2,
    )
    app = console_app(settings)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", ws="websockets"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    asyncio.run_coroutine_threadsafe(add_users(app), server_loop(server)).result(timeout=30)
    yield LiveServer(app, f"http://127.0.0.1:{server.config.port}", settings)
    server.should_exit = True
    thread.join(timeout=30)


def test_calibrating_and_error_readings_are_flagged_in_the_list_and_the_chart(
    station_console: LiveServer,
    page: object,
) -> None:
    ftp_port = station_console.app.state.ioc.station_files.ftp.port
    now = datetime.now(UTC).replace(microsecond=0)
    for minutes, status in ((30, "00"), (20, "00"), (10, "01")):
        at = now - timedelta(minutes=minutes)
        lines = [("Cl", "120", "mg/L", status), ("pH", "7.2", "pH", "02" if minutes == 10 else "00")]
        upload(ftp_port, f"LP_{stamp(at)}.txt", station_file(at, lines))
    processed = Path(station_console.settings.station_files_dir or "") / "processed"
    deadline = time.monotonic() + 15
    while len(list(processed.rglob("*.txt"))) < 3:
        assert time.monotonic() < deadline, "the station files were not processed"
        time.sleep(0.1)

    log_in(page, station_console.url, "admin", ADMIN_PASSWORD)
    page.wait_for_selector("#whoami:has-text('admin')")  # type: ignore[attr-defined]
    page.click("#tabs button[data-tab=sensors]")  # type: ignore[attr-defined]
    page.wait_for_selector("#sensor-list li[data-sensor=cl][data-quality=calibrating] .badge.quality")  # type: ignore[attr-defined]
    assert page.inner_text("#sensor-list li[data-sensor=cl] .badge.quality") == "Đang hiệu chuẩn"  # type: ignore[attr-defined]
    assert page.inner_text("#sensor-list li[data-sensor=ph] .badge.quality") == "Lỗi thiết bị"  # type: ignore[attr-defined]
    assert page.query_selector("#sensor-list li[data-sensor=pm25-st] .badge.quality") is None  # type: ignore[attr-defined]

    page.click("#sensor-list li[data-sensor=cl]")  # type: ignore[attr-defined]
    # 24 hours are drawn from the rollups (two normal minutes); the calibrating reading, kept out
    # of them, is drawn on top as a flagged point
    drawn = "() => { const c = document.getElementById('chart'); return [c.dataset.points, c.dataset.flagged]; }"
    page.wait_for_function(f"() => ({drawn})().join() === '2,1'")  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "calibrating.png"))  # type: ignore[attr-defined]
