"""A clip whose frames say their index: a bright square at x = STRIDE * index (3 s at 10 fps, an
H.264 MP4 with a keyframe every 10 frames, so that opening it mid-file seeks and discards)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

FPS = 10
FRAMES = 30  # D = 3 s
PERIOD = FRAMES / FPS
STRIDE = 5  # the square of frame i is at x = STRIDE * i


def write_indexed_clip(path: Path) -> Path:
    """A 3 s H.264 MP4, a keyframe every 10 frames (so that opening mid-file seeks and discards)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"g": "10", "keyint_min": "10", "sc_threshold": "0"})
        stream.width, stream.height, stream.pix_fmt = 160, 48, "yuv420p"
        for index in range(FRAMES):
            picture = np.zeros((48, 160, 3), np.uint8)
            picture[16:32, STRIDE * index : STRIDE * index + 4] = 255
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def frame_index(frame: av.VideoFrame) -> int:
    """The index drawn in the picture: where its bright square is."""
    columns = np.flatnonzero(frame.to_ndarray(format="gray")[24] > 128)
    assert columns.size, "no square in the picture"
    return round((float(columns.mean()) - 1.5) / STRIDE)
