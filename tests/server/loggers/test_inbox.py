"""The inbox's rules on disk: what is ready, what is stale, and that no move overwrites a file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from server.loggers.inbox import StationInbox, UploadTracker


def inbox_at(root: Path, settle_s: float = 5.0, stale_after_s: float = 60.0) -> StationInbox:
    inbox = StationInbox(root, UploadTracker(), settle_s, stale_after_s)
    inbox.ensure_station("st-1")
    return inbox


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_dropped_file_is_ready_once_settled_and_an_upload_once_complete(tmp_path: Path) -> None:
    inbox = inbox_at(tmp_path)
    fresh, settled = tmp_path / "drop/st-1/fresh.txt", tmp_path / "drop/st-1/settled.txt"
    uploading, uploaded = tmp_path / "ftp/st-1/uploading.txt", tmp_path / "ftp/st-1/sub/uploaded.txt"
    uploaded.parent.mkdir()
    for path in (fresh, settled, uploading, uploaded):
        path.write_bytes(b"Cl|1|mg/L|20260301070000|00\n")
    age(settled, 10)
    inbox.uploads.begin(str(uploading))
    inbox.uploads.begin(str(uploaded))
    inbox.uploads.end(str(uploaded), complete=True)
    ready, stale = inbox.ready(limit=10)
    assert sorted(a.name for a in ready) == ["settled.txt", "uploaded.txt"] and stale == []
    assert {a.source for a in ready} == {"drop", "ftp"} and {a.station_id for a in ready} == {"st-1"}


def test_other_files_are_rejected_when_stale_and_names_never_collide(tmp_path: Path) -> None:
    inbox = inbox_at(tmp_path)
    temp, old = tmp_path / "ftp/st-1/data.txt.part", tmp_path / "ftp/st-1/notes.doc"
    temp.write_bytes(b"half")
    old.write_bytes(b"?")
    age(old, 120)
    ready, stale = inbox.ready(limit=10)
    assert ready == [] and [a.name for a in stale] == ["notes.doc"]
    first = inbox.rejected(stale[0], "not a station file")
    old.write_bytes(b"again")
    second = inbox.rejected(stale[0], "not a station file")
    assert (first.name, second.name) == ("notes.doc", "notes.doc.1")
    assert first.read_bytes() == b"?" and second.read_bytes() == b"again"
    assert "not a station file" in (first.parent / "notes.doc.reason.txt").read_text("utf-8")
