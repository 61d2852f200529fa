"""Event clips waiting on disk for the server, uploaded in order by one thread.

The outbox is a directory of `<seq>.mp4` + `<seq>.json` pairs (the sequence number keeps the
order across restarts). It is bounded: above `max_clips` clips or `max_bytes` the oldest waiting
clips are dropped and counted. While the server or the link is down, the uploader backs off (capped, jittered) and logs
the outage once and the recovery once (a refused API key, 401/403, waits the same way). A clip the
server refuses for good (another 4xx: damaged, too large) is dropped, counted and logged.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from contract.backoff import Backoff
from edge.record.stats import RecordStats

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/api/evidence/clips"
META_HEADER = "X-IOC-Clip"  # the ClipMeta as JSON (ASCII); the body is the MP4 itself
_RETRYABLE = {401, 403, 408, 429}  # a missing or wrong API key can be fixed: keep the clips


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass(frozen=True)
class ClipMeta:
    """What the server is told about a clip (the `X-IOC-Clip` header of the upload)."""

    clip_id: str
    camera_id: str
    worker_id: str
    event_ids: list[str]
    start: str  # ISO 8601 UTC of the first frame
    end: str
    sha256: str
    bytes: int
    duration_s: float
    kind: str = "event"  # "event" or "range" (asked for by an operator)
    request_id: str | None = None


class ClipOutbox:
    def __init__(
        self,
        directory: Path,
        max_clips: int,
        server_url: str | None,
        api_key: str | None,
        stats: RecordStats,
        max_bytes: int = 1 << 62,
    ) -> None:
        self.directory = directory
        self._max = max_clips
        self._max_bytes = max_bytes
        self._url = server_url.rstrip("/") + UPLOAD_PATH if server_url else None
        self._headers = {"X-API-Key": api_key} if api_key else {}
        self._stats = stats
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clip-upload", daemon=True)
        self._backoff = Backoff(0.5, 30.0)
        self._down_since: str | None = None
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.part"):
            leftover.unlink(missing_ok=True)
        self._seq = max((int(p.stem) for p in directory.glob("*.json")), default=0)

    def new_path(self) -> Path:
        """Where to cut the next clip (a `.part` name until `put`)."""
        with self._lock:
            self._seq += 1
            return self.directory / f"{self._seq:012d}.mp4"

    def put(self, clip: Path, meta: ClipMeta) -> None:
        clip.with_suffix(".json").write_text(json.dumps(asdict(meta)), encoding="utf-8")
        self._trim()
        self._wake.set()

    @property
    def waiting(self) -> int:
        return len(self._waiting())

    def _waiting(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def _trim(self) -> None:
        waiting = self._waiting()
        sizes = [_size(meta.with_suffix(".mp4")) for meta in waiting]
        total, index = sum(sizes), 0
        while index < len(waiting) - 1 and (len(waiting) - index > self._max or total > self._max_bytes):
            self._remove(waiting[index])
            total -= sizes[index]
            self._stats.clips_dropped += 1
            logger.warning(
                "clip outbox full (%d clips, %d MiB at most): dropped the oldest waiting clip %s",
                self._max,
                self._max_bytes >> 20,
                waiting[index].stem,
            )
            index += 1

    def _remove(self, meta: Path) -> None:
        meta.with_suffix(".mp4").unlink(missing_ok=True)
        meta.unlink(missing_ok=True)

    def start(self) -> None:
        if self._url is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), headers=self._headers) as client:
            while not self._stop.is_set():
                waiting = self._waiting()
                if not waiting:
                    self._wake.wait(5.0)
                    self._wake.clear()
                    continue
                if self._upload(client, waiting[0]):
                    self._backoff.reset()
                else:
                    self._stop.wait(self._backoff.next_delay())

    def _upload(self, client: httpx.Client, meta_path: Path) -> bool:
        """True when the clip left the outbox (sent, or refused for good)."""
        assert self._url is not None
        meta = meta_path.read_text(encoding="utf-8")
        try:
            with meta_path.with_suffix(".mp4").open("rb") as clip:
                headers = {META_HEADER: meta, "Content-Type": "video/mp4"}
                response = client.post(self._url, content=clip.read(), headers=headers)
        except FileNotFoundError:
            self._remove(meta_path)
            return True
        except httpx.HTTPError as exc:
            self._failed(type(exc).__name__)
            return False
        if response.status_code < 300 or response.status_code == 409:
            self._remove(meta_path)
            self._stats.clips_uploaded += 1
            self._recovered()
            return True
        if response.status_code >= 500 or response.status_code in _RETRYABLE:
            self._failed(f"HTTP {response.status_code}")
            return False
        logger.error("clip %s refused by the server (HTTP %d): dropped", meta_path.stem, response.status_code)
        self._remove(meta_path)
        self._stats.clips_dropped += 1
        return True

    def _failed(self, reason: str) -> None:
        if self._down_since is None:
            self._down_since = reason
            logger.warning("clip upload failed (%s): clips wait on disk and go when the server is back", reason)

    def _recovered(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            logger.info("clip upload works again (%d clip(s) waiting)", self.waiting)
