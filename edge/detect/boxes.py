"""Letterbox and non-maximum suppression, as ultralytics does them, in numpy and OpenCV only."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.detect.protocol import Detections, FloatArray
from edge.source.frames import BgrImage

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    gain: float
    pad_x: float
    pad_y: float


def letterbox(image: BgrImage, size: int) -> tuple[BgrImage, Letterbox]:
    """Resize keeping the aspect ratio and pad to size x size with grey, centred."""
    height, width = image.shape[:2]
    gain = min(size / height, size / width)
    new_w, new_h = round(width * gain), round(height * gain)
    pad_x, pad_y = (size - new_w) / 2, (size - new_h) / 2
    if (new_w, new_h) != (width, height):
        image = np.asarray(cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    top, bottom = round(pad_y - 0.1), round(pad_y + 0.1)
    left, right = round(pad_x - 0.1), round(pad_x + 0.1)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return np.asarray(padded, dtype=np.uint8), Letterbox(gain, float(left), float(top))


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> npt.NDArray[np.int64]:
    """Indices kept by greedy NMS, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_yolo(
    output: FloatArray, box: Letterbox, shape: tuple[int, int], conf: float, iou: float = 0.7, max_det: int = 300
) -> Detections:
    """One image's YOLOv8/11 head output [4 + classes, anchors] to boxes in the original frame."""
    predictions = output.T
    scores_all = predictions[:, 4:]
    cls = scores_all.argmax(axis=1)
    scores = scores_all[np.arange(len(cls)), cls]
    keep = scores >= conf
    if not keep.any():
        return Detections.empty()
    predictions, cls, scores = predictions[keep], cls[keep], scores[keep]
    cx, cy, w, h = predictions[:, 0], predictions[:, 1], predictions[:, 2], predictions[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    offset = cls[:, None].astype(np.float32) * 7680.0  # class-aware NMS in one call
    kept = nms(xyxy + offset, scores, iou)[:max_det]
    xyxy = (xyxy[kept] - [box.pad_x, box.pad_y, box.pad_x, box.pad_y]) / box.gain
    height, width = shape
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
    return Detections(xyxy.astype(np.float32), scores[kept].astype(np.float32), cls[kept].astype(np.int64))
