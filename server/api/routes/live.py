"""Live view: WebRTC offer/answer per camera, viewer close, status, the JPEG/MJPEG fallback, and the
detection overlay stream (a WebSocket per camera: recent detections and live frames, then each new
one, and the server's clock for the client to match frames to the picture)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Response, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from contract.config import Camera, RtspSource
from server.api.deps import ConfigDep, LiveDep, OverlayDep
from server.api.websockets import next_unless
from server.auth.deps import CurrentPrincipal, optional_principal
from server.auth.roles import Role
from server.live.hub import BadOfferError, TooManyViewersError, UnknownCameraError
from server.live.phase import plays_in_phase
from server.overlay.fanout import DetectionFanout, OverlaySubscription
from server.state import services_of

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/live", tags=["live"])

BOUNDARY = "ioc-frame"
UNKNOWN_CAMERA = 4404
TRY_AGAIN_LATER = 1013


HubDep = LiveDep


async def camera_in_scope(camera_id: str, config: ConfigDep) -> None:
    """A camera outside the caller's sites does not exist for them (the config they see lacks it)."""
    if config.camera(camera_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")


CAMERA_IN_SCOPE = [Depends(camera_in_scope)]


class Offer(BaseModel):
    sdp: str = Field(min_length=10, max_length=64_000)
    type: Literal["offer"] = "offer"


class Answer(BaseModel):
    viewer_id: str
    sdp: str
    type: Literal["answer"] = "answer"


class CameraLive(BaseModel):
    viewers: int
    pulling: bool
    mode: Literal["passthrough", "transcode"] | None
    """while pulling: the camera's H.264 passed through, or its video transcoded once for all viewers"""
    codec: str | None
    """the camera's own video codec, while pulling"""
    encoded: int
    """pictures the camera's shared encoder has encoded (one count whatever the number of viewers)"""
    mjpeg_clients: int
    fps: float
    opens: int
    failures: int


def _translate(exc: Exception) -> HTTPException:
    if isinstance(exc, UnknownCameraError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, TooManyViewersError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))


@router.post("/{camera_id}/offer", dependencies=CAMERA_IN_SCOPE)
async def offer(camera_id: str, body: Offer, hub: HubDep, principal: CurrentPrincipal) -> Answer:
    try:
        viewer_id, sdp = await hub.answer(camera_id, body.sdp, principal.label)
    except (UnknownCameraError, TooManyViewersError, BadOfferError) as exc:
        raise _translate(exc) from exc
    return Answer(viewer_id=viewer_id, sdp=sdp)


@router.post("/viewers/{viewer_id}/close", status_code=status.HTTP_204_NO_CONTENT)
async def close_viewer(viewer_id: str, hub: HubDep, principal: CurrentPrincipal) -> None:
    viewer = hub.viewer(viewer_id)
    if viewer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no live viewer {viewer_id}")
    if viewer.user != principal.label and not principal.role.allows(Role.OPERATOR):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only its owner or an operator closes a viewer")
    await hub.close_viewer(viewer_id)


@router.get("/status")
async def live_status(hub: HubDep) -> dict[str, CameraLive]:
    return {camera_id: CameraLive(**values) for camera_id, values in hub.status().items()}


@router.get(
    "/{camera_id}/snapshot.jpg",
    dependencies=CAMERA_IN_SCOPE,
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def snapshot(camera_id: str, hub: HubDep) -> Response:
    try:
        jpeg = await hub.snapshot(camera_id)
    except UnknownCameraError as exc:
        raise _translate(exc) from exc
    if jpeg is None:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"camera '{camera_id}' sent no picture in time")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


FallbackReason = Literal["webrtc_failed", "no_frames", "unsupported", "requested"]


@router.get("/{camera_id}/mjpeg", dependencies=CAMERA_IN_SCOPE, response_class=StreamingResponse)
async def mjpeg(
    camera_id: str, hub: HubDep, principal: CurrentPrincipal, reason: FallbackReason = "requested"
) -> StreamingResponse:
    """The fallback stream: the camera's pictures (a few a second) as multipart/x-mixed-replace,
    from one shared decoder per camera; `reason` says why the browser fell back (it is logged)."""
    try:
        feed = hub.mjpeg(camera_id)
    except UnknownCameraError as exc:
        raise _translate(exc) from exc
    logger.info("camera %s: MJPEG fallback for %s (%s)", camera_id, principal.label, reason)
    media_type = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    headers = {"Cache-Control": "no-store", "X-IOC-Fallback-Reason": reason}
    return StreamingResponse(_mjpeg_parts(feed.pictures()), media_type=media_type, headers=headers)


async def _mjpeg_parts(pictures: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for jpeg in pictures:
            yield f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
            yield jpeg + b"\r\n"
    except TimeoutError:
        logger.info("MJPEG stream ended: the camera sent no picture in 10 s")


class OverlayStatus(BaseModel):
    clients: int
    published: int
    frames: int
    """live detection frames fanned out"""
    delivered: int
    stale: int
    cut_off: int
    """overlay clients dropped for falling behind"""


@router.get("/overlay/status")
async def overlay_status(overlay: OverlayDep) -> OverlayStatus:
    return OverlayStatus(**overlay.stats())


@router.websocket("/{camera_id}/detections")
async def detections(websocket: WebSocket, camera_id: str) -> None:
    """The camera's overlay stream: `{"type": "snapshot", "detections": [...], "frames": [...]}` (the
    last few seconds), then `{"type": "detection"}` as each event is stored and `{"type": "frame"}`
    for each detected picture; `{"type": "source"}` says whether frames can be matched to the picture
    by time (RTSP and a phase-locked looping file: yes; another file: no). A client may send
    `{"type": "ping", "id": n}` and gets `{"type": "pong", "id": n, "server_t": <epoch ms>}` back (to
    learn the server's clock)."""
    services = services_of(websocket)
    overlay = services.overlay
    await websocket.accept()
    seen = services.scoped_views.view(services.config, await optional_principal(websocket))
    camera = seen.camera(camera_id)
    if camera is None:
        await websocket.close(code=UNKNOWN_CAMERA, reason="no such camera")
        return
    try:
        subscription = overlay.subscribe(camera_id)
    except ConnectionRefusedError as exc:
        await websocket.close(code=TRY_AGAIN_LATER, reason=str(exc))
        return
    overlay.reply(subscription, await source_message(camera))
    gone = asyncio.create_task(_answer_pings(websocket, overlay, subscription))
    try:
        while (message := await next_unless(subscription.next, gone)) is not None:
            await websocket.send_json(message)
        if not gone.done():
            await websocket.close(code=TRY_AGAIN_LATER, reason="too slow: reconnect")
    except WebSocketDisconnect:
        pass
    finally:
        gone.cancel()
        overlay.unsubscribe(subscription)


async def source_message(camera: Camera) -> dict[str, object]:
    """`{"type": "source"}`: whether live frames can be matched to this camera's picture by time.
    An RTSP stream reaches the edge and the server at the same moment; a looping realtime file is
    played by each in phase with the wall clock (same picture at the same moment) when its duration
    is known; any other file is read by each on its own, so its frames are not drawn."""
    source = camera.source
    timed = isinstance(source, RtspSource) or await asyncio.to_thread(plays_in_phase, source)
    return {"type": "source", "camera_id": camera.id, "timed": timed, "relay_ms": 0}


async def _answer_pings(websocket: WebSocket, overlay: DetectionFanout, subscription: OverlaySubscription) -> None:
    """Until the client goes away: each ping is answered with the server's wall clock; anything
    else it sends is ignored."""
    while (received := await websocket.receive())["type"] != "websocket.disconnect":
        ping = clock_ping(received.get("text"))
        if ping is not None:
            overlay.reply(subscription, {"type": "pong", "id": ping, "server_t": time.time() * 1000})


def clock_ping(text: str | None) -> int | None:
    """The id of a `{"type": "ping", "id": n}` message, else None."""
    if not text or len(text) > 200:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("type") != "ping":
        return None
    ping = message.get("id")
    return ping if isinstance(ping, int) and not isinstance(ping, bool) else None
