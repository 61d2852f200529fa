"""The packet hook in the demux loop: real RTSP (GStreamer) with real H.264, packets before decoding."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import pytest

from contract.config import RtspSource
from edge.source.packets import PacketQueue, PacketTap, StreamInfo, VideoPacket
from edge.source.stream import VideoStream
from tests.fixtures.rtsp import RtspServerFactory

pytestmark = pytest.mark.timeout(60)


def _drain(queue: PacketQueue) -> list[tuple[StreamInfo | VideoPacket, bool]]:
    items = []
    while (got := queue.get(0.0)) is not None:
        items.append(got)
    return items


def test_each_demuxed_packet_reaches_the_sink_and_remuxes_to_decodable_h264(
    tmp_path: Path, rtsp_server: RtspServerFactory, moving_clip: Path
) -> None:
    server = rtsp_server({"cam": moving_clip}, fps=15)
    tap, sink = PacketTap(), PacketQueue(1000)
    tap.add(sink)
    stop = threading.Event()
    stream = VideoStream(RtspSource(type="rtsp", url=server.url("cam")), tmp_path, stop, tap)
    stream.open()
    frames = 0
    try:
        for _ in stream.frames():
            frames += 1
            if frames >= 45:
                break
    finally:
        stream.close()
    items = _drain(sink)
    info, packets = items[0][0], [item for item, _ in items[1:]]
    assert isinstance(info, StreamInfo) and info.codec == "h264" and (info.width, info.height) == (640, 360)
    assert all(isinstance(p, VideoPacket) for p in packets)
    # one packet per frame; the decoder also drops those before the first keyframe (GOP 15)
    assert frames <= len(packets) <= frames + 15 + 5
    assert any(p.keyframe for p in packets if isinstance(p, VideoPacket))
    assert sink.dropped == 0 and not any(lost for _, lost in items)
    # the bytes are the camera's own: decoding them from the first keyframe gives frames
    codec = av.CodecContext.create("h264", "r")
    start = next(i for i, p in enumerate(packets) if isinstance(p, VideoPacket) and p.keyframe)
    decoded = sum(
        len(codec.decode(av.Packet(info.extradata + p.data if i == start else p.data)))
        for i, p in enumerate(packets[start:], start)
        if isinstance(p, VideoPacket)
    )
    assert decoded >= len(packets) - start - 3


def test_a_full_queue_drops_new_packets_counts_them_and_flags_the_loss() -> None:
    queue = PacketQueue(2)
    info = StreamInfo(1, "h264", 640, 360, b"", None)
    made = [VideoPacket(1, bytes([i]), i, i, None, i == 0, 0.0, None) for i in range(5)]  # type: ignore[arg-type]
    queue.offer(info)
    for packet in made:
        queue.offer(packet)
    queue.offer(StreamInfo(2, "h264", 640, 360, b"", None))  # a new connection is never dropped
    got = _drain(queue)
    assert [item for item, _ in got] == [info, made[0], StreamInfo(2, "h264", 640, 360, b"", None)]
    assert queue.dropped == 4
    assert [lost for _, lost in got] == [False, False, True]


def test_a_tap_without_sinks_costs_nothing_and_a_late_sink_learns_the_stream() -> None:
    tap = PacketTap()
    assert not tap.active
    queue = PacketQueue(10)
    tap.add(queue)
    assert tap.active and len(queue) == 0  # no connection yet: nothing to tell
    tap.remove(queue)
    assert not tap.active


def _mp4(directory: Path, codec: str, moving_clip: Path) -> Path:
    import subprocess

    out = directory / f"moving-{codec}.mp4"  # MP4 keeps NAL units length-prefixed (avcC / hvcC)
    if codec == "h264":
        args = ["-r", "15", "-i", str(moving_clip), "-c", "copy"]
    else:
        # B-frames (pts != dts) in closed GOPs, as cameras send them; with open GOPs the pictures
        # that lead a keyframe belong to the GOP before it and do not decode after a cut
        source = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15", "-t", "6"]
        args = [*source, "-c:v", "libx265", "-x265-params", "log-level=error:keyint=15:open-gop=0", "-tag:v", "hvc1"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, str(out)], check=True, timeout=120)
    return out


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_an_mp4_file_source_length_prefixed_records_decodable_segments(
    tmp_path: Path, moving_clip: Path, codec: str
) -> None:
    from datetime import timedelta

    from contract.config import FileSource
    from contract.config.record import RecordSettings
    from edge.record.index import SegmentIndex
    from edge.record.segments import SegmentWriter
    from edge.record.stats import RecordStats
    from tests.evidence.conftest import decoded_frames

    mp4 = _mp4(tmp_path, codec, moving_clip)
    index, stats = SegmentIndex(tmp_path / "rec" / "index.sqlite3"), RecordStats()
    settings = RecordSettings(mode="continuous", segment=timedelta(seconds=1))
    writer = SegmentWriter("file", settings, tmp_path / "rec", index, stats)
    writer.start()
    tap = PacketTap()
    tap.add(writer)
    source = FileSource(type="file", path=str(mp4), loop=False, realtime=True)
    stream = VideoStream(source, tmp_path, threading.Event(), tap)
    stream.open()
    frames = 0
    try:
        for _ in stream.frames():
            frames += 1
    except Exception:  # the file ended
        pass
    finally:
        stream.close()
    writer.stop()
    segments = index.overlapping("file", 0, 1e12)
    assert len(segments) >= 3 and stats.write_errors == 0
    assert {s.codec for s in segments} == {codec}
    assert sum(s.packets for s in segments) == frames == 90
    assert sum(decoded_frames(tmp_path / "rec" / s.path) for s in segments) == frames
    index.close()
