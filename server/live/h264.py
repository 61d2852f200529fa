"""H.264 Annex-B helpers for pass-through: find NAL unit types, give keyframes their SPS/PPS."""

from __future__ import annotations

import av
from av.stream import Stream

NAL_SPS = 7
NAL_IDR = 5


def nal_types(data: bytes) -> set[int]:
    """The NAL unit types in an Annex-B buffer."""
    found: set[int] = set()
    index = data.find(b"\x00\x00\x01")
    while index != -1 and index + 3 < len(data):
        found.add(data[index + 3] & 0x1F)
        index = data.find(b"\x00\x00\x01", index + 3)
    return found


def is_annexb(data: bytes) -> bool:
    return data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))


def with_parameter_sets(packet: av.Packet[Stream], extradata: bytes | None) -> av.Packet[Stream]:
    """A keyframe without an in-band SPS gets the stream's (Annex-B) extradata in front of it;
    cameras that send SPS/PPS only in the SDP would otherwise leave viewers black."""
    if not extradata or not is_annexb(extradata) or not packet.is_keyframe:
        return packet
    data = bytes(packet)
    if NAL_SPS in nal_types(data):
        return packet
    fixed = av.Packet(extradata + data)
    fixed.pts, fixed.dts = packet.pts, packet.dts
    if packet.time_base is not None:
        fixed.time_base = packet.time_base
    fixed.is_keyframe = True
    return fixed
