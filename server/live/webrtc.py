"""aiortc peer-connection details that the traps in MEDIA.md ask for, kept in one place.

- H.264 codec preferences and the track are set *before* `setRemoteDescription` (else aiortc
  answers VP8 and sends H.264 bytes as VP8).
- Browser mDNS `*.local` candidates are dropped from offers (resolving them binds 0.0.0.0:5353);
  the browser is then met by peer-reflexive pairing.
- aioice never offers loopback: configured extra host addresses are gathered too.
"""

from __future__ import annotations

import logging
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from server.live.settings import LiveSettings

logger = logging.getLogger(__name__)


def rtc_configuration(settings: LiveSettings) -> RTCConfiguration:
    servers = [
        RTCIceServer(
            urls=url,
            username=settings.turn_username if url.startswith("turn") else None,
            credential=settings.turn_password.get_secret_value()
            if url.startswith("turn") and settings.turn_password
            else None,
        )
        for url in settings.ice_servers
    ]
    return RTCConfiguration(iceServers=servers)


def drop_mdns_candidates(sdp: str) -> str:
    lines = sdp.splitlines()
    kept = [line for line in lines if not (line.startswith("a=candidate:") and ".local " in line)]
    return "\r\n".join(kept) + "\r\n"


def prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    capabilities = RTCRtpSender.getCapabilities("video")
    h264 = [codec for codec in capabilities.codecs if codec.mimeType.lower() == "video/h264"]
    transceiver.setCodecPreferences(h264)


def add_sendonly_video(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpTransceiver:
    pc.addTrack(track)
    transceiver = next(t for t in pc.getTransceivers() if t.sender.track is track)
    prefer_h264(transceiver)
    return transceiver


def gather_extra_addresses(pc: RTCPeerConnection, addresses: list[str]) -> None:
    """Also gather host candidates on `addresses` (e.g. 127.0.0.1) for every ICE transport of `pc`."""
    if not addresses:
        return
    for transceiver in pc.getTransceivers():
        connection: Any = transceiver.sender.transport.transport.iceGatherer._connection
        _extend_gathering(connection, addresses)


def _extend_gathering(connection: Any, addresses: list[str]) -> None:
    if getattr(connection, "_ioc_extra_addresses", None) is not None:
        return
    connection._ioc_extra_addresses = addresses
    original = connection.gather_candidates

    async def gather_candidates() -> None:
        first = not connection._local_candidates_end
        await original()
        if not first:
            return
        for component in connection._components:
            extra = await connection.get_component_candidates(component=component, addresses=addresses)
            connection._local_candidates += extra

    connection.gather_candidates = gather_candidates
