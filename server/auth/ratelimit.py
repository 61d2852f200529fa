"""Login rate limiting: failed attempts per user name and per client address, in a sliding window.

Bounded memory: at most `max_keys` keys are tracked; the oldest are forgotten first.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

logger = logging.getLogger(__name__)


class LoginRateLimiter:
    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.blocked = 0

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed for all `keys` (0: allowed now)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            window = self._prune(key, now)
            if window is not None and len(window) >= self._max_failures:
                wait = max(wait, window[0] + self._window_s - now)
        if wait > 0:
            self.blocked += 1
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            window = self._failures.setdefault(key, deque(maxlen=self._max_failures))
            window.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float] | None:
        window = self._failures.get(key)
        if window is None:
            return None
        while window and window[0] + self._window_s <= now:
            window.popleft()
        if not window:
            del self._failures[key]
            return None
        return window
