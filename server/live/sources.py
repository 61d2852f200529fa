"""What a camera pull reads H.264 packets from: the camera's own stream passed through (RTSP H.264),
or pictures decoded and encoded once by the pull's shared encoder (files, H.265, MPEG-4, MJPEG…).

`open_source` decides: a file is always transcoded (its packets are not Annex-B and it loops); an
RTSP stream is passed through when it is H.264, else transcoded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Literal, Protocol

import av
from av.stream import Stream

from server.live.decode import FrameReader, ReaderOptions, open_container
from server.live.demux import PacketReader
from server.live.transcode import H264Transcoder

Mode = Literal["passthrough", "transcode"]
PASSTHROUGH_CODECS = ("h264",)


class PacketSource(Protocol):
    mode: Mode
    codec: str
    extradata: bytes | None

    async def recv(self) -> av.Packet[Stream]: ...

    async def close(self) -> None: ...


def rtsp_options(tcp: bool, read_timeout_s: float) -> dict[str, str]:
    """The smallest probe: the codec comes from the SDP, and the first packet ends probing (a 32 KB
    probe waited ~260 ms for the first frames of a 640x360 sub-stream before a viewer saw any)."""
    return {
        "rtsp_transport": "tcp" if tcp else "udp",
        "timeout": str(int(read_timeout_s * 1_000_000)),
        "probesize": "32",
        "analyzeduration": "500000",
    }


class PassthroughSource:
    mode: Mode = "passthrough"

    def __init__(self, reader: PacketReader, codec: str, extradata: bytes | None) -> None:
        self._reader = reader
        self.codec = codec
        self.extradata = extradata

    async def recv(self) -> av.Packet[Stream]:
        return await self._reader.recv()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._reader.close)


class TranscodedSource:
    mode: Mode = "transcode"
    extradata: bytes | None = None

    def __init__(self, reader: FrameReader, encoder: H264Transcoder) -> None:
        self._reader = reader
        self._encoder = encoder
        self._pending: deque[av.Packet[Stream]] = deque()
        self.codec = reader.codec
        encoder.fps_hint = max(1, round(min(reader.fps, reader.max_fps)))

    @property
    def dropped(self) -> int:
        return self._reader.dropped

    async def recv(self) -> av.Packet[Stream]:
        loop = asyncio.get_running_loop()
        while not self._pending:
            frame = await self._reader.recv()
            self._pending.extend(await loop.run_in_executor(None, self._encoder.encode, frame))
        return self._pending.popleft()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._reader.close)


def _open_passthrough(
    options: ReaderOptions, loop: asyncio.AbstractEventLoop, on_drop: Callable[[], object] | None
) -> PassthroughSource | str:
    """Blocking. The RTSP stream as is when it is H.264, else the name of its codec."""
    container = open_container(options)
    context = container.streams.video[0].codec_context
    if context.name not in PASSTHROUGH_CODECS:
        container.close()
        return context.name
    extradata = bytes(context.extradata) if context.extradata else None
    return PassthroughSource(PacketReader(container, loop, on_drop=on_drop), context.name, extradata)


def open_source(
    url: str,
    rtsp: bool,
    tcp: bool,
    open_timeout_s: float,
    read_timeout_s: float,
    encoder: H264Transcoder,
    loop: asyncio.AbstractEventLoop,
    transcode: bool = False,
    on_drop: Callable[[], object] | None = None,
    phase_locked: bool = False,
) -> PacketSource:
    """Blocking (run it in an executor). `transcode`: the RTSP stream is known not to be H.264;
    `phase_locked`: a file played in phase with the wall clock (`ReaderOptions.phase_locked`)."""
    if rtsp:
        options = ReaderOptions(
            url, "rtsp", rtsp_options(tcp, read_timeout_s), open_timeout_s, read_timeout_s, paced=False
        )
        if not transcode:
            opened = _open_passthrough(options, loop, on_drop)
            if not isinstance(opened, str):
                return opened
    else:
        options = ReaderOptions(url, None, None, open_timeout_s, read_timeout_s, paced=True, phase_locked=phase_locked)
    reader = FrameReader(options, open_container(options), loop, on_drop)
    return TranscodedSource(reader, encoder)
