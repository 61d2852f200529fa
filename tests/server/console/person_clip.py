"""A clip with a real person in it, for the overlay against the REAL edge worker and its detector
(tests/server/console/test_overlay_edge.py, `bench/overlay_lag.py --edge real`).

The clip (640x360, 15 fps, 10 s, looped by the RTSP server) pastes the man on the left of
ultralytics' sample picture bus.jpg (its COCO box about (51, 390, 245, 906) in the 810x1080
picture), scaled to 230 px high, on a plain grey background: he stands still for 2 s, walks right at
105 px/s (7 px a frame) until he has left the frame, and the frame stays empty for the remaining
2.3 s. Along the bottom, the frame's index in the 8 black/white squares of overlay_clip.py, so the
browser's sampler (`install_sampler`) reads it from every displayed frame.

The detector's box is not the pasted picture's box: `detector_bias_px` measures its constant offset
along the motion (drawn centre minus true centre) over the displayed frames in which the man stands
still, where a late box costs nothing; the time error of a frame while he walks is then
|drawn centre - true centre - bias| / speed.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame

from ioc.demo.cameras import sample_pictures
from tests.server.console.overlay_clip import BIT_H, BIT_W, BIT_Y, BITS, FPS, HEIGHT, WIDTH, percentile

LOOP_FRAMES = 150
"""the clip's length in frames (10 s)"""
STILL_FRAMES = 30
"""frames 0..29: the man stands at LEFT0"""
LEFT0, STEP_PX = 40, 7
SPEED_PX_S = STEP_PX * FPS
PERSON_TOP, PERSON_H = 50, 230
CROP = (380, 915, 40, 225)
"""rows and columns of bus.jpg cut out: the man on the left, none of his neighbour"""
SETTLE_FRAMES = 15
"""after the man starts walking the tracker's velocity takes about 1 s to settle (3 to 5 detected
frames); these frames are left out of the time error (the start is a step, not a steady motion)"""
GONE_MARGIN_FRAMES = 8
"""once the man has left, the last detected frame that saw a sliver of him may still be drawn
for a detection interval or two (5 detections a second): frames this long after he left must be empty"""


def person_picture() -> np.ndarray[Any, Any]:
    """The man cut from bus.jpg, resized to PERSON_H rows (RGB)."""
    bus = next((p for p in sample_pictures() if p.name == "bus.jpg"), None)
    if bus is None:
        raise FileNotFoundError("ultralytics' sample picture bus.jpg was not found (pip install ultralytics)")
    with av.open(str(bus)) as source:
        image = next(source.decode(video=0)).to_ndarray(format="rgb24")
    top, bottom, left, right = CROP
    crop: npt.NDArray[np.uint8] = np.ascontiguousarray(image[top:bottom, left:right], dtype=np.uint8)
    width = int(crop.shape[1] * PERSON_H / crop.shape[0]) // 2 * 2
    frame = VideoFrame.from_ndarray(crop, format="rgb24").reformat(width=width, height=PERSON_H)
    picture: np.ndarray[Any, Any] = frame.to_ndarray(format="rgb24")
    return picture


PERSON_W = 78
"""the pasted picture's width: person_picture().shape[1] (checked when the clip is made)"""


def true_left(index: int) -> int:
    """The pasted picture's left edge (px) in frame `index` (past WIDTH once he has left)."""
    n = index % LOOP_FRAMES
    return LEFT0 if n < STILL_FRAMES else LEFT0 + STEP_PX * (n - STILL_FRAMES)


def true_centre(index: int) -> float:
    return true_left(index) + PERSON_W / 2


def is_still(index: int) -> bool:
    """He stands still, and has been seen long enough for a confirmed track (the loop starts anew at 0)."""
    return 10 <= index % LOOP_FRAMES < STILL_FRAMES


def is_walking(index: int) -> bool:
    """He walks at SPEED_PX_S, the tracker settled, wholly inside the frame."""
    n = index % LOOP_FRAMES
    return n >= STILL_FRAMES + SETTLE_FRAMES and true_left(index) + PERSON_W <= WIDTH - 4


def left_index() -> int:
    """The first frame without any of him."""
    return next(n for n in range(LOOP_FRAMES) if true_left(n) >= WIDTH)


def is_gone(index: int) -> bool:
    return index % LOOP_FRAMES >= left_index() + GONE_MARGIN_FRAMES


def draw_frame(index: int, person: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    frame = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    left = true_left(index)
    if left < WIDTH:
        visible = min(PERSON_W, WIDTH - left)
        frame[PERSON_TOP : PERSON_TOP + PERSON_H, left : left + visible] = person[:, :visible]
    frame[BIT_Y - 4 : BIT_Y + BIT_H + 4] = 0
    for bit in range(BITS):
        if (index >> bit) & 1:
            x = 8 + bit * BIT_W
            frame[BIT_Y : BIT_Y + BIT_H, x : x + BIT_W - 8] = 255
    return frame


def make_person_clip(path: Path) -> Path:
    """The clip as an H.264 Annex-B stream (baseline, no B-frames, a keyframe a second), encoded by
    the ffmpeg command line as the other test clips are."""
    if shutil.which("ffmpeg") is None:
        raise FileNotFoundError("ffmpeg is not installed (apt-get install ffmpeg)")
    person = person_picture()
    if person.shape[1] != PERSON_W:
        raise ValueError(f"the cut-out is {person.shape[1]} px wide, PERSON_W says {PERSON_W}: bus.jpg changed")
    frames = b"".join(draw_frame(index, person).tobytes() for index in range(LOOP_FRAMES))
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-"]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0", "-g", str(FPS)]
    x264 += ["-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(path)]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *raw, *x264], input=frames, check=True, timeout=120)
    return path


def drawn_centre(sample: dict[str, Any]) -> float | None:
    """The centre (px) of the one box drawn over a displayed frame; None with no box."""
    if not sample["boxes"]:
        return None
    x1, _, x2, _ = sample["boxes"][0]
    return float((x1 + x2) / 2 * WIDTH)


def offsets_px(samples: list[dict[str, Any]], keep: Any) -> list[float]:
    """Drawn centre minus true centre, for the samples with a box whose index `keep` accepts."""
    found = []
    for sample in samples:
        centre = drawn_centre(sample)
        if centre is not None and keep(sample["index"]):
            found.append(centre - true_centre(sample["index"]))
    return found


def detector_bias_px(samples: list[dict[str, Any]]) -> float:
    """The detector's constant offset along the motion: the median offset while he stands still."""
    still = offsets_px(samples, is_still)
    if not still:
        raise ValueError(f"no box drawn over any of {len(samples)} frames where the man stands still")
    return statistics.median(still)


def time_errors_ms(samples: list[dict[str, Any]], bias_px: float) -> list[float]:
    """|drawn centre - true centre - bias| / speed, over the frames where he walks."""
    return [abs(offset - bias_px) / SPEED_PX_S * 1000 for offset in offsets_px(samples, is_walking)]


def analyse(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Bias, time error (median, p95), position error (px, p95, bias included), boxes drawn."""
    bias = detector_bias_px(samples)
    errors = time_errors_ms(samples, bias)
    if not errors:
        raise ValueError(f"no box drawn over any of {len(samples)} frames where the man walks")
    walking = [s for s in samples if is_walking(s["index"])]
    still = [s for s in samples if is_still(s["index"])]
    positions = [abs(o) for o in offsets_px(samples, is_walking)]
    return {
        "bias_px": bias,
        "still_spread_px": statistics.pstdev(offsets_px(samples, is_still)),
        "median": statistics.median(errors),
        "p95": percentile(errors, 0.95),
        "count": len(errors),
        "position_p95_px": percentile(positions, 0.95),
        "walking_drawn_pct": 100.0 * len(errors) / max(1, len(walking)),
        "still_drawn_pct": 100.0 * sum(1 for s in still if s["boxes"]) / max(1, len(still)),
    }


def person_streams_yaml(prefix: str, camera_id: str, rtsp_url: str, model: Path, worker: str = "edge-1") -> str:
    """One streams.yaml for both the server and the edge worker: the camera watched by `worker`,
    detected 5 times a second (people only) with the motion gate off (the index squares always move)."""
    return f"""version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Huyện Long Phú, timezone: Asia/Ho_Chi_Minh}}]
edge_workers: [{{id: {worker}, stats_interval: 1s}}]
detectors: {{default: {{type: onnx, model: "{model}", imgsz: 320, max_batch: 1}}}}
cameras:
  - id: {camera_id}
    name: Bến phà Đại Ngãi
    site: long-phu
    worker: {worker}
    source: {{type: rtsp, url: "{rtsp_url}"}}
    detect: {{fps: 5, classes: [person], min_confidence: 0.4}}
    motion: {{enabled: false}}
"""
