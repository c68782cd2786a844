"""Person detection: ultralytics YOLO batched across cameras, or public MOTChallenge detections."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from reid.errors import UserError
from pipeline.config import DetectorConfig
from pipeline.records import Detections, Frame
from pipeline.yolo_weights import (
    PERSON_CLASS,
    keeping_torch_threads,
    local_weights_or_fail,
    resolve_weights,
)


class YoloDetector:
    """One ``predict`` call per time step on the frames of all cameras (a list is one batch)."""

    def __init__(self, config: DetectorConfig):
        os.environ.setdefault("YOLO_AUTOINSTALL", "False")
        from ultralytics import YOLO

        self.config = config
        weights = local_weights_or_fail(config.weights)
        try:
            self.model = YOLO(weights, task="detect")
        except Exception as error:  # offline download failure, missing or corrupt file
            if weights.endswith((".yaml", ".yml")):
                raise UserError(f"cannot build YOLO from {weights}: {error}") from error
            raise UserError(
                f"YOLO weights '{weights}' are not available ({type(error).__name__}: offline?); place the file "
                f"at {Path(weights).resolve()} or set detector.weights to a local .pt file"
            ) from error

    def detect(self, frames: list[Frame]) -> list[Detections]:
        if not frames:
            return []
        with keeping_torch_threads():
            results = self._predict(frames)
        detections = []
        for frame, result in zip(frames, results):
            boxes = result.boxes
            detections.append(
                Detections(
                    frame.camera,
                    frame.frame_index,
                    boxes.xyxy.cpu().numpy().astype(np.float32).reshape(-1, 4),
                    boxes.conf.cpu().numpy().astype(np.float32).reshape(-1),
                )
            )
        return detections

    def _predict(self, frames: list[Frame]):
        return self.model.predict(
            [frame.image for frame in frames],
            classes=[PERSON_CLASS],
            conf=self.config.confidence,
            iou=self.config.iou,
            imgsz=self.config.image_size,
            device=self.config.device,
            verbose=False,
        )


class PublicDetections:
    """Reads ``<directory>/<camera>.txt`` MOTChallenge detections ``frame,-1,x,y,w,h,score,...``."""

    def __init__(self, directory: str | Path, cameras: list[str], min_score: float = 0.0):
        directory = Path(directory)
        self.by_camera: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
        for camera in cameras:
            path = directory / f"{camera}.txt"
            if not path.is_file():
                raise UserError(f"camera {camera}: detections file not found: {path}")
            self.by_camera[camera] = self._read(path, min_score)

    @staticmethod
    def _read(path: Path, min_score: float) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        try:
            rows = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as error:
            raise UserError(f"{path}: not a MOTChallenge detections file ({error})") from None
        frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if rows.size == 0:
            return frames
        rows = rows[rows[:, 6] >= min_score]
        for frame_index in np.unique(rows[:, 0]).astype(int):
            selected = rows[rows[:, 0] == frame_index]
            boxes = selected[:, 2:6].copy()
            boxes[:, 2:] += boxes[:, :2]  # x, y, w, h -> x1, y1, x2, y2
            frames[int(frame_index)] = (boxes.astype(np.float32), selected[:, 6].astype(np.float32))
        return frames

    def detect(self, frames: list[Frame]) -> list[Detections]:
        detections = []
        for frame in frames:
            found = self.by_camera.get(frame.camera, {}).get(frame.frame_index)
            if found is None:
                detections.append(Detections.empty(frame.camera, frame.frame_index))
            else:
                detections.append(Detections(frame.camera, frame.frame_index, found[0], found[1]))
        return detections


def runs_on_onnxruntime(config: DetectorConfig) -> bool:
    """Whether YOLO runs on our ONNX Runtime session (``pipeline.detector_onnxruntime``) rather than
    ultralytics' predictor: ``detector.runtime`` onnxruntime, or auto with a ``.pt``/``.onnx`` on the CPU."""
    if config.backend != "yolo" or config.runtime == "ultralytics":
        return False
    if config.runtime == "onnxruntime":
        if config.device != "cpu":
            raise UserError(f"detector.runtime onnxruntime runs on the CPU; device is {config.device!r} "
                            "(use runtime: ultralytics on a CUDA device)")
        return True
    # A bare name (yolo11n.pt) not on disk stays with ultralytics, which fetches it when online.
    return (config.device == "cpu" and config.weights.lower().endswith((".pt", ".onnx"))
            and Path(resolve_weights(config.weights)).is_file())


def onnxruntime_detector_graph(config: DetectorConfig) -> str:
    """The ``.onnx`` our ONNX Runtime session runs: the weights themselves, or the cached export of a ``.pt``."""
    weights = local_weights_or_fail(config.weights)
    if weights.lower().endswith(".onnx"):
        return weights
    if not Path(weights).is_file():
        raise UserError(f"detector.runtime onnxruntime needs local weights; {weights} is not a file here "
                        "(runtime: ultralytics fetches a bare name such as yolo11n.pt when online)")
    from pipeline.detector_export import detector_graph_for_weights

    return str(detector_graph_for_weights(weights))


def prepare_detector(config: DetectorConfig) -> None:
    """The once-only work of ``build_detector`` done ahead (the cached ONNX export of a ``.pt``), so
    that it can overlap other start-up work. Its errors are left for ``build_detector`` to report."""
    try:
        if runs_on_onnxruntime(config):
            onnxruntime_detector_graph(config)
    except UserError:
        pass


def build_detector(config: DetectorConfig, cameras: list[str], threads: int | None = None):
    """The configured detector. threads: CPU threads of an ONNX Runtime detector (None: the usable cores);
    a PyTorch detector takes torch's thread count at the time of each call."""
    if config.backend == "detections":
        if not config.detections_dir:
            raise UserError("detector.backend 'detections' needs detector.detections_dir")
        return PublicDetections(config.detections_dir, cameras, config.min_score)
    if runs_on_onnxruntime(config):
        from pipeline.detector_onnxruntime import OnnxRuntimeYoloDetector

        try:
            graph = onnxruntime_detector_graph(config)
        except UserError as error:
            if config.runtime != "auto":
                raise
            # auto only picks the faster runtime: a .pt that cannot be exported still runs, on PyTorch.
            from reid.log_levels import say

            say(f"detector: {error}; running it on ultralytics (PyTorch) instead", error_stream=True)
            return YoloDetector(config)
        return OnnxRuntimeYoloDetector(replace(config, weights=graph), threads)
    return YoloDetector(config)
