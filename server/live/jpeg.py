"""The fallback: JPEG pictures decoded from keyframes only (no per-frame decoding)."""

from __future__ import annotations

from fractions import Fraction

import av
from av.stream import Stream
from av.video.frame import VideoFrame


def keyframe_to_jpeg(packet: av.Packet[Stream], max_width: int = 1280, quality: int = 5) -> bytes | None:
    """Decode one H.264 keyframe (with its SPS/PPS) and encode it as JPEG; None when it does not decode.
    CPU-bound: call it in an executor."""
    decoder = av.CodecContext.create("h264", "r")
    try:
        frames = [*decoder.decode(av.Packet(bytes(packet))), *decoder.decode(None)]
    except av.FFmpegError:
        return None
    video = [frame for frame in frames if isinstance(frame, VideoFrame)]
    return encode_jpeg(video[-1], max_width, quality) if video else None


def encode_jpeg(frame: VideoFrame, max_width: int, quality: int) -> bytes:
    width, height = frame.width, frame.height
    if width > max_width:
        width, height = max_width, int(height * max_width / width) // 2 * 2
    encoder: av.VideoCodecContext = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"qscale": str(quality)}
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    packets = [*encoder.encode(picture), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)
