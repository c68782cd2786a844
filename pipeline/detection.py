"""Person detection: ultralytics YOLO batched across cameras, or public MOTChallenge detections."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from reid.errors import UserError
from pipeline.config import DetectorConfig
from pipeline.records import Detections, Frame

PERSON_CLASS = 0
REPOSITORY = Path(__file__).resolve().parent.parent


def resolve_weights(weights: str) -> str:
    """A relative weights path that is not under the working directory but is in the repository (the
    shipped ``models/yolo11n_synthetic_person.pt``) resolves there; anything else is left to ultralytics
    (a bare ``yolo11n.pt`` is fetched by it when online)."""
    path = Path(weights)
    if not path.is_absolute() and not path.exists() and (REPOSITORY / path).is_file():
        return str(REPOSITORY / path)
    return weights


def local_weights_or_fail(weights: str) -> str:
    """``resolve_weights``, and one clear line when a path with a directory names no file (a bare name
    such as ``yolo11n.pt`` is ultralytics' to fetch)."""
    resolved = resolve_weights(weights)
    if len(Path(resolved).parts) > 1 and not Path(resolved).is_file():
        raise UserError(f"YOLO weights not found: {Path(resolved).resolve()} (detector.weights)")
    return resolved


def ultralytics_offline() -> None:
    """Nothing ultralytics does for us may reach the internet (fonts, AMP check weights, hub, installs)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")


@contextlib.contextmanager
def keeping_torch_threads():
    """Restore torch's thread count afterwards: ultralytics' exporter and its ONNX predict path set it to one."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def export_detector_onnx(weights: str | Path, directory: str | Path) -> Path:
    """Ultralytics' exporter: ``directory/<name>.onnx`` with a dynamic input (any batch, any size), the
    file ``detector.weights`` takes to run the detector on ONNX Runtime. The same as
    ``yolo export model=WEIGHTS format=onnx dynamic=True`` (which writes beside the weights)."""
    ultralytics_offline()
    from ultralytics import YOLO

    weights = Path(resolve_weights(str(weights)))
    copy = Path(directory) / weights.name
    copy.write_bytes(weights.read_bytes())
    with keeping_torch_threads():
        return Path(YOLO(str(copy)).export(format="onnx", dynamic=True, verbose=False))


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


def build_detector(config: DetectorConfig, cameras: list[str]):
    if config.backend == "detections":
        if not config.detections_dir:
            raise UserError("detector.backend 'detections' needs detector.detections_dir")
        return PublicDetections(config.detections_dir, cameras, config.min_score)
    return YoloDetector(config)
