"""The `ultralytics` back-end: `ultralytics.YOLO(path)` (.pt, .onnx, OpenVINO folders), never online."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contract.config import DetectorConfig, UltralyticsDetector
from edge.detect.protocol import Detections, DetectorError
from edge.source.frames import BgrImage

logger = logging.getLogger(__name__)


def offline_environment() -> None:
    """Must run before ultralytics is imported: no network, no pip installs, no ~/.config writes."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "ioc-ultralytics"))


def _as_detections(boxes: Any) -> Detections:
    return Detections(
        np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float32),
        np.asarray(boxes.conf.cpu().numpy(), dtype=np.float32),
        np.asarray(boxes.cls.cpu().numpy(), dtype=np.int64),
    )


class UltralyticsYoloDetector:
    def __init__(self, config: UltralyticsDetector, path: Path) -> None:
        offline_environment()
        from ultralytics.models.yolo import YOLO

        try:
            self._model = YOLO(str(path), task="detect")
        except Exception as exc:
            raise DetectorError(f"ultralytics cannot load '{path}': {exc}") from exc
        self._config = config
        self.names: Mapping[int, str] = dict(self._model.names)
        self.max_batch = config.max_batch
        self.input_size = config.imgsz
        logger.info("ultralytics detector: %s, imgsz %d, batch up to %d", path.name, config.imgsz, self.max_batch)

    def detect(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]:
        results = self._model.predict(
            list(frames), imgsz=self._config.imgsz, conf=min_confidence, device=self._config.device, verbose=False
        )
        return [_as_detections(getattr(result, "boxes", None)) for result in results]

    def close(self) -> None:
        del self._model


def load_ultralytics(config: DetectorConfig, path: Path) -> UltralyticsYoloDetector:
    if not isinstance(config, UltralyticsDetector):
        raise DetectorError("the ultralytics back-end needs an 'ultralytics' detector config")
    return UltralyticsYoloDetector(config, path)
