"""Detector back-ends by their `type` in streams.yaml; each module is imported only when used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from contract.config import DetectorConfig
from edge.detect.protocol import Detector, DetectorError

DetectorFactory = Callable[[DetectorConfig, Path], Detector]

# type -> "module:function"; the function takes (config, model path) and returns a Detector
BACKENDS: dict[str, str] = {
    "ultralytics": "edge.detect.ultralytics:load_ultralytics",
    "onnx": "edge.detect.onnx:load_onnx",
}


def resolve_model_path(model: str, base_dir: Path) -> Path:
    """A relative model path is looked up next to streams.yaml, then in the working directory."""
    path = Path(model).expanduser()
    if path.is_absolute():
        return path
    beside = base_dir / path
    return beside if beside.exists() else path


def create_detector(config: DetectorConfig, base_dir: Path) -> Detector:
    target = BACKENDS.get(config.type)
    if target is None:
        raise DetectorError(f"unknown detector type '{config.type}' (known: {', '.join(sorted(BACKENDS))})")
    path = resolve_model_path(config.model, base_dir)
    if not path.exists():
        raise DetectorError(f"model '{config.model}' not found (looked in {base_dir} and the working directory)")
    module_name, function = target.split(":")
    factory: DetectorFactory = getattr(importlib.import_module(module_name), function)
    return factory(config, path)
