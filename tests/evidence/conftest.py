"""Evidence test helpers: the edge worker fixtures, and reading recorded MP4 files back with PyAV."""

from __future__ import annotations

from pathlib import Path

import av

from tests.edge.conftest import model_path, recorder, run_worker  # noqa: F401 - fixtures shared with edge tests


def decoded_frames(path: Path) -> int:
    """Decode every frame of an MP4 file (raises on a broken file)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def keyframe_first(path: Path) -> bool:
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        return bool(first.is_keyframe)
