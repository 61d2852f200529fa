"""How long a failed camera waits before the next open: probe often and cheaply, back off the open.

A camera that does not answer is probed (RTSP OPTIONS) every `PROBE_INTERVAL_S`, jittered, and
opened as soon as it answers again: a returned camera is found within about a second. A camera
that answers but cannot stream (wrong path, broken encoder) waits the capped, jittered backoff
between opens, as does a file source. When the backoff has passed, the open is tried anyway, so a
camera that never answers OPTIONS still reconnects at the backoff's pace.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

PROBE_INTERVAL_S = 1.0  # each wait is drawn from [interval/2, interval]: 50 cameras do not probe in step
PROBE_TIMEOUT_S = 1.0

Probe = Callable[[], bool]


def wait_to_retry(delay: float, probe: Probe | None, stop: threading.Event, rng: random.Random) -> None:
    """Return when the source should be opened again (or `stop` is set)."""
    if probe is None:
        stop.wait(delay)
        return
    deadline, was_down = time.monotonic() + delay, False
    while not stop.is_set():
        answered = probe()
        if answered and was_down:
            return  # it is back: open now
        if time.monotonic() >= deadline:
            return
        was_down = was_down or not answered
        interval = PROBE_INTERVAL_S / 2 + rng.uniform(0, PROBE_INTERVAL_S / 2)
        stop.wait(min(interval, max(deadline - time.monotonic(), 0.0)))
