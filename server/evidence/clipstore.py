"""Where clip files live: a `ClipStore` protocol, a directory implementation (the default).

Keys are `<camera_id>/<YYYY-MM-DD>/<clip_id>.mp4` (made by `clip_key`); an S3-compatible store
(MinIO) would implement the same four methods.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

_SAFE = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")


class ClipStoreError(Exception):
    """The store refused or lost a clip."""


def clip_key(camera_id: str, start: datetime, clip_id: str) -> str:
    return f"{camera_id}/{start.date().isoformat()}/{clip_id}.mp4"


class ClipStore(Protocol):
    retries: int
    """temporary failures retried (a store that never retries keeps 0)"""

    def prepare(self) -> None:
        """At start: make the store ready (ClipStoreError says what is wrong)."""

    def put(self, key: str, source: Path) -> None:
        """Take `source` (moved or copied) under `key`."""

    def open(self, key: str) -> BinaryIO:
        """A seekable binary file of the clip (ClipStoreError if gone)."""

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...


class DirectoryClipStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.retries = 0
        root.mkdir(parents=True, exist_ok=True)

    def prepare(self) -> None:
        return None  # the directory is made by the constructor

    def _path(self, key: str) -> Path:
        if not _SAFE.match(key) or ".." in key.split("/"):
            raise ClipStoreError(f"not a clip key: {key!r}")
        return self.root / key

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(".part")
        shutil.move(str(source), temp)
        os.replace(temp, target)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ClipStoreError(f"clip {key} is no longer kept") from exc

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise ClipStoreError(f"clip {key} is no longer kept") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
