"""What every detector back-end returns and offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.source.frames import BgrImage

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class DetectorError(Exception):
    """A detector cannot be loaded or run (bad path, wrong model file)."""


@dataclass(frozen=True)
class Detections:
    """The boxes of one frame: xyxy in the frame's pixels, scores, class indices."""

    xyxy: FloatArray
    conf: FloatArray
    cls: IntArray

    def __len__(self) -> int:
        return int(self.conf.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64))

    def select(self, keep: npt.NDArray[np.bool_]) -> Detections:
        return Detections(self.xyxy[keep], self.conf[keep], self.cls[keep])


class Detector(Protocol):
    """A loaded model. `detect` takes BGR frames (of any sizes) and returns one Detections per frame;
    `input_size` is the side of the square the model sees, in pixels."""

    names: Mapping[int, str]
    max_batch: int
    input_size: int

    def detect(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]: ...

    def close(self) -> None: ...
