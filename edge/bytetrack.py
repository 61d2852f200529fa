"""ByteTrack (Zhang et al., 2022) on numpy and `lap`: no torch, no ultralytics.

The algorithm as ultralytics implements it (`ultralytics/trackers/byte_tracker.py`, AGPL-3.0 like
this project), written again for an edge host that runs the onnx detector alone: a constant-velocity
Kalman filter per track on (centre x, centre y, aspect, height); high-score boxes matched first by
IoU (fused with the score), low-score boxes then keep tracked objects alive, unconfirmed tracks need
a second sighting, lost tracks are kept `track_buffer` frames for re-identification.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lap
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_STD_POSITION, _STD_VELOCITY = 1.0 / 20, 1.0 / 160
_MOTION = np.eye(8) + np.eye(8, k=4)  # x' = x + v
_UPDATE = np.eye(4, 8)


@dataclass(frozen=True)
class ByteTrackSettings:
    high_thresh: float = 0.25  # first association
    low_thresh: float = 0.1  # second association (keeps tracked objects through occlusion)
    new_track_thresh: float = 0.25
    track_buffer: int = 30  # frames a lost track may be found again
    # Chosen by measurement on the counting reference (bench/counting.py, README "Counting"): a small
    # person walking at 5 fps overlaps its last box by IoU ~0.5; fused with a 0.5 score (ultralytics'
    # defaults: fuse_score, 0.8, 0.7) the match failed and tracks broke up every frame (29 % of the
    # crossings counted); without fusing, 0.9 and 0.8, all of them.
    match_thresh: float = 0.9  # IoU distance (1 - IoU, or fused with the score) for the first association
    unconfirmed_match_thresh: float = 0.8  # the same for a new track's second sighting
    fuse_score: bool = False  # IoU times the box's score (ultralytics' `fuse_score`)


def _xyah(xyxy: FloatArray) -> FloatArray:
    w, h = xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]
    return np.array([xyxy[0] + w / 2, xyxy[1] + h / 2, w / max(h, 1e-6), h])


@dataclass
class Track:
    track_id: int
    mean: FloatArray
    covariance: FloatArray
    score: float
    cls: int
    index: int
    activated: bool
    end_frame: int
    lost: bool = False
    box: FloatArray = field(default_factory=lambda: np.zeros(4))

    @classmethod
    def start(cls, track_id: int, xyxy: FloatArray, score: float, label: int, index: int, frame: int) -> Track:
        measurement = _xyah(xyxy)
        h = measurement[3]
        std = [2 * _STD_POSITION * h, 2 * _STD_POSITION * h, 1e-2, 2 * _STD_POSITION * h]
        std += [10 * _STD_VELOCITY * h, 10 * _STD_VELOCITY * h, 1e-5, 10 * _STD_VELOCITY * h]
        mean = np.r_[measurement, np.zeros(4)]
        return cls(track_id, mean, np.diag(np.square(std)), score, label, index, frame == 1, frame, box=xyxy)

    def predict(self) -> None:
        mean = self.mean.copy()
        if self.lost:
            mean[7] = 0  # a lost track's height stops changing
        h = mean[3]
        std = [_STD_POSITION * h, _STD_POSITION * h, 1e-2, _STD_POSITION * h]
        std += [_STD_VELOCITY * h, _STD_VELOCITY * h, 1e-5, _STD_VELOCITY * h]
        self.mean = _MOTION @ mean
        self.covariance = _MOTION @ self.covariance @ _MOTION.T + np.diag(np.square(std))

    def update(self, xyxy: FloatArray, score: float, label: int, index: int, frame: int) -> None:
        measurement = _xyah(xyxy)
        h = self.mean[3]
        noise = np.diag(np.square([_STD_POSITION * h, _STD_POSITION * h, 1e-1, _STD_POSITION * h]))
        projected = _UPDATE @ self.covariance @ _UPDATE.T + noise
        gain = np.linalg.solve(projected, _UPDATE @ self.covariance).T
        self.mean = self.mean + gain @ (measurement - _UPDATE @ self.mean)
        self.covariance = self.covariance - gain @ projected @ gain.T
        self.score, self.cls, self.index, self.end_frame = score, label, index, frame
        self.activated, self.lost, self.box = True, False, xyxy

    def xyxy(self) -> FloatArray:
        x, y, a, h = self.mean[:4]
        w = a * h
        return np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def iou_distance(tracks: list[Track], boxes: FloatArray) -> FloatArray:
    if not tracks or not len(boxes):
        return np.zeros((len(tracks), len(boxes)))
    a = np.stack([t.xyxy() for t in tracks])[:, None, :]
    b = boxes[None, :, :]
    inter_w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    inter_h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return np.asarray(1 - inter / np.maximum(area_a + area_b - inter, 1e-9), np.float64)


def assign(cost: FloatArray, thresh: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Matches (row, col) under `thresh`, unmatched rows, unmatched cols (Jonker-Volgenant, `lap`)."""
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return [], list(range(rows)), list(range(cols))
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
    matches = [(i, int(j)) for i, j in enumerate(x) if j >= 0]
    return matches, [i for i, j in enumerate(x) if j < 0], [j for j, i in enumerate(y) if i < 0]


class ByteTracker:
    """`update(xyxy, scores, classes)` each detected frame; returns the confirmed, tracked objects."""

    def __init__(self, settings: ByteTrackSettings) -> None:
        self.settings = settings
        self.tracked: list[Track] = []  # confirmed or not
        self.lost: list[Track] = []
        self.frame = 0
        self._next_id = 0

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def update(self, xyxy: FloatArray, scores: FloatArray, classes: npt.NDArray[np.int64]) -> list[Track]:
        self.frame += 1
        s = self.settings
        high = np.flatnonzero(scores >= s.high_thresh)
        low = np.flatnonzero((scores > s.low_thresh) & (scores < s.high_thresh))
        confirmed = [t for t in self.tracked if t.activated]
        unconfirmed = [t for t in self.tracked if not t.activated]
        pool = confirmed + self.lost
        for track in pool:
            track.predict()
        kept: list[Track] = []
        # 1. confirmed and lost tracks against the high-score boxes (IoU fused with the score)
        matches, rest, free_high = assign(self._cost(pool, xyxy[high], scores[high]), s.match_thresh)
        for i, j in matches:
            self._take(pool[i], xyxy, scores, classes, high[j], kept)
        # 2. still-tracked leftovers against the low-score boxes
        leftovers = [pool[i] for i in rest if not pool[i].lost]
        matches, unmatched, _ = assign(iou_distance(leftovers, xyxy[low]), 0.5)
        for i, j in matches:
            self._take(leftovers[i], xyxy, scores, classes, low[j], kept)
        newly_lost = [leftovers[i] for i in unmatched]
        for track in newly_lost:
            track.lost = True
        # 3. unconfirmed tracks need a second sighting among the high boxes left over
        remaining = high[free_high]
        cost = self._cost(unconfirmed, xyxy[remaining], scores[remaining])
        matches, _, free = assign(cost, s.unconfirmed_match_thresh)
        for i, j in matches:
            self._take(unconfirmed[i], xyxy, scores, classes, remaining[j], kept)
        # 4. new tracks from confident boxes nobody claimed
        for j in remaining[free]:
            if scores[j] >= s.new_track_thresh:
                box = xyxy[j].astype(np.float64)
                kept.append(Track.start(self._new_id(), box, float(scores[j]), int(classes[j]), int(j), self.frame))
        still_lost = [t for t in self.lost if t.lost] + newly_lost
        self.lost = [t for t in still_lost if self.frame - t.end_frame <= s.track_buffer]
        self.tracked = kept
        return [t for t in kept if t.activated]

    def _cost(self, tracks: list[Track], boxes: FloatArray, scores: FloatArray) -> FloatArray:
        distance = iou_distance(tracks, boxes)
        if not self.settings.fuse_score:
            return distance
        return np.asarray(1 - (1 - distance) * scores[None, :], np.float64)

    def _take(
        self,
        track: Track,
        xyxy: FloatArray,
        scores: FloatArray,
        classes: npt.NDArray[np.int64],
        j: int,
        kept: list[Track],
    ) -> None:
        track.update(xyxy[j].astype(np.float64), float(scores[j]), int(classes[j]), int(j), self.frame)
        kept.append(track)
