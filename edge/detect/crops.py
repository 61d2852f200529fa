"""Detection on regions: the crops of every frame of a batch go to the detector as ONE batch, their
boxes are moved back to frame coordinates and the duplicates of overlapping regions merged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.detect.boxes import nms
from edge.detect.protocol import Detections, Detector
from edge.detect.regions import Region
from edge.source.frames import BgrImage

MERGE_IOU = 0.5  # boxes of one class from two regions that overlap this much are one object
CUT_INSIDE = 0.6  # a box cut by its region's edge, this much inside another box, is that object's part
_EDGE_PX = 2.0


@dataclass(frozen=True)
class DetectJob:
    """One frame and where to look in it (None: the whole frame)."""

    image: BgrImage
    regions: Sequence[Region] | None


def crop(image: BgrImage, region: Region) -> BgrImage:
    return np.ascontiguousarray(image[region.y1 : region.y2, region.x1 : region.x2])


def detect_jobs(detector: Detector, jobs: Sequence[DetectJob], min_confidence: float) -> list[Detections]:
    """One Detections per job, in frame coordinates; all crops and whole frames in one detect call."""
    images: list[BgrImage] = []
    owners: list[tuple[int, Region | None]] = []
    for index, job in enumerate(jobs):
        if job.regions is None:
            images.append(job.image)
            owners.append((index, None))
            continue
        for region in job.regions:
            images.append(crop(job.image, region))
            owners.append((index, region))
    results = detector.detect(images, min_confidence) if images else []
    parts: list[list[tuple[Detections, Region | None]]] = [[] for _ in jobs]
    for (index, owner), detections in zip(owners, results, strict=True):
        parts[index].append((detections, owner))
    return [merge_parts(part, job.image.shape[1], job.image.shape[0]) for part, job in zip(parts, jobs, strict=True)]


def to_frame(detections: Detections, region: Region) -> Detections:
    offset = np.array([region.x1, region.y1, region.x1, region.y1], np.float32)
    return Detections((detections.xyxy + offset).astype(np.float32), detections.conf, detections.cls)


def cut_by_region(xyxy: npt.NDArray[np.float32], region: Region, width: int, height: int) -> npt.NDArray[np.bool_]:
    """Boxes touching an edge of their region that is not an edge of the frame (the object may go on)."""
    left = (xyxy[:, 0] <= region.x1 + _EDGE_PX) & (region.x1 > 0)
    top = (xyxy[:, 1] <= region.y1 + _EDGE_PX) & (region.y1 > 0)
    right = (xyxy[:, 2] >= region.x2 - _EDGE_PX) & (region.x2 < width)
    bottom = (xyxy[:, 3] >= region.y2 - _EDGE_PX) & (region.y2 < height)
    return np.asarray(left | top | right | bottom, dtype=np.bool_)


def merge_parts(parts: Sequence[tuple[Detections, Region | None]], width: int, height: int) -> Detections:
    """The detections of one frame's regions as one set: boxes cut by their region's edge dropped
    where most of them lies inside a larger, uncut box of their class, then class-aware NMS."""
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0]
    moved = [(to_frame(d, r), r) if r is not None else (d, r) for d, r in parts]
    cut = np.concatenate(
        [cut_by_region(d.xyxy, r, width, height) if r is not None else np.zeros(len(d), bool) for d, r in moved]
    )
    merged = Detections(
        np.concatenate([d.xyxy for d, _ in moved]).reshape(-1, 4).astype(np.float32),
        np.concatenate([d.conf for d, _ in moved]).astype(np.float32),
        np.concatenate([d.cls for d, _ in moved]).astype(np.int64),
    )
    if not len(merged):
        return Detections.empty()
    merged = merged.select(~(cut & inside_another(merged, ~cut)))
    offset = merged.cls[:, None].astype(np.float32) * 7680.0  # class-aware NMS in one call
    return merged.select(np.sort(nms(merged.xyxy + offset, merged.conf, MERGE_IOU)))


def inside_another(detections: Detections, candidates: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per box: at least CUT_INSIDE of its area lies inside a larger box of its class among `candidates`."""
    xyxy = detections.xyxy.astype(np.float64)
    x1 = np.maximum(xyxy[:, None, 0], xyxy[None, :, 0])
    y1 = np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
    x2 = np.minimum(xyxy[:, None, 2], xyxy[None, :, 2])
    y2 = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    covers = (inter >= CUT_INSIDE * area[:, None]) & (area[None, :] > area[:, None])
    covers &= (detections.cls[:, None] == detections.cls[None, :]) & candidates[None, :]
    return np.asarray(covers.any(axis=1), dtype=np.bool_)
