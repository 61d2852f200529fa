"""TT 10/2021 station files uploaded with ftplib into the running server: parameters map to
sensors, status codes become quality flags, and every file ends in processed/ or rejected/."""

from __future__ import annotations

import ftplib
import io
import socket
import struct
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from server.app import create_app
from tests.fixtures.services import MosquittoBroker
from tests.server.helpers import count_rows, make_settings, running_app, wait_until

PASSWORD = "station-pass-123"

STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Long Phu}}]
stations:
  - id: st-longphu
    name: Trạm Long Phú
    site: long-phu
    ftp: {{username: longphu, password: "{password}"}}
  - id: st-comma
    name: Trạm dấu phẩy
    site: long-phu
    decimal_comma: true
sensors:
  - {{id: cl, name: Clorua, kind: other, unit: mg/L, site: long-phu, station: st-longphu, parameter: Cl}}
  - {{id: ph, name: pH, kind: ph, unit: pH, site: long-phu, station: st-longphu, parameter: pH}}
  - {{id: pm25-st, name: PM2.5, kind: pm25, unit: "µg/m³", site: long-phu, station: st-longphu, parameter: "PM2,5"}}
  - {{id: level-st, name: Mực nước, kind: water_level, unit: m, site: long-phu, station: st-longphu,
      parameter: "Mực nước", range: {{min: -5, max: 5}}}}
  - {{id: sal-comma, name: Độ mặn, kind: salinity, unit: "‰", site: long-phu, station: st-comma, parameter: "Độ mặn"}}
rules:
  - id: chloride-high
    type: threshold
    sensors: [cl]
    raise: {{above: 250}}
    clear: {{below: 200}}
"""

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def stamp(at: datetime) -> str:
    return at.astimezone(VN).strftime("%Y%m%d%H%M%S")


def station_file(at: datetime, lines: list[tuple[str, str, str, str]]) -> bytes:
    return "".join(f"{name}|{value}|{unit}|{stamp(at)}|{status}\r\n" for name, value, unit, status in lines).encode()


def upload(port: int, name: str, data: bytes, folder: str | None = None) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("longphu", PASSWORD)
        if folder:
            ftp.mkd(folder)
            ftp.cwd(folder)
        ftp.storbinary(f"STOR {name}", io.BytesIO(data))


def aborted_upload(port: int, name: str, data: bytes) -> None:
    """Start an upload, send half of it, then abort it (ABOR)."""
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("longphu", PASSWORD)
        data_sock = ftp.transfercmd(f"STOR {name}")
        data_sock.sendall(data[: len(data) // 2])
        ftp.abort()
        data_sock.close()


def truncated_upload(port: int, name: str, data: bytes) -> None:
    """An upload that ends early but cleanly (the logger's copy was cut): FTP stream mode cannot
    tell it from a whole file, so the file's content must."""
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("longphu", PASSWORD)
        data_sock = ftp.transfercmd(f"STOR {name}")
        data_sock.sendall(data)
        data_sock.close()
        ftp.voidresp()


def lost_link_upload(port: int, name: str, data: bytes) -> None:
    """Send `data`, then lose the link (both connections reset, as when the 3G modem drops)."""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login("longphu", PASSWORD)
    data_sock = ftp.transfercmd(f"STOR {name}")
    data_sock.sendall(data)
    for sock in (data_sock, ftp.sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


class StationServer(NamedTuple):
    client: httpx.AsyncClient
    port: int
    root: Path
    database_url: str
    app: FastAPI


@pytest.fixture
async def station_server(
    pg_database: str, mqtt_broker: MosquittoBroker, topic_prefix: str, tmp_path: Path
) -> AsyncIterator[StationServer]:
    config = tmp_path / "streams.yaml"
    config.write_text(STREAMS.format(prefix=topic_prefix, password=PASSWORD), encoding="utf-8")
    root = tmp_path / "stations"
    settings = make_settings(
        pg_database,
        mqtt_broker.url,
        config,
        station_files_dir=root,
        ftp_port=0,
        station_file_settle_s=0.3,
        station_file_poll_s=0.2,
    )
    app = create_app(settings)
    async with running_app(settings, app) as client:
        port = app.state.ioc.station_files.ftp.port
        yield StationServer(client, port, root, pg_database, app)


async def readings(database_url: str) -> list[tuple[str, float, str, datetime]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT sensor_id, value, quality, time FROM readings ORDER BY sensor_id, time")
        return [(row[0], row[1], row[2], row[3]) for row in await cursor.fetchall()]


async def test_station_file_over_ftp_maps_parameters_flags_status_and_never_alerts_on_calibration(
    station_server: StationServer,
) -> None:
    client, port, root, database_url, _app = station_server
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    level_nfd = unicodedata.normalize("NFD", "Mực nước")  # some loggers write decomposed Vietnamese
    first = station_file(
        at,
        [
            ("Cl", "312.5", "mg/L", "01"),  # calibrating, above the alert level
            ("pH", "7.1", "pH", "02"),  # instrument error
            ("PM2,5", "41.0", "µg/m³", "00"),
            (level_nfd, "1.25", "m", "00"),
            ("NH4+", "0.3", "mg/L", "00"),  # maps to no sensor
            ("Cl", "300", "mg/L", "07"),  # not a TT-10 status
        ],
    )
    name = f"HCM_LONGPHU_NUOC_{stamp(at)}.txt"
    upload(port, name, first, folder="2026")

    async def processed() -> bool:
        return files_under(root / "processed" / "st-longphu") == [name]

    await wait_until(processed, timeout=15, what="the file in processed/")
    assert files_under(root / "ftp" / "st-longphu") == []
    stored = await readings(database_url)
    assert [(s, v, q) for s, v, q, _ in stored] == [
        ("cl", 312.5, "calibrating"),
        ("level-st", 1.25, "normal"),
        ("ph", 7.1, "error"),
        ("pm25-st", 41.0, "normal"),
    ]
    assert stored[0][3] == at  # the file's local time (UTC+7) read as such
    letters = (await client.get("/api/dead-letters")).json()["items"]
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"unmapped_parameter", "bad_quality"}
    unmapped = by_reason["unmapped_parameter"]
    assert unmapped["topic"] == f"stationfiles/st-longphu/{name}"
    assert f"{name} line 5" in unmapped["detail"] and "NH4+" in unmapped["detail"]
    assert f"{name} line 6" in by_reason["bad_quality"]["detail"]

    # API and console data: the flag comes back with the reading
    points = (await client.get("/api/sensors/cl/readings", params={"bucket": "raw"})).json()["points"]
    assert [(p["value"], p["quality"]) for p in points] == [(312.5, "calibrating")]
    sensors = {s["id"]: s for s in (await client.get("/api/sensors")).json()}
    assert sensors["ph"]["last"]["quality"] == "error" and sensors["ph"]["station"] == "st-longphu"

    # the same file uploaded twice, and late: stored once, the copy recognised
    upload(port, name, first)

    async def taken() -> bool:
        return files_under(root / "ftp" / "st-longphu") == []

    await wait_until(taken, timeout=15, what="the second upload taken")
    assert len(await readings(database_url)) == 4
    assert files_under(root / "processed" / "st-longphu") == [name]

    # a calibrating reading above the level raised nothing; a normal one does (the rule works)
    assert (await client.get("/api/alerts")).json() == []
    later = at + timedelta(minutes=5)
    upload(port, f"HCM_LONGPHU_NUOC_{stamp(later)}.txt", station_file(later, [("Cl", "312.5", "mg/L", "00")]))

    async def firing() -> bool:
        return len((await client.get("/api/alerts")).json()) == 1

    await wait_until(firing, timeout=15, what="the alert from a normal reading")


async def test_uploads_cut_in_the_middle_lose_nothing(station_server: StationServer) -> None:
    client, port, root, database_url, _app = station_server
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    lines = [("Cl", "120.5", "mg/L", "00"), ("pH", "7.0", "pH", "00"), ("PM2,5", "35.5", "µg/m³", "00")]
    data = station_file(at, lines)

    aborted_upload(port, "aborted.txt", data * 100)

    async def rejected() -> bool:
        return "aborted.txt.reason.txt" in files_under(root / "rejected" / "st-longphu")

    await wait_until(rejected, timeout=15, what="the aborted upload in rejected/")
    assert "cut in the middle" in (root / "rejected" / "st-longphu" / "aborted.txt.reason.txt").read_text("utf-8")
    assert await count_rows(database_url, "SELECT count(*) FROM readings") == 0

    cut_at = data.index(b"PM2,5") + 8  # the link drops inside line 3
    truncated_upload(port, "closed.txt", data[:cut_at])

    async def stored(count: int) -> bool:
        return await count_rows(database_url, "SELECT count(*) FROM readings") == count

    await wait_until(lambda: stored(2), timeout=15, what="the complete lines of the closed upload")
    letters = (await client.get("/api/dead-letters")).json()["items"]
    assert [(d["reason"], d["detail"].split(":")[0]) for d in letters] == [("bad_line", "closed.txt line 3")]

    upload(port, "closed.txt", data)  # the station sends the file again
    await wait_until(lambda: stored(3), timeout=15, what="the re-sent file completing the set")
    assert files_under(root / "processed" / "st-longphu") == ["closed.txt", "closed.txt.1"]

    # a reset: pyftpdlib reports it cut (-> rejected/) or, when the data was all read first,
    # complete (-> its lines as above); either way the re-sent file leaves each reading once
    later = at + timedelta(minutes=5)
    second = station_file(later, lines)
    lost_link_upload(port, "reset.txt", second[: second.index(b"PM2,5") + 8])

    async def handled() -> bool:
        return "reset.txt" in files_under(root / "rejected" / "st-longphu") + files_under(root / "processed")

    await wait_until(handled, timeout=15, what="the reset upload handled")
    upload(port, "reset.txt", second)
    await wait_until(lambda: stored(6), timeout=15, what="the re-sent file after a reset")
    assert files_under(root / "ftp" / "st-longphu") == []


async def test_drop_folder_decimal_commas_and_unknown_stations(
    station_server: StationServer,
) -> None:
    _client, port, root, database_url, _app = station_server
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    drop = root / "drop" / "st-comma"
    (drop / "f1.txt").write_bytes(station_file(at, [("Độ mặn", "3,2", "‰", "00"), ("Độ mặn", "3.2", "‰", "00")]))
    (root / "drop" / "nobody").mkdir()
    (root / "drop" / "nobody" / "x.txt").write_bytes(station_file(at, [("Cl", "1", "mg/L", "00")]))
    (drop / "empty.txt").write_bytes(b"\r\n")

    async def settled() -> bool:
        return files_under(root / "processed" / "st-comma") == ["f1.txt"] and "x.txt" in files_under(
            root / "rejected" / "nobody"
        )

    await wait_until(settled, timeout=15, what="the dropped files handled")
    assert [(s, v) for s, v, _q, _t in await readings(database_url)] == [("sal-comma", 3.2)]
    assert "empty.txt" in files_under(root / "rejected" / "st-comma")
    assert "not in streams.yaml" in (root / "rejected" / "nobody" / "x.txt.reason.txt").read_text("utf-8")
    with pytest.raises(ftplib.error_perm, match="530"), ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("longphu", "wrong-password")


async def test_health_tells_when_the_ftp_server_is_down(station_server: StationServer) -> None:
    health = await station_server.client.get("/health")
    assert health.status_code == 200 and health.json()["station_files"] == "up"
    station_server.app.state.ioc.station_files.ftp.stop()
    health = await station_server.client.get("/health")
    assert health.status_code == 503 and health.json()["station_files"] == "down"
