"""The station-file directories, and the moves that keep every file somewhere:

    <root>/ftp/<station>/...        FTP homes (uploads land here, any sub-folder)
    <root>/drop/<station>/...       the watched drop directory (rsync, SMB, a USB stick)
    <root>/processed/<station>/<arrival date>/<name>   after its readings are committed
    <root>/rejected/<station>/<name> + <name>.reason.txt   with the reason, otherwise

A file is taken once it is complete: an FTP upload when the server reports the transfer done,
a dropped file once it has not changed for `settle_s`. Only `.txt` files are station files;
anything else left untouched for `stale_after_s` is rejected, so nothing lingers unseen.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from contract.timeutil import utc_now

STATION_FILE_SUFFIX = ".txt"
SOURCES = ("ftp", "drop")


@dataclass(frozen=True, slots=True)
class Arrival:
    station_id: str
    path: Path
    source: str  # "ftp" or "drop"

    @property
    def name(self) -> str:
        return self.path.name


class UploadTracker:
    """Paths the FTP server is writing right now, and uploads it reported complete (thread-safe:
    pyftpdlib runs in its own thread). Bounded by the number of files waiting in the inbox."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writing: set[str] = set()
        self._complete: set[str] = set()

    def begin(self, path: str) -> None:
        with self._lock:
            self._writing.add(os.path.realpath(path))

    def end(self, path: str, complete: bool) -> None:
        key = os.path.realpath(path)
        with self._lock:
            self._writing.discard(key)
            if complete:
                self._complete.add(key)

    def busy(self, path: Path) -> bool:
        with self._lock:
            return os.path.realpath(path) in self._writing

    def complete(self, path: Path) -> bool:
        with self._lock:
            return os.path.realpath(path) in self._complete

    def forget(self, path: Path) -> None:
        with self._lock:
            self._complete.discard(os.path.realpath(path))


class StationInbox:
    def __init__(self, root: Path, uploads: UploadTracker, settle_s: float, stale_after_s: float) -> None:
        self.root = root
        self.uploads = uploads
        self._settle_s = settle_s
        self._stale_after_s = stale_after_s
        for part in (*SOURCES, "processed", "rejected"):
            (root / part).mkdir(parents=True, exist_ok=True)

    def home(self, station_id: str) -> Path:
        """The FTP home of a station (created on demand)."""
        path = self.root / "ftp" / station_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def ensure_station(self, station_id: str) -> None:
        self.home(station_id)
        (self.root / "drop" / station_id).mkdir(parents=True, exist_ok=True)

    def ready(self, limit: int) -> tuple[list[Arrival], list[Arrival]]:
        """(station files complete and ready, stale non-station files), at most `limit` of each."""
        now = time.time()
        files: list[Arrival] = []
        stale: list[Arrival] = []
        for source in SOURCES:
            base = self.root / source
            for station_dir in _subdirs(base):
                for path in _files(station_dir):
                    age = now - _mtime(path)
                    if self.uploads.busy(path) and age < self._stale_after_s:  # a wedged upload is taken
                        continue
                    arrival = Arrival(station_dir.name, path, source)
                    if path.suffix.lower() != STATION_FILE_SUFFIX or path.name.startswith("."):
                        if age > self._stale_after_s and len(stale) < limit:
                            stale.append(arrival)
                    elif (age >= self._settle_s or self.uploads.complete(path)) and len(files) < limit:
                        files.append(arrival)
        return files, stale

    def processed(self, arrival: Arrival, data: bytes) -> Path | None:
        """Move a committed file to processed/ (None: the same file was already there; the copy is
        removed)."""
        folder = self.root / "processed" / arrival.station_id / utc_now().strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / arrival.name
        if target.exists() and _digest(target) == hashlib.sha256(data).hexdigest():
            arrival.path.unlink(missing_ok=True)
            self.uploads.forget(arrival.path)
            return None
        target = _free_name(target)
        os.replace(arrival.path, target)
        self.uploads.forget(arrival.path)
        return target

    def rejected(self, arrival: Arrival, reason: str) -> Path:
        folder = self.root / "rejected" / arrival.station_id
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_name(folder / arrival.name)
        os.replace(arrival.path, target)
        self.uploads.forget(arrival.path)
        target.with_name(target.name + ".reason.txt").write_text(f"{utc_now().isoformat()} {reason}\n", "utf-8")
        return target


def _subdirs(base: Path) -> list[Path]:
    try:
        return sorted(entry for entry in base.iterdir() if entry.is_dir())
    except FileNotFoundError:
        return []


def _files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for current, _dirs, names in os.walk(folder):
        found.extend(Path(current) / name for name in sorted(names))
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_name(target: Path) -> Path:
    """`name`, else `name.1`, `name.2`, ...: a second file of the same name never overwrites the first."""
    if not target.exists():
        return target
    counter = 1
    while (candidate := target.with_name(f"{target.name}.{counter}")).exists():
        counter += 1
    return candidate
