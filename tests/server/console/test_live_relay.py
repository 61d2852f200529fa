"""The live relay's pieces without a camera: timestamps for the pts-less packets that start an RTSP
session, the GOP kept for the next viewer, and a viewer that falls behind."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.live.demux import MAX_UNSTAMPED, PacketStamper
from server.live.relay import GopCache, Packet, PacketRelay

TIME_BASE = Fraction(1, 90_000)
STEP = 6000  # one frame at 15 fps in 1/90000


def packet(pts: int | None, key: bool = False) -> Packet:
    made = av.Packet(b"\x00\x00\x01\x65" if key else b"\x00\x00\x01\x41")
    made.pts = made.dts = pts
    made.time_base = TIME_BASE
    made.is_keyframe = key
    return made


@pytest.mark.parametrize(
    ("arriving", "expected"),
    [
        ([None, 50_000, 56_000], [0, STEP, 2 * STEP]),  # the keyframe without a timestamp is kept
        ([None, None, 50_000], [0, STEP, 2 * STEP]),
        ([50_000, None, 62_000], [0, 12_000]),  # a pts-less packet later is dropped
        ([7, 6007], [0, STEP]),
    ],
)
def test_the_stamper_keeps_the_first_packets_and_starts_at_zero(
    arriving: list[int | None], expected: list[int]
) -> None:
    stamper = PacketStamper(fps=15)
    stamped = [stamper.stamp(packet(pts)) for pts in arriving]
    ready = [p for p in stamped if p is not None]
    assert [p.pts for p in ready] == expected and [p.dts for p in ready] == expected
    assert stamper.dropped == len(arriving) - len(expected)


def test_the_stamper_sends_a_bounded_number_of_pts_less_packets_at_once() -> None:
    stamper = PacketStamper(fps=15)
    sent = [stamper.stamp(packet(None)) for _ in range(MAX_UNSTAMPED + 3)]
    assert [p.pts for p in sent if p is not None] == [STEP * i for i in range(MAX_UNSTAMPED)]
    assert sent[MAX_UNSTAMPED:] == [None] * 3 and stamper.dropped == 3
    after = stamper.stamp(packet(1000))
    assert after is not None and after.pts == STEP * MAX_UNSTAMPED


def test_a_new_viewer_gets_copies_of_the_gop_stamped_at_the_newest_packets_time() -> None:
    gop = GopCache()
    originals = [packet(6000, key=True), packet(12_000), packet(18_000)]
    for made in originals:
        gop.add(made)
    copies = gop.for_new_viewer()
    assert [p.pts for p in copies] == [17_998, 17_999, 18_000] and [p.dts for p in copies] == [17_998, 17_999, 18_000]
    assert [bytes(p) for p in copies] == [bytes(p) for p in originals]
    assert [p.is_keyframe for p in copies] == [True, False, False] and copies[0].time_base == TIME_BASE
    assert [p.pts for p in originals] == [6000, 12_000, 18_000]  # the relay's own packets are untouched


def test_the_gop_cache_starts_at_each_keyframe_and_forgets_an_overlong_gop() -> None:
    gop = GopCache(max_packets=3)
    gop.add(packet(0))
    assert gop.packets() == []  # nothing decodable before the first keyframe
    key = packet(1, key=True)
    for made in [key, packet(2), packet(3)]:
        gop.add(made)
    assert [p.pts for p in gop.packets()] == [1, 2, 3]
    gop.add(packet(4))
    assert gop.packets() == [] and gop.overflows == 1
    gop.add(packet(5, key=True))
    assert [p.pts for p in gop.packets()] == [5]


class Source(MediaStreamTrack):
    """A track the test feeds by hand."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[Packet | None] = asyncio.Queue()

    async def recv(self) -> Packet:
        item = await self.queue.get()
        if item is None:
            raise MediaStreamError
        return item


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_late_viewer_gets_the_gop_and_a_slow_one_resumes_at_the_next_keyframe() -> None:
    source, lost = Source(), list[int]()
    relay = PacketRelay(source, "cam", queue_size=4, on_drop=lost.append)
    early = relay.subscribe()
    for made in [packet(0), packet(1, key=True), packet(2)]:
        source.queue.put_nowait(made)
    await settle()
    assert [(await early.recv()).pts for _ in range(2)] == [1, 2]  # the P-frame before any keyframe is useless

    late = relay.subscribe()
    source.queue.put_nowait(packet(3))
    await settle()
    assert [(await late.recv()).pts for _ in range(3)] == [1, 2, 3]

    for pts in range(4, 9):  # nobody reads: `early` overflows at 7 (3..7 lost), `late` at 8 (4..8)
        source.queue.put_nowait(packet(pts))
    await settle()
    assert sorted(lost) == [1, 5, 5] and (early.dropped, late.dropped) == (6, 5)  # `early` skipped 8 too
    source.queue.put_nowait(packet(9, key=True))
    source.queue.put_nowait(packet(10))
    source.queue.put_nowait(None)
    await settle()
    for viewer in (early, late):
        assert [(await viewer.recv()).pts for _ in range(2)] == [9, 10]
        with pytest.raises(MediaStreamError):
            await viewer.recv()
