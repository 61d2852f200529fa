"""Whether a file camera plays in phase with the wall clock (contract.medialoop), so that the edge's
detections of a moment belong to the picture the viewer sees at that moment."""

from __future__ import annotations

import functools
import os

import av

from contract.config import FileSource
from contract.medialoop import loop_timing


def plays_in_phase(source: FileSource) -> bool:
    """Blocking (run it in a thread): a looping, realtime file whose duration is known. A file that
    cannot be opened, has no video or no known duration (raw .264) is not. The file is probed once
    per version (path, size, modification time), not at each overlay connection."""
    if not (source.loop and source.realtime):
        return False
    try:
        stat = os.stat(source.path)
    except OSError:
        return False
    return _has_loop_timing(source.path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _has_loop_timing(path: str, _size: int, _mtime_ns: int) -> bool:
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return False
            return loop_timing(container, container.streams.video[0]) is not None
    except (av.FFmpegError, OSError):
        return False
