"""Plane geometry on normalised frame coordinates, shared by config checks and the edge."""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def polygon_area(points: Sequence[Point]) -> float:
    """Unsigned area by the shoelace formula."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when the closed segments p1-p2 and q1-q2 properly cross."""
    d1 = _orientation(q1, q2, p1)
    d2 = _orientation(q1, q2, p2)
    d3 = _orientation(p1, p2, q1)
    d4 = _orientation(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def polygon_problem(points: Sequence[Point]) -> str | None:
    """Why a polygon is unusable, or None when it is a simple polygon with an area."""
    if len(points) < 3:
        return f"a polygon needs at least 3 points, got {len(points)}"
    if len(set(points)) != len(points):
        return "a polygon must not repeat a point"
    edges = list(zip(points, [*points[1:], points[0]], strict=True))
    for i, (a1, a2) in enumerate(edges):
        for j in range(i + 1, len(edges)):
            if j == i + 1 or (i == 0 and j == len(edges) - 1):
                continue
            b1, b2 = edges[j]
            if segments_intersect(a1, a2, b1, b2):
                return f"the polygon crosses itself (edge {i} crosses edge {j})"
    if polygon_area(points) < 1e-6:
        return "the polygon has no area (its points are on one line)"
    return None


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Ray casting; points on the boundary may fall either way."""
    x, y = point
    inside = False
    count = len(polygon)
    for i in range(count):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % count]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def side_of_line(point: Point, start: Point, end: Point) -> float:
    """Positive on the right-hand side of start->end as seen in the image (y grows downwards), negative
    on the left, 0 on the line. For a line drawn left to right, positive is below it: a counting line's
    'in' crossing goes from negative to positive."""
    return _orientation(start, end, point)
