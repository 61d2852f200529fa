"""A light edge host (the `[edge]` extra) runs the onnx detector and the tracker without torch or
ultralytics: a camera pipeline built, fed and tracking in a fresh interpreter never imports them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.edge.conftest import REPO

SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from contract.config import Camera, OnnxDetector
from edge.detect.registry import create_detector
from edge.pipeline import CameraPipeline
from edge.source.frames import SampledFrame
from contract.timeutil import utc_now

detector = create_detector(OnnxDetector(type="onnx", model=sys.argv[1], imgsz=320), Path("."))
camera = Camera.model_validate({"id": "c", "name": "c", "site": "s", "worker": "w",
    "source": {"type": "rtsp", "url": "rtsp://127.0.0.1/x"}})
events = []
pipeline = CameraPipeline(camera, "w", detector.names, events.append, "run")
image = np.full((360, 640, 3), 100, np.uint8)
image[100:300, 280:360] = 20  # something to look at
for _ in range(3):
    pipeline.process(SampledFrame("c", image, utc_now()), detector.detect([image], 0.25)[0])
heavy = sorted(m for m in ("torch", "ultralytics") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_the_onnx_pipeline_and_tracker_import_neither_torch_nor_ultralytics(model_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_path)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HEAVY []" in done.stdout, done.stdout
