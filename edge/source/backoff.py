"""Capped exponential backoff with jitter: no reconnect storm when 50 cameras come back at once."""

from __future__ import annotations

import random


class Backoff:
    """Delays initial, 2x, 4x ... up to `maximum`, each drawn from [d/2, d] ("equal jitter")."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self._initial = initial
        self._maximum = maximum
        self._attempt = 0
        self._rng = rng or random.Random()

    @property
    def attempts(self) -> int:
        return self._attempt

    def next_delay(self) -> float:
        ceiling = min(self._maximum, self._initial * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def reset(self) -> None:
        self._attempt = 0
