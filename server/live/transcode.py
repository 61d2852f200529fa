"""The shared encoder: decoded pictures of one camera encoded to browser-ready H.264 once, whatever
the number of viewers (files, MPEG-4, H.265 and every other codec WebRTC cannot carry as is).

Output is Annex-B, constrained-baseline-like (no B-frames), with SPS/PPS in front of every IDR,
a keyframe every `keyframe_interval_s`, and timestamps from the wall clock (90 kHz), so a looped
file or a reopened source never steps back in time.
"""

from __future__ import annotations

import time
from fractions import Fraction

import av
from av.stream import Stream
from av.video.frame import PictureType, VideoFrame

TIME_BASE = Fraction(1, 90_000)


class H264Transcoder:
    """Blocking (run `encode` in an executor); one per camera pull, reused across reopens."""

    def __init__(self, max_width: int = 1280, keyframe_interval_s: float = 1.0, fps_hint: int = 15) -> None:
        self._max_width = max_width
        self._keyframe_interval_s = keyframe_interval_s
        self.fps_hint = fps_hint
        self._encoder: av.VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._started: float | None = None
        self._last_pts = -1
        self._keyframe_wanted = False
        self.frames_encoded = 0

    def request_keyframe(self) -> None:
        """The next picture is encoded as an IDR (a new viewer starts at once, not at the next GOP)."""
        self._keyframe_wanted = True

    def _output_size(self, frame: VideoFrame) -> tuple[int, int]:
        width, height = frame.width, frame.height
        if width > self._max_width:
            width, height = self._max_width, int(height * self._max_width / width)
        return width // 2 * 2, height // 2 * 2

    def _open(self, size: tuple[int, int]) -> av.VideoCodecContext:
        encoder: av.VideoCodecContext = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = size
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = TIME_BASE
        encoder.framerate = Fraction(self.fps_hint, 1)
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "bf": "0",
            "g": str(max(1, int(self.fps_hint * self._keyframe_interval_s))),
            "x264-params": f"keyint={max(1, int(self.fps_hint * self._keyframe_interval_s))}:repeat-headers=1",
            "forced-idr": "1",
        }
        encoder.open()
        return encoder

    def encode(self, frame: VideoFrame) -> list[av.Packet[Stream]]:
        """Encode one picture; the packets carry 90 kHz wall-clock timestamps."""
        size = self._output_size(frame)
        if self._encoder is None or size != self._size:
            self._encoder, self._size = self._open(size), size
        now = time.monotonic()
        if self._started is None:
            self._started = now
        pts = max(self._last_pts + 1, int((now - self._started) * 90_000))
        self._last_pts = pts
        picture = frame.reformat(width=size[0], height=size[1], format="yuv420p")
        picture.pts, picture.time_base = pts, TIME_BASE
        if self._keyframe_wanted:
            picture.pict_type, self._keyframe_wanted = PictureType.I, False
        packets = list(self._encoder.encode(picture))
        for packet in packets:
            packet.time_base = TIME_BASE
            packet.dts = packet.pts
        self.frames_encoded += 1
        return packets
