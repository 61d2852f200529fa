"""Which recorded packets a clip takes: from the last keyframe at or before its start to the first
packet at or after its end (keyframes every 2 s here, one packet a second)."""

from __future__ import annotations

import pytest

from edge.record.clips import _Packet, select_packets


def _packets(times: range) -> list[_Packet]:
    return [_Packet(b"x", float(t), 0, t % 2 == 0) for t in times]


@pytest.mark.parametrize(
    ("times", "start", "end", "expected"),
    [
        (range(7), 2.5, 4.5, [2, 3, 4, 5]),  # back to the keyframe before the start
        (range(7), -1, 1, [0, 1]),  # the recording starts after the clip's start
        (range(1, 7), -1, 3, [2, 3]),  # ... on a non-keyframe: begin on the next keyframe
        (range(7), 10, 12, []),  # nothing recorded then
        (range(7), 3, 6, [2, 3, 4, 5, 6]),  # the end is covered by the packet at it
    ],
)
def test_a_clip_starts_on_a_keyframe_and_covers_its_end(
    times: range, start: float, end: float, expected: list[int]
) -> None:
    assert [p.wall_s for p in select_packets(_packets(times), start, end)] == expected
