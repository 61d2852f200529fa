"""The worker's recorder: a segment writer per recording camera (fed by the camera's packet tap),
event clips planned from detection events and cut once their segments are written, operator
requests for a recorded range, and one maintenance thread for cutting and retention.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from contract.config import Camera, EdgeWorker
from contract.config.record import RecordSettings
from contract.payloads import DetectionEventPayload, RecordingStats
from edge.record.clips import ClipPlanner, PlannedClip, cut_clip
from edge.record.index import SegmentIndex, epoch, utc
from edge.record.retention import Retention
from edge.record.segments import SegmentWriter
from edge.record.stats import RecordStats
from edge.record.uploader import ClipMeta, ClipOutbox
from edge.settings import EdgeSettings
from edge.source.packets import PacketTap

logger = logging.getLogger(__name__)

MAINTAIN_INTERVAL_S = 0.5
RETENTION_INTERVAL_S = 10.0
LATE_CUT_S = 5.0  # cut with what is recorded when the segment covering a clip's end is this late


class Recorder:
    """A `PacketTapUser` (register with `EdgeWorker.add_packet_tap_user`) and an event listener."""

    def __init__(
        self,
        directory: Path,
        cap_bytes: int,
        worker_id: str,
        max_clips: int,
        server_url: str | None,
        api_key: str | None,
    ) -> None:
        self.directory = directory
        self.worker_id = worker_id
        self.stats = RecordStats()
        self.index = SegmentIndex(directory / "index.sqlite3")
        # waiting clips take at most a quarter of the recording cap (segments have their own)
        outbox = directory / "outbox"
        self.outbox = ClipOutbox(outbox, max_clips, server_url, api_key, self.stats, max_bytes=cap_bytes // 4)
        self._retention = Retention(directory, self.index, cap_bytes, self.stats)
        self._lock = threading.Lock()
        self._writers: dict[str, tuple[SegmentWriter, PacketTap]] = {}
        self._settings: dict[str, RecordSettings] = {}
        self._planners: dict[str, ClipPlanner] = {}
        self._requests: list[tuple[PlannedClip, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="record-maintain", daemon=True)

    def start(self) -> None:
        self.outbox.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for camera_id in list(self._writers):
            self.camera_stopped(camera_id)
        self.outbox.stop()
        self.index.close()

    # PacketTapUser
    def camera_started(self, camera: Camera, tap: PacketTap) -> None:
        with self._lock:
            self._settings[camera.id] = camera.record
            if camera.record.mode == "off":
                return
            writer = SegmentWriter(camera.id, camera.record, self.directory, self.index, self.stats)
            self._writers[camera.id] = (writer, tap)
            self._planners[camera.id] = ClipPlanner(camera.id, camera.record)
        writer.start()
        tap.add(writer)
        logger.info("camera %s: recording (%s)", camera.id, camera.record.mode)

    def camera_stopped(self, camera_id: str) -> None:
        with self._lock:
            found = self._writers.pop(camera_id, None)
        if found is not None:
            writer, tap = found
            tap.remove(writer)
            writer.stop()

    def recording(self, camera_id: str) -> bool:
        return camera_id in self._writers

    # events
    def on_event(self, event: DetectionEventPayload) -> None:
        """An event listener (`EdgeWorker.add_event_listener`): plan its clip. Never blocks."""
        with self._lock:
            planner = self._planners.get(event.camera_id)
            found = self._writers.get(event.camera_id)
            if planner is None or found is None:
                return
            end_s = epoch(event.ts)
            start_s = end_s - (event.dwell_s or 0.0)
            clip = planner.add(event.id, start_s, end_s)
        found[0].split_after(clip.end_s)

    def request_range(self, camera_id: str, start_s: float, end_s: float, request_id: str) -> bool:
        """An operator asked for [start_s, end_s] of a camera: cut and upload it once recorded."""
        with self._lock:
            if camera_id not in self._settings:
                return False
            self._requests.append((PlannedClip(camera_id, start_s, end_s), request_id))
        return True

    # maintenance
    def _run(self) -> None:
        next_retention = 0.0
        while not self._stop.wait(MAINTAIN_INTERVAL_S):
            try:
                self._cut_due()
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + RETENTION_INTERVAL_S
                    self.apply_retention()
                elif self.stats.write_errors:
                    self._retention.enforce_cap()
            except Exception:
                logger.exception("recorder maintenance failed; retrying")

    def apply_retention(self) -> None:
        with self._lock:
            settings = dict(self._settings)
        self._retention.apply(settings, time.time())

    def _cut_due(self) -> None:
        now = time.time()
        with self._lock:
            due = [(clip, None) for planner in self._planners.values() for clip in planner.due(now)]
            requests, self._requests = self._requests, []
        pending: list[tuple[PlannedClip, str | None]] = [*due, *requests]
        for clip, request_id in pending:
            if not self._recorded_up_to(clip) and now < clip.end_s + LATE_CUT_S:
                with self._lock:
                    self._requeue(clip, request_id)
                continue
            self._cut(clip, request_id)

    def _requeue(self, clip: PlannedClip, request_id: str | None) -> None:
        if request_id is not None:
            self._requests.append((clip, request_id))
        else:
            self._planners[clip.camera_id].defer(clip)

    def _recorded_up_to(self, clip: PlannedClip) -> bool:
        later = self.index.overlapping(clip.camera_id, clip.end_s, float("inf"))
        return any(segment.end_s >= clip.end_s for segment in later)

    def _cut(self, clip: PlannedClip, request_id: str | None) -> None:
        segments = self.index.overlapping(clip.camera_id, clip.start_s, clip.end_s)  # segments start on keyframes
        out = self.outbox.new_path()
        try:
            cut = cut_clip(self.directory, segments, clip.start_s, clip.end_s, out)
        except OSError as exc:
            self.stats.write_errors += 1
            logger.error("camera %s: cannot cut a clip (%s)", clip.camera_id, exc)
            out.with_suffix(".part").unlink(missing_ok=True)
            return
        if cut is None:
            logger.warning("camera %s: nothing recorded for a clip %s", clip.camera_id, utc(clip.start_s).isoformat())
            return
        self.index.mark_event(clip.camera_id, clip.start_s, clip.end_s)
        meta = ClipMeta(
            clip_id=uuid.uuid4().hex,
            camera_id=clip.camera_id,
            worker_id=self.worker_id,
            event_ids=clip.event_ids,
            start=utc(cut.start_s).isoformat(),
            end=utc(cut.end_s).isoformat(),
            sha256=cut.sha256,
            bytes=cut.bytes,
            duration_s=round(cut.end_s - cut.start_s, 3),
            kind="range" if request_id is not None else "event",
            request_id=request_id,
        )
        self.outbox.put(out, meta)
        self.stats.clips_cut += 1

    def report(self) -> RecordingStats:
        queue_dropped = sum(writer.queue.dropped for writer, _ in list(self._writers.values()))
        counters = asdict(self.stats)
        return RecordingStats(
            **counters,
            clips_waiting=self.outbox.waiting,
            queue_dropped=queue_dropped,
            disk_bytes=self.index.total_bytes(),
        )


def recorder_for(settings: EdgeSettings, worker: EdgeWorker) -> Recorder | None:
    """The worker's recorder, or None when no record_dir is configured."""
    directory = settings.record_path(worker)
    if directory is None:
        return None
    key = settings.server_api_key.get_secret_value() if settings.server_api_key else None
    cap = settings.record_cap_bytes(worker)
    return Recorder(directory, cap, settings.worker_id, worker.clip_queue_max, settings.server_url, key)
