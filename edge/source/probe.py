"""A cheap "is the camera answering?" check for a camera that is down: one RTSP OPTIONS request.

Opening a stream (DESCRIBE, SETUP, PLAY, probing, waiting for a keyframe) costs a second or more of
work on both ends; an OPTIONS round trip costs a TCP handshake and two short lines. A down camera
is probed every second or so (jittered, so 50 cameras do not probe in step) and opened as soon as
it answers; only the expensive open backs off while the camera answers but cannot stream.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

RTSP_PORT, RTSPS_PORT = 554, 322


def rtsp_answers(url: str, timeout: float) -> bool:
    """True when the RTSP server at `url` answers an OPTIONS request (any status, 401 included)."""
    parts = urlsplit(url)
    secure = parts.scheme == "rtsps"
    host, port = parts.hostname or "", parts.port or (RTSPS_PORT if secure else RTSP_PORT)
    bare = parts._replace(netloc=f"{host}:{port}").geturl()  # never send the credentials here
    request = f"OPTIONS {bare} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: ioc-edge-probe\r\n\r\n".encode()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.settimeout(timeout)
            with _wrapped(raw, host, secure) as sock:
                sock.sendall(request)
                return bool(sock.recv(16).startswith(b"RTSP/"))
    except (OSError, ssl.SSLError):
        return False


@contextlib.contextmanager
def _wrapped(raw: socket.socket, host: str, secure: bool) -> Iterator[socket.socket]:
    if not secure:
        yield raw
        return
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # reachability only; no data sent
    with context.wrap_socket(raw, server_hostname=host) as sock:
        yield sock
