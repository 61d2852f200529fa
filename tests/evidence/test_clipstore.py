"""The directory clip store: keys map to files under its root, nothing outside it is reachable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.evidence.clipstore import ClipStoreError, DirectoryClipStore, clip_key


def test_put_open_size_delete_and_keys_that_leave_the_root_are_refused(tmp_path: Path) -> None:
    store = DirectoryClipStore(tmp_path / "clips")
    source = tmp_path / "upload.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 1000)
    key = clip_key("pier", datetime(2026, 3, 1, 7, 5, tzinfo=UTC), "0123456789abcdef")
    assert key == "pier/2026-03-01/0123456789abcdef.mp4"
    store.put(key, source)
    assert not source.exists() and store.size(key) == 1012
    with store.open(key) as clip:
        clip.seek(4)
        assert clip.read(8) == b"ftypmp42"
    assert not list((tmp_path / "clips").rglob("*.part"))
    for bad in ("../outside.mp4", "pier/../../etc/passwd", "/etc/passwd", "pier\\x.mp4", ""):
        with pytest.raises(ClipStoreError, match="not a clip key"):
            store.open(bad)
    store.delete(key)
    with pytest.raises(ClipStoreError, match="no longer kept"):
        store.size(key)
    store.delete(key)  # deleting twice is harmless
