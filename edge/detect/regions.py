"""Where the detector looks: motion and tracked boxes merged into a few square regions, as Frigate
does. A region is at least the detector's input size in frame pixels (where the frame allows), so a
small object far away reaches the detector at full resolution instead of scaled down with the whole
frame; boxes that fit in one such region together share it; `plan_regions` says None (detect on
the whole frame) when the motion is large or would need too many regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.config.cameras import RegionSettings

NormBox = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of the frame
PixelBox = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
MAX_BOXES = 64  # more motion and tracked boxes than this: the whole frame (bounds the merging work)


@dataclass(frozen=True)
class Region:
    """A crop of the frame, in whole pixels: [x1, x2) x [y1, y2)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def area(self) -> int:
        return (self.x2 - self.x1) * (self.y2 - self.y1)


def to_pixels(box: NormBox, width: int, height: int) -> PixelBox:
    return box[0] * width, box[1] * height, box[2] * width, box[3] * height


def bounding(boxes: Sequence[PixelBox]) -> PixelBox:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def side_for(box: PixelBox, min_side: int, margin: float) -> float:
    """The side of the square that holds `box` with `margin` of its size on each side."""
    return max(float(min_side), max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin))


def _span(centre: float, side: int, limit: int) -> tuple[int, int]:
    """[start, start + side) centred on `centre`, shifted to lie inside [0, limit)."""
    start = min(max(round(centre - side / 2), 0), limit - side)
    return start, start + side


def square_around(box: PixelBox, width: int, height: int, min_side: int, margin: float) -> Region:
    """The square region holding `box` (cut to the frame where the frame is smaller than it)."""
    side = round(side_for(box, min_side, margin))
    x1, x2 = _span((box[0] + box[2]) / 2, min(side, width), width)
    y1, y2 = _span((box[1] + box[3]) / 2, min(side, height), height)
    return Region(x1, y1, x2, y2)


def cluster(boxes: Sequence[PixelBox], min_side: int, margin: float) -> list[list[PixelBox]]:
    """Greedy merging: two groups become one while their boxes fit together in one region of
    `min_side` (the merge costs no resolution and saves a crop)."""
    groups = [[box] for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if side_for(bounding(groups[i] + groups[j]), min_side, margin) <= min_side:
                    groups[i] += groups.pop(j)
                    merged = True
                    break
            if merged:
                break
    return groups


def motion_fraction(boxes: Sequence[NormBox]) -> float:
    """The share of the frame the motion boxes cover (overlaps counted twice: an upper bound)."""
    return sum(max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0) for b in boxes)


def plan_regions(
    motion: Sequence[NormBox],
    tracked: Sequence[NormBox],
    size: tuple[int, int],
    min_side: int,
    settings: RegionSettings,
) -> list[Region] | None:
    """The regions to detect on, or None for the whole frame: regions off, no motion (a refresh or
    the tail after motion looks at everything), large motion, or more than `max_regions` regions."""
    width, height = size
    if not settings.enabled or not motion or motion_fraction(motion) > settings.max_motion_area:
        return None
    if len(motion) + len(tracked) > MAX_BOXES:
        return None
    boxes = [to_pixels(box, width, height) for box in (*motion, *tracked)]
    groups = cluster(boxes, min_side, settings.margin)
    if len(groups) > settings.max_regions:
        return None
    regions = [square_around(bounding(group), width, height, min_side, settings.margin) for group in groups]
    if sum(region.area for region in regions) >= width * height:
        return None  # the crops would cover as many pixels as the frame
    return regions
