"""The `onnx` back-end: onnxruntime alone (no torch), same pre- and post-processing as ultralytics.

Exports with a fixed batch of 1 are made batchable at load time: the batch dimension becomes
symbolic and Reshape targets that pin the batch to 1 copy it from their input instead.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from contract.config import DetectorConfig, OnnxDetector
from edge.detect.boxes import Letterbox, decode_yolo, letterbox
from edge.detect.protocol import Detections, DetectorError
from edge.source.frames import BgrImage

logger = logging.getLogger(__name__)


def _dynamic_batch(model: Any) -> bytes:
    """The model with a symbolic batch dimension (see the module docstring)."""
    from onnx import numpy_helper

    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        target = initializers.get(node.input[1]) if node.op_type == "Reshape" else None
        if target is None or node.input[0] in initializers:
            continue
        shape = numpy_helper.to_array(target).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0  # 0: copy the dimension from the input
            target.CopyFrom(numpy_helper.from_array(shape, target.name))
    del model.graph.value_info[:]
    return bytes(model.SerializeToString())


def _model_bytes(path: Path, batchable: bool) -> tuple[bytes, bool]:
    import onnx

    model = onnx.load(str(path))
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    if dim.HasField("dim_value") and dim.dim_value == 1:
        if not batchable:
            return bytes(model.SerializeToString()), False
        return _dynamic_batch(model), True
    return bytes(model.SerializeToString()), True


# onnxruntime's default (one spinning intra-op thread per core) cost 2.5x the CPU per frame on a
# loaded 2-core host (88 ms vs 35 ms for yolo11n int8 @320); one thread that sleeps when idle
# leaves the other core to the decoders.
DEFAULT_THREADS = 1


def session_options(threads: int) -> Any:
    """Session options for a shared edge host: few threads, no spinning, all graph optimisations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads or DEFAULT_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class OnnxYoloDetector:
    def __init__(self, config: OnnxDetector, path: Path) -> None:
        import onnxruntime as ort

        options = session_options(config.threads)
        data, batchable = _model_bytes(path, config.max_batch > 1)
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise DetectorError(f"onnxruntime cannot load '{path}': {exc}") from exc
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.names: Mapping[int, str] = ast.literal_eval(metadata["names"]) if "names" in metadata else {}
        shape = self._session.get_inputs()[0].shape
        self._imgsz = int(shape[2]) if isinstance(shape[2], int) else config.imgsz
        self._input = self._session.get_inputs()[0].name
        self.max_batch = config.max_batch if batchable else 1
        self.input_size = self._imgsz
        logger.info("onnx detector: %s, input %d, batch up to %d", path.name, self._imgsz, self.max_batch)

    def detect(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]:
        results: list[Detections] = []
        for start in range(0, len(frames), self.max_batch):
            results.extend(self._run(frames[start : start + self.max_batch], min_confidence))
        return results

    def _run(self, frames: Sequence[BgrImage], min_confidence: float) -> list[Detections]:
        boxes: list[Letterbox] = []
        tensors = []
        for frame in frames:
            padded, box = letterbox(frame, self._imgsz)
            boxes.append(box)
            tensors.append(padded[:, :, ::-1].transpose(2, 0, 1))
        batch = np.ascontiguousarray(np.stack(tensors), dtype=np.float32) / np.float32(255.0)
        output = self._session.run(None, {self._input: batch})[0]
        return [decode_yolo(output[i], boxes[i], frames[i].shape[:2], min_confidence) for i in range(len(frames))]

    def close(self) -> None:
        del self._session


def load_onnx(config: DetectorConfig, path: Path) -> OnnxYoloDetector:
    if not isinstance(config, OnnxDetector):
        raise DetectorError("the onnx back-end needs an 'onnx' detector config")
    return OnnxYoloDetector(config, path)
