"""ByteTrack without torch: ids stable while boxes move, a box hidden a few frames keeps its id,
a one-frame flicker never becomes a track, and low-score boxes keep a tracked object alive."""

from __future__ import annotations

import numpy as np

from edge.bytetrack import ByteTracker, ByteTrackSettings


def frame(
    tracker: ByteTracker, boxes: list[tuple[float, float, float, float]], scores: list[float]
) -> dict[int, float]:
    """Track ids -> the box's x1, for one frame."""
    xyxy = np.array(boxes, np.float64).reshape(-1, 4)
    tracks = tracker.update(xyxy, np.array(scores, np.float64), np.zeros(len(scores), np.int64))
    return {t.track_id: float(t.xyxy()[0]) for t in tracks}


def test_two_walkers_keep_their_ids_and_a_hidden_one_comes_back_with_its_own() -> None:
    tracker = ByteTracker(ByteTrackSettings(track_buffer=10))
    seen: list[dict[int, float]] = []
    for i in range(20):
        a = (100 + 8 * i, 100, 140 + 8 * i, 200)
        b = (500 - 8 * i, 300, 540 - 8 * i, 400)
        hidden = 8 <= i < 12  # b behind a pillar for 4 frames
        seen.append(frame(tracker, [a] if hidden else [a, b], [0.9] if hidden else [0.9, 0.85]))
    ids_a = {min(s, key=lambda k: s[k]) for s in seen[2:8]}  # the left one
    assert len(ids_a) == 1 and all(len(s) == 2 for s in seen[2:8])
    assert all(len(s) == 1 for s in seen[8:12])
    assert set(seen[15]) == set(seen[5])  # both ids again, none new


def test_a_one_frame_flicker_is_never_confirmed() -> None:
    tracker = ByteTracker(ByteTrackSettings())
    frame(tracker, [(10, 10, 50, 90)], [0.9])  # the very first frame confirms at once (as ultralytics does)
    assert frame(tracker, [(10, 10, 50, 90), (300, 300, 340, 380)], [0.9, 0.8]).keys() == {1}
    assert frame(tracker, [(11, 10, 51, 90)], [0.9]).keys() == {1}


def test_low_score_boxes_keep_a_tracked_object_alive() -> None:
    tracker = ByteTracker(ByteTrackSettings())
    for i in range(5):
        frame(tracker, [(100 + 5 * i, 100, 150 + 5 * i, 200)], [0.9])
    kept = [frame(tracker, [(125 + 5 * i, 100, 175 + 5 * i, 200)], [0.15]) for i in range(5)]  # partly occluded
    assert all(k.keys() == {1} for k in kept)
