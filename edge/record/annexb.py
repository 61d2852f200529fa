"""Annex-B bytes from MP4-style (length-prefixed) H.264/H.265, for probing a stream's parameters.

RTSP gives Annex-B (start codes, SPS/PPS in the SDP or in-band); a file source in MP4 gives
length-prefixed NAL units with an avcC / hvcC record as extradata. The recorder writes
Annex-B throughout (the MP4 muxer turns it into avcC / hvcC): length-prefixed packets are rewritten
with start codes (`to_annexb`), a copy per packet and no decoding.
"""

from __future__ import annotations

START = b"\x00\x00\x00\x01"


def _is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(START)


def _avcc_nals(extradata: bytes) -> tuple[list[bytes], int]:
    length_size = (extradata[4] & 3) + 1
    nals, pos = [], 6
    for count_mask in (0x1F, 0xFF):
        count = extradata[pos - 1] & count_mask
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            nals.append(extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
        pos += 1  # the PPS count byte follows the SPS list
    return nals, length_size


def _hvcc_nals(extradata: bytes) -> tuple[list[bytes], int]:
    length_size = (extradata[21] & 3) + 1
    nals, pos = [], 23
    for _ in range(extradata[22]):
        count = int.from_bytes(extradata[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            nals.append(extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return nals, length_size


def _split(data: bytes, length_size: int) -> list[bytes]:
    nals, pos = [], 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        nals.append(data[pos + length_size : pos + length_size + size])
        pos += length_size + size
    return nals


def probe_bytes(codec: str, extradata: bytes, keyframe: bytes) -> bytes:
    """Annex-B parameter sets and keyframe: enough for FFmpeg's raw h264/hevc demuxer to probe."""
    if not extradata or _is_annexb(extradata):
        return extradata + keyframe
    nals, length_size = _hvcc_nals(extradata) if codec == "hevc" else _avcc_nals(extradata)
    frame = keyframe if _is_annexb(keyframe) else b"".join(START + n for n in _split(keyframe, length_size))
    return b"".join(START + n for n in nals) + frame


def length_size(codec: str, extradata: bytes) -> int | None:
    """The NAL length-prefix size of a length-prefixed stream, None when it is Annex-B already."""
    if not extradata or _is_annexb(extradata):
        return None
    return _hvcc_nals(extradata)[1] if codec == "hevc" else _avcc_nals(extradata)[1]


def to_annexb(data: bytes, prefix: int | None) -> bytes:
    if prefix is None or _is_annexb(data):
        return data
    return b"".join(START + n for n in _split(data, prefix))
