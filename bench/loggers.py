"""Station-file benchmark: TT 10/2021 files of 10 parameters each, uploaded over FTP by 4
clients into a running `ioc server`, timed until every reading is committed.

    python bench/loggers.py [--quick] [--files N] [--database-url ADMIN_URL]

RESULT ftp_files_per_s   files uploaded and committed per second (goal >= 200)
(The issue names bench/ingest.py; the messaging engineer owns that file, so the figure lives here.)
"""

from __future__ import annotations

import argparse
import ftplib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import mosquitto, wait_health, wait_port  # noqa: E402
from bench.query import DEFAULT_ADMIN, temp_database  # noqa: E402
from ioc.netutil import free_port  # noqa: E402

CLIENTS = 4
PARAMETERS = ["Cl", "pH", "DO", "TSS", "COD", "NH4+", "Nhiệt độ", "Độ mặn", "Mực nước", "PM2,5"]
PASSWORD = "bench-password"
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def write_streams(path: Path) -> None:
    stations, sensors = [], []
    for c in range(CLIENTS):
        stations.append(f"  - {{id: st{c}, name: St {c}, site: a, ftp: {{username: st{c}, password: {PASSWORD}}}}}\n")
        for p, name in enumerate(PARAMETERS):
            sensor = f'id: st{c}-p{p}, name: P{p}, kind: other, unit: x, site: a, station: st{c}, parameter: "{name}"'
            sensors.append(f"  - {{{sensor}}}\n")
    path.write_text(
        "version: 1\nmqtt: {topic_prefix: benchlog}\nsites: [{id: a, name: A}]\n"
        f"stations:\n{''.join(stations)}sensors:\n{''.join(sensors)}",
        encoding="utf-8",
    )


def station_file(at: datetime, index: int) -> bytes:
    stamp = at.astimezone(VN).strftime("%Y%m%d%H%M%S")
    return "".join(f"{name}|{index % 100 + p * 0.1:.2f}|x|{stamp}|00\r\n" for p, name in enumerate(PARAMETERS)).encode()


@contextmanager
def server(database_url: str, mqtt_port: int, streams: Path, workdir: Path) -> Iterator[int]:
    http_port, ftp_port = free_port(), free_port()
    env = {**os.environ, "IOC_DATABASE_URL": database_url, "IOC_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
           "IOC_CONFIG": str(streams), "IOC_PORT": str(http_port), "IOC_STATION_FILES_DIR": str(workdir / "stations"),
           "IOC_FTP_PORT": str(ftp_port), "IOC_STATION_FILE_POLL_S": "0.5"}  # fmt: skip
    log = (workdir / "server.log").open("w")
    command = [sys.executable, "-m", "ioc.cli", "server", "--log-level", "WARNING"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_health(http_port)
        wait_port(ftp_port)
        yield ftp_port
    finally:
        process.terminate()
        process.wait(20)


def upload_all(port: int, client: int, count: int, base: datetime, errors: list[str]) -> None:
    try:
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", port, timeout=30)
            ftp.login(f"st{client}", PASSWORD)
            for i in range(count):
                at = base + timedelta(minutes=5 * i)
                ftp.storbinary(f"STOR ST{client}_{i:06d}.txt", io.BytesIO(station_file(at, i)))
    except (OSError, ftplib.Error) as exc:
        errors.append(f"client {client}: {exc}")


def count_readings(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0


def run(database_url: str, files: int, workdir: Path) -> float:
    streams = workdir / "streams.yaml"
    write_streams(streams)
    per_client = files // CLIENTS
    expected = per_client * CLIENTS * len(PARAMETERS)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5 * per_client + 60)
    with mosquitto(workdir) as mqtt_port, server(database_url, mqtt_port, streams, workdir) as ftp_port:
        errors: list[str] = []
        threads = [
            threading.Thread(target=upload_all, args=(ftp_port, c, per_client, base, errors)) for c in range(CLIENTS)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        uploaded = time.perf_counter() - began
        deadline = time.monotonic() + 300
        while (stored := count_readings(database_url)) < expected:
            if time.monotonic() > deadline or errors:
                raise RuntimeError(f"{stored} of {expected} readings committed; errors: {errors}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
    processed = sum(1 for path in (workdir / "stations" / "processed").rglob("*.txt"))
    if processed != per_client * CLIENTS or stored != expected:
        raise RuntimeError(f"processed {processed} files, stored {stored} readings: expected {files} and {expected}")
    print(f"uploaded {files} files in {uploaded:.1f}s, all {expected} readings committed after {elapsed:.1f}s")
    return per_client * CLIENTS / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--files", type=int, default=None, help="files to upload (default 8000, quick 2000)")
    parser.add_argument("--database-url", default=DEFAULT_ADMIN, help="admin URL; a scratch database is created")
    args = parser.parse_args()
    files = args.files or (2000 if args.quick else 8000)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-loggers-") as tmp, temp_database(args.database_url) as url:
        rate = run(url, files, Path(tmp))
    print(f"RESULT ftp_files_per_s {rate:.0f} files/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
