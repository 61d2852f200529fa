"""Object detector back-ends, chosen per camera by name."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contract.config.types import StrictModel


class UltralyticsDetector(StrictModel):
    """`ultralytics.YOLO(model)`: a .pt, .onnx or OpenVINO folder, loaded from a path only."""

    type: Literal["ultralytics"]
    """back-end: `ultralytics` or `onnx`"""
    model: str = Field(min_length=1, description="path to the weights; never a hub name")
    imgsz: int = Field(default=640, ge=32, le=2048, multiple_of=32)
    device: str = "cpu"
    """`cpu`, `cuda:0`, ..."""
    max_batch: int = Field(default=8, ge=1, le=64)


class OnnxDetector(StrictModel):
    """onnxruntime alone (no torch), for light edge hosts; same output as ultralytics."""

    type: Literal["onnx"]
    """back-end: `ultralytics` or `onnx`"""
    model: str = Field(min_length=1)
    imgsz: int = Field(default=640, ge=32, le=2048, multiple_of=32)
    threads: int = Field(default=0, ge=0, le=64, description="inference threads; 0: one thread that sleeps when idle")
    max_batch: int = Field(default=8, ge=1, le=64)


DetectorConfig = Annotated[UltralyticsDetector | OnnxDetector, Field(discriminator="type")]
