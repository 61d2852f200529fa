"""Detector weights for the demo when none is found on disk: fetched the way ultralytics fetches
them (its GitHub release assets, into the demo's work folder) when the machine is online, and a
clear reason when it cannot be (offline, `YOLO_OFFLINE` set, ultralytics not installed)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DEMO_WEIGHTS = "yolo11n.pt"
"""ultralytics' smallest current COCO detector (AGPL-3.0 weights)"""


@dataclass(frozen=True)
class Weights:
    path: Path | None
    reason: str
    """where the weights came from, or why there are none"""


Download = Callable[[Path], Path]


def obtain_weights(
    models_dir: Path, download: Download | None = None, online: Callable[[], bool] | None = None
) -> Weights:
    """`models_dir/yolo11n.pt`, downloaded first when it is missing and downloading is possible."""
    target = models_dir / DEMO_WEIGHTS
    if target.is_file():
        return Weights(target, f"{target} (fetched earlier)")
    if os.environ.get("YOLO_OFFLINE", "").strip().lower() in {"1", "true", "yes"}:
        return Weights(None, "YOLO_OFFLINE is set, so the demo does not download weights")
    try:
        from ultralytics.utils import is_online
        from ultralytics.utils.downloads import attempt_download_asset
    except ImportError:
        return Weights(None, "ultralytics is not installed (pip install -e '.[ultralytics]') to fetch weights")
    if not (online or is_online)():
        return Weights(None, f"the machine is offline, so {DEMO_WEIGHTS} could not be downloaded")
    fetch = download or (lambda path: Path(attempt_download_asset(path)))
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        fetched = fetch(target)
    except Exception as exc:  # a download fails in many ways (DNS, TLS, HTTP, disk): each is a reason
        logger.warning("downloading %s failed: %s", DEMO_WEIGHTS, exc)
        return Weights(None, f"downloading {DEMO_WEIGHTS} failed: {exc}")
    if not fetched.is_file():
        return Weights(None, f"downloading {DEMO_WEIGHTS} gave no file")
    return Weights(fetched, f"{fetched} (downloaded from ultralytics' release assets)")
