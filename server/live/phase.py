"""Whether a file camera plays in phase with the wall clock (contract.medialoop), so that the edge's
detections of a moment belong to the picture the viewer sees at that moment."""

from __future__ import annotations

import av

from contract.config import FileSource
from contract.medialoop import loop_timing


def plays_in_phase(source: FileSource) -> bool:
    """Blocking (run it in a thread): a looping, realtime file whose duration is known. A file that
    cannot be opened, has no video or no known duration (raw .264) is not."""
    if not (source.loop and source.realtime):
        return False
    try:
        with av.open(source.path) as container:
            if not container.streams.video:
                return False
            return loop_timing(container, container.streams.video[0]) is not None
    except (av.FFmpegError, OSError):
        return False
