"""The demo's cameras: four, at four sites of the province, so that the wall, the map and the overview
are full from the first minute. They loop OpenCV's vtest.avi where it is found; otherwise clips that
the demo makes from the sample pictures ultralytics ships (a slow pan across each), written once into
the demo's work folder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import VideoFrame

logger = logging.getLogger(__name__)

CLIP_SIZE = (640, 360)
CLIP_FPS = 10
CLIP_SECONDS = 12


@dataclass(frozen=True)
class DemoCamera:
    id: str
    name: str
    site: str
    lat: float
    lon: float


CAMERAS = (
    DemoCamera("hall-entrance", "Sảnh Trung tâm Hành chính", "soc-trang-city", 9.6030, 105.9745),
    DemoCamera("dai-ngai-ferry", "Bến phà Đại Ngãi", "long-phu", 9.6470, 106.1700),
    DemoCamera("tran-de-port", "Cảng cá Trần Đề", "tran-de", 9.5070, 106.2020),
    DemoCamera("vinh-chau-market", "Chợ Vĩnh Châu", "vinh-chau", 9.3300, 105.9800),
)
EXTRA_SITES = "  - {id: vinh-chau, name: Thị xã Vĩnh Châu, location: {lat: 9.3300, lon: 105.9800}}\n"


def sample_pictures() -> list[Path]:
    """The sample pictures an installed ultralytics ships (bus.jpg, zidane.jpg), if any."""
    try:
        import ultralytics
    except ImportError:
        return []
    assets = Path(ultralytics.__file__).parent / "assets"
    return sorted(assets.glob("*.jpg"))


def pan_clip(picture: Path, out: Path, reverse: bool = False) -> Path:
    """A CLIP_SECONDS H.264 MP4 panning slowly across `picture` (the scene moves, so motion and
    detection have work to do)."""
    with av.open(str(picture)) as source:
        image = next(source.decode(video=0)).to_ndarray(format="rgb24")
    height, width = image.shape[:2]
    scale = max(CLIP_SIZE[0] / width, CLIP_SIZE[1] / height) * 1.3
    big = (
        VideoFrame.from_ndarray(image, format="rgb24")
        .reformat(width=int(width * scale) // 2 * 2, height=int(height * scale) // 2 * 2)
        .to_ndarray(format="rgb24")
    )
    frames = CLIP_FPS * CLIP_SECONDS
    span_x, span_y = big.shape[1] - CLIP_SIZE[0], big.shape[0] - CLIP_SIZE[1]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        stream.codec_context.time_base = Fraction(1, CLIP_FPS)
        for index in range(frames):
            phase = index / (frames - 1)
            phase = 1 - phase if reverse else phase
            x, y = int(span_x * phase), int(span_y * (0.5 - abs(phase - 0.5)))
            crop = big[y : y + CLIP_SIZE[1], x : x + CLIP_SIZE[0]].copy()
            frame = VideoFrame.from_ndarray(crop, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out


def demo_clips(video: Path | None, workdir: Path) -> list[Path]:
    """One clip per demo camera: vtest.avi for all, else pans made from the sample pictures."""
    if video is not None:
        return [video] * len(CAMERAS)
    pictures = sample_pictures()
    if not pictures:
        return []
    clips_dir = workdir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    clips = []
    for index, camera in enumerate(CAMERAS):
        picture = pictures[index % len(pictures)]
        out = clips_dir / f"{camera.id}.mp4"
        if not out.exists():
            pan_clip(picture, out, reverse=index >= len(pictures))
        clips.append(out)
    return clips


def cameras_yaml(clips: list[Path], model: Path | None) -> str:
    """The cameras section of the demo's streams.yaml."""
    if not clips:
        return "cameras: []\n"
    detector = "demo" if model is not None else "default"
    detect = "true" if model is not None else "false"
    lines = ["cameras:\n"]
    for camera, clip in zip(CAMERAS, clips, strict=False):
        first = camera.id == CAMERAS[0].id
        lines.append(f"""\
  - id: {camera.id}
    name: {camera.name}
    site: {camera.site}
    worker: demo-edge
    source: {{type: file, path: "{clip}", loop: true}}
    detect: {{enabled: {detect}, detector: {detector}, fps: {3 if first else 2},
      classes: [person, car, bus, motorcycle], min_confidence: 0.3}}
    zones:
      - id: {"hall" if first else "area"}
        name: {"Sảnh" if first else "Khu vực giám sát"}
        points: [[0.05, 0.30], [0.95, 0.30], [0.95, 0.98], [0.05, 0.98]]
        loiter_time: 20s
        occupancy_threshold: 6
    lines:
      - id: {"corridor" if first else "gate"}
        name: {"Hành lang" if first else "Lối vào"}
        start: [0.05, 0.60]
        end: [0.95, 0.60]
    location: {{lat: {camera.lat}, lon: {camera.lon}}}
""")
    return "".join(lines)
