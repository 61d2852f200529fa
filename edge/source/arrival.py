"""When each packet of a live stream arrived, kept by pts until its frame leaves the decoder.

A frame's capture time is the wall time its packet was demuxed, not the time it came out of the
decoder: with B-frames (reordering) or FFmpeg frame threading a frame leaves the decoder one or
more packets later, and the console matches the picture, which the server relays packet by packet
as it receives them, against this time. Packets whose frames are never decoded (keyframes-only
decoding skips the others) are forgotten once a later frame comes out, and the map is bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from contract.timeutil import utc_now

MAX_WAITING = 256
"""Packets remembered at most (a decoder holds a handful; skipped packets are swept as frames come out)."""


@dataclass(frozen=True)
class Arrival:
    t: float  # monotonic seconds when the packet was demuxed
    ts: datetime  # UTC when the packet was demuxed


def arrived_now() -> Arrival:
    return Arrival(time.monotonic(), utc_now())


class ArrivalTimes:
    """pts -> Arrival for packets handed to the decoder whose frames have not come out yet."""

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        if max_waiting < 1:
            raise ValueError("max_waiting must be at least 1")
        self._waiting: OrderedDict[int, Arrival] = OrderedDict()
        self._max_waiting = max_waiting
        self.unmatched = 0  # frames without a remembered packet (no pts, or forgotten): stamped at decode

    def packet(self, pts: int | None) -> Arrival:
        """Stamp a packet as it is demuxed (returns the stamp, e.g. for the packet tap)."""
        arrival = arrived_now()
        if pts is not None:
            self._waiting[pts] = arrival
            self._waiting.move_to_end(pts)
            while len(self._waiting) > self._max_waiting:
                self._waiting.popitem(last=False)
        return arrival

    def frame(self, pts: int | None) -> Arrival:
        """The arrival of the packet a decoded frame came from (now when it is not known)."""
        found = self._waiting.pop(pts, None) if pts is not None else None
        if pts is not None:
            for older in [p for p in self._waiting if p < pts]:  # output is in pts order: never coming
                del self._waiting[older]
        if found is None:
            self.unmatched += 1
            return arrived_now()
        return found

    def __len__(self) -> int:
        return len(self._waiting)
