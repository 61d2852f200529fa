"""Capped exponential backoff with jitter, the one policy every reconnect and retry uses.

No reconnect storm when 50 cameras come back at once: each delay is drawn from [d/2, d]
("equal jitter"), d doubling from `initial` up to `maximum`.
"""

from __future__ import annotations

import random


def jittered_delay(attempt: int, initial: float, maximum: float, rng: random.Random | None = None) -> float:
    """The delay before retry number `attempt` (1 = the first retry), from [d/2, d]."""
    ceiling = min(maximum, initial * (2 ** min(max(attempt, 1) - 1, 30)))
    return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


class Backoff:
    """Stateful: `next_delay()` grows with each call until `reset()`."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0
        self._rng = rng or random.Random()

    @property
    def attempts(self) -> int:
        return self._attempt

    def next_delay(self) -> float:
        self._attempt += 1
        return jittered_delay(self._attempt, self.initial, self.maximum, self._rng)

    def reset(self) -> None:
        self._attempt = 0
