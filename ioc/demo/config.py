"""The demo's streams.yaml: four looping cameras (`ioc.demo.cameras`) and the Sóc Trăng sensors, with
rules tuned so that alerts fire within minutes (the simulator speeds tides up), written into the demo's work folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contract.config import StreamsConfig, parse_config
from ioc.demo.cameras import EXTRA_SITES, cameras_yaml
from ioc.sim.stations import with_demo_loggers

DEMO_WORKER = "demo-edge"
DEMO_CAMERA = "hall-entrance"

_VIDEO_CANDIDATES = (
    "/usr/share/doc/opencv-doc/examples/data/vtest.avi",
    "/usr/share/opencv4/samples/data/vtest.avi",
)
_MODEL_GLOBS = ("yolo11n*.pt", "yolo11n*.onnx", "yolov8n*.pt", "yolov8n*.onnx", "*.pt", "*.onnx")


@dataclass(frozen=True)
class DemoInputs:
    video: Path | None
    model: Path | None
    clips: tuple[Path, ...] = ()
    """one clip per demo camera (`ioc.demo.cameras.demo_clips`)"""


def find_video(explicit: str | None) -> Path | None:
    for candidate in (explicit, os.environ.get("IOC_DEMO_VIDEO"), os.environ.get("IOC_TEST_VIDEO"), *_VIDEO_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


def find_model(explicit: str | None, models_dir: Path = Path("models")) -> Path | None:
    for candidate in (explicit, os.environ.get("IOC_DEMO_MODEL"), os.environ.get("IOC_TEST_MODEL")):
        if candidate and Path(candidate).exists():
            return Path(candidate).resolve()
    for pattern in _MODEL_GLOBS:
        found = sorted(models_dir.glob(pattern)) if models_dir.is_dir() else []
        if found:
            return found[0].resolve()
    return None


def _imgsz(model: Path) -> int:
    return 320 if "320" in model.name else 640


def _camera_yaml(inputs: DemoInputs) -> str:
    clips = list(inputs.clips) or ([inputs.video] if inputs.video is not None else [])
    return cameras_yaml(clips, inputs.model)


def _detectors_yaml(inputs: DemoInputs) -> str:
    if inputs.model is None:
        return ""
    kind = "onnx" if inputs.model.suffix == ".onnx" else "ultralytics"
    return f'detectors:\n  demo: {{type: {kind}, model: "{inputs.model}", imgsz: {_imgsz(inputs.model)}}}\n'


_SENSORS_AND_RULES = """\
sensors:
  - {id: sal-long-phu, name: Độ mặn - kênh Long Phú, kind: salinity, unit: "‰", site: long-phu,
     range: {min: 0, max: 45}, expected_interval: 5s, location: {lat: 9.6150, lon: 106.1300}}
  - id: sal-dai-ngai
    name: Độ mặn - sông Hậu, Đại Ngãi
    kind: salinity
    unit: "‰"
    site: long-phu
    topic: stations/dai-ngai/wq
    payload: {format: fiware, entity_type: WaterQualityObserved, attribute: salinity}
    range: {min: 0, max: 45}
    expected_interval: 5s
    location: {lat: 9.6460, lon: 106.1690}
  - id: sal-tran-de
    name: Độ mặn - cửa Trần Đề
    kind: salinity
    unit: "‰"
    site: tran-de
    topic: loggers/tran-de/ec
    payload: {format: json, value_path: $.data.sal_ppt, time_path: $.data.time}
    range: {min: 0, max: 45}
    expected_interval: 5s
    location: {lat: 9.5050, lon: 106.2000}
  - id: level-tran-de
    name: Mực nước - trạm Trần Đề
    kind: water_level
    unit: m
    site: tran-de
    payload: {format: json, value_path: $.level_cm}
    convert: {scale: 0.01}
    range: {min: -3, max: 5}
    expected_interval: 5s
    location: {lat: 9.5100, lon: 106.1900}
  - {id: rain-city, name: Lượng mưa - TP. Sóc Trăng, kind: rainfall, unit: mm, site: soc-trang-city,
     range: {min: 0, max: 500}, expected_interval: 5s, location: {lat: 9.6000, lon: 105.9700}}
  - id: pm25-city
    name: Bụi mịn PM2.5 - Hồ Nước Ngọt
    kind: pm25
    unit: "µg/m³"
    site: soc-trang-city
    topic: air/hnn/pm
    payload: {format: fiware, entity_type: AirQualityObserved, attribute: pm25}
    range: {min: 0, max: 1000}
    expected_interval: 5s
    location: {lat: 9.5990, lon: 105.9710}

rules:
  - {id: salinity-orchard, name: Độ mặn vượt 2‰, type: threshold, sensor_kind: salinity,
     raise: {above: 2.0, for: 10s}, clear: {below: 1.7, for: 20s}, severity: warning}
  - {id: salinity-intrusion, name: Xâm nhập mặn 4‰, type: threshold, sensor_kind: salinity,
     raise: {above: 4.0, for: 10s}, clear: {below: 3.5, for: 20s}, severity: critical}
  - {id: water-level-high, name: Triều cường, type: threshold, sensors: [level-tran-de],
     raise: {above: 1.6, for: 10s}, clear: {below: 1.4, for: 20s}, severity: warning}
  - {id: pm25-unhealthy, name: PM2.5 kém, type: threshold, sensors: [pm25-city],
     raise: {above: 55.5, for: 10s}, clear: {below: 35.5, for: 20s}, severity: warning}
  - {id: station-silent, name: Trạm mất tín hiệu, type: no_data, sensor_kind: salinity, after: 30s}
"""


def demo_config_text(inputs: DemoInputs, topic_prefix: str = "ioc") -> str:
    return (
        "# Written by `ioc demo`; edit and save: the server and the edge worker reload it.\n"
        f"version: 1\nmqtt: {{topic_prefix: {topic_prefix}}}\n"
        "sites:\n"
        "  - {id: soc-trang-city, name: TP. Sóc Trăng, location: {lat: 9.6025, lon: 105.9739}}\n"
        "  - {id: long-phu, name: Huyện Long Phú, location: {lat: 9.6120, lon: 106.1280}}\n"
        "  - {id: tran-de, name: Huyện Trần Đề, location: {lat: 9.5050, lon: 106.2000}}\n"
        + EXTRA_SITES
        + "console: {title: {vi: IOC Sóc Trăng, en: Sóc Trăng IOC}}\n"
        f"edge_workers:\n  - {{id: {DEMO_WORKER}, name: Demo edge worker}}\n"
        + _detectors_yaml(inputs)
        + _camera_yaml(inputs)
        + with_demo_loggers(_SENSORS_AND_RULES)
    )


def write_demo_config(workdir: Path, inputs: DemoInputs) -> tuple[Path, StreamsConfig]:
    """Write workdir/streams.yaml and return it validated (a demo config that fails is a bug)."""
    text = demo_config_text(inputs)
    path = workdir / "streams.yaml"
    path.write_text(text, encoding="utf-8")
    return path, parse_config(text, filename=str(path), env={})
