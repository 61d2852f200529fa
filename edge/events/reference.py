"""A hand-counted line reference (see `tests/edge/data/vtest_line_reference.json`) and the score of
a run's `line_crossed` events against it: per-direction recall, double counts and extra crossings.

Matching: each counted crossing, in time order, takes the nearest reference crossing of the same
direction within `tolerance_s` not yet taken. One that finds only taken reference crossings of its
direction within the tolerance is a double count (a person counted twice); one that finds none at
all is an extra (a crossing that did not happen, e.g. a track jittering on the line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from contract.config import CountingLine

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class ReferenceCrossing:
    t: float  # seconds from the start of the clip
    direction: Direction
    note: str = ""


@dataclass(frozen=True)
class LineReference:
    line: CountingLine
    crossings: tuple[ReferenceCrossing, ...]

    @classmethod
    def load(cls, path: Path) -> LineReference:
        data = json.loads(path.read_text(encoding="utf-8"))
        fps = float(data["fps"])
        crossings = tuple(
            ReferenceCrossing(c["frame"] / fps, c["direction"], c.get("note", "")) for c in data["crossings"]
        )
        return cls(CountingLine.model_validate(data["line"]), crossings)

    def total(self, direction: Direction) -> int:
        return sum(1 for c in self.crossings if c.direction == direction)


@dataclass
class CountScore:
    matched: dict[Direction, int] = field(default_factory=lambda: {"in": 0, "out": 0})
    expected: dict[Direction, int] = field(default_factory=lambda: {"in": 0, "out": 0})
    double_counts: int = 0
    extras: int = 0
    missed: list[ReferenceCrossing] = field(default_factory=list)
    unmatched: list[tuple[float, Direction]] = field(default_factory=list)  # doubles and extras

    def recall_pct(self, direction: Direction) -> float:
        expected = self.expected[direction]
        return 100.0 * self.matched[direction] / expected if expected else 100.0


def score(reference: LineReference, counted: list[tuple[float, Direction]], tolerance_s: float) -> CountScore:
    """Match `counted` (time in seconds, direction) to the reference; see the module docstring."""
    result = CountScore()
    for direction in ("in", "out"):
        result.expected[direction] = reference.total(direction)
    taken: set[int] = set()
    for t, direction in sorted(counted):
        near = [
            (abs(c.t - t), i)
            for i, c in enumerate(reference.crossings)
            if c.direction == direction and abs(c.t - t) <= tolerance_s
        ]
        free = [n for n in near if n[1] not in taken]
        if free:
            taken.add(min(free)[1])
            result.matched[direction] += 1
            continue
        result.unmatched.append((t, direction))
        if near:
            result.double_counts += 1
        else:
            result.extras += 1
    result.missed = [c for i, c in enumerate(reference.crossings) if i not in taken]
    return result
