"""A file is moved to processed/ only after its readings are committed: while the database is
away it waits in the inbox, and it is stored once the database is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.app import create_app
from server.db.migrate import migrate
from tests.fixtures.services import MosquittoBroker
from tests.fixtures.tcp_proxy import TcpProxy
from tests.server.helpers import count_rows, make_settings, running_app, wait_until
from tests.server.loggers.test_station_files import PASSWORD, STREAMS, files_under, station_file, upload


async def test_a_file_waits_in_the_inbox_while_the_database_is_down(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, password=PASSWORD), encoding="utf-8")
    root = tmp_path / "stations"
    await migrate(pg_database)
    proxy = TcpProxy.for_url(pg_database)
    proxy.start()
    settings = make_settings(
        proxy.url_through(pg_database),
        mqtt_broker.url,
        config,
        migrate_on_start=False,
        station_files_dir=root,
        ftp_port=0,
        station_file_poll_s=0.2,
    )
    app = create_app(settings)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=15)
    try:
        async with running_app(settings, app) as client:
            port = app.state.ioc.station_files.ftp.port
            proxy.stop()
            upload(port, "during.txt", station_file(at, [("Cl", "120", "mg/L", "00"), ("pH", "7", "pH", "00")]))

            async def degraded() -> bool:
                response = await client.get("/health")
                return response.status_code == 503 and response.json()["database"] == "down"

            await wait_until(degraded, timeout=20, what="/health to report the database down")
            await asyncio.sleep(1.0)
            assert files_under(root / "ftp" / "st-longphu") == ["during.txt"]  # not processed, not rejected
            assert files_under(root / "processed") == [] and files_under(root / "rejected") == []
            assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 0

            proxy.start()

            async def processed() -> bool:
                return files_under(root / "processed" / "st-longphu") == ["during.txt"]

            await wait_until(processed, timeout=30, what="the file processed once the database is back")
            assert await count_rows(pg_database, "SELECT count(*) FROM readings") == 2
            assert (await client.get("/health")).status_code == 200
    finally:
        proxy.stop()
