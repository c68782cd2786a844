"""YOLO person detection on ONNX Runtime's CPU provider with the project's session options.

Runs a detection graph exported by ultralytics (``yolo export ... format=onnx dynamic=True``; a
``.pt`` is exported once by ``pipeline.detector_export``). Pre- and post-processing are ultralytics'
own: ``LetterBox`` (the rectangular letterbox its predictor uses for dynamic graphs), its
``non_max_suppression`` and ``scale_boxes``, with the arguments its ``DetectionPredictor`` passes,
so the boxes are the ones ``YOLO(onnx).predict`` returns (``tests/test_detector_onnxruntime.py``
checks them against ultralytics' PyTorch predictions).

Only the session is ours: ultralytics opens ONNX Runtime with its defaults, whose idle worker
threads busy-wait for the next run. In the pipeline the detector runs one step ahead in a thread
beside the part-feature extractor, and spinning threads take the cores the extractor needs (the
demo, 2 cores: pipeline 101.7 s with ultralytics' session against 94.4 s with PyTorch).
``reid.runtime.onnxruntime_backend.session_options`` (spinning off, a chosen thread count) is the
one definition of that choice for both models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.config import DetectorConfig
from pipeline.records import Detections, Frame
from pipeline.yolo_weights import PERSON_CLASS
from reid.errors import UserError

MAX_DETECTIONS = 300  # ultralytics' predictor default (max_det)
DEFAULT_STRIDE = 32


def _metadata(session) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


def graph_stride(metadata: dict[str, str]) -> int:
    """The network's largest stride from ultralytics' export metadata (``'stride': '32'``)."""
    try:
        return int(float(metadata.get("stride", DEFAULT_STRIDE)))
    except ValueError:
        return DEFAULT_STRIDE


def graph_is_end_to_end(metadata: dict[str, str]) -> bool:
    """Whether the graph already applies NMS (YOLO26/YOLOv10 exports write ``end2end``)."""
    return str(metadata.get("end2end", "False")).lower() == "true"


class OnnxRuntimeYoloDetector:
    """One ``session.run`` per time step on the frames of all cameras (one batch).

    config: ``weights`` a ``.onnx`` with a dynamic input [N, 3, H, W] (float32 RGB in 0..1) and
    output [N, 4 + classes, anchors] (centre-x, centre-y, width, height, class scores), as
    ultralytics' exporter writes it; ``image_size`` the longer side of the letterboxed input;
    ``confidence``, ``iou`` as for ultralytics' predictor. threads: ONNX Runtime's intra-op
    threads (None: the usable cores).
    """

    def __init__(self, config: DetectorConfig, threads: int | None = None):
        try:
            import onnxruntime
        except ImportError as error:
            raise UserError("an .onnx detector needs the onnxruntime package (pip install onnxruntime)") from error
        from reid.runtime.onnxruntime_backend import CPU_PROVIDER, session_options

        path = Path(config.weights)
        if not path.is_file():
            raise UserError(f"YOLO weights not found: {path.resolve()} (detector.weights)")
        try:
            self.session = onnxruntime.InferenceSession(str(path), session_options(threads), providers=[CPU_PROVIDER])
        except Exception as error:  # not an ONNX file, truncated, unsupported operator
            raise UserError(f"{path}: cannot open the detector graph with ONNX Runtime ({type(error).__name__}: {error})") from error
        self.config = config
        self.input_name = self.session.get_inputs()[0].name
        metadata = _metadata(self.session)
        self.stride = graph_stride(metadata)
        self.end_to_end = graph_is_end_to_end(metadata)
        self.input_is_fp16 = "float16" in self.session.get_inputs()[0].type

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        """BGR uint8 frames [H, W, 3] -> float32 [N, 3, h, w] in 0..1, RGB, letterboxed as ultralytics'
        predictor does for a dynamic graph: the minimal rectangle (a multiple of the stride) when all
        frames share a shape, else the square ``image_size``."""
        from ultralytics.data.augment import LetterBox

        size = self.config.image_size
        same_shapes = len({image.shape for image in images}) == 1
        letterbox = LetterBox((size, size), auto=same_shapes, stride=self.stride)
        batch = np.stack([letterbox(image=image) for image in images])
        batch = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2))
        return batch.astype(np.float16 if self.input_is_fp16 else np.float32) / np.float32(255.0)

    def detect(self, frames: list[Frame]) -> list[Detections]:
        if not frames:
            return []
        import torch
        from ultralytics.utils.nms import non_max_suppression
        from ultralytics.utils.ops import scale_boxes

        images = [frame.image for frame in frames]
        batch = self.preprocess(images)
        prediction = self.session.run(None, {self.input_name: batch})[0]
        kept = non_max_suppression(
            torch.from_numpy(np.asarray(prediction, dtype=np.float32)),
            self.config.confidence,
            self.config.iou,
            [PERSON_CLASS],
            False,
            max_det=MAX_DETECTIONS,
            end2end=self.end_to_end,
        )
        detections = []
        for frame, image, rows in zip(frames, images, kept):
            boxes = scale_boxes(batch.shape[2:], rows[:, :4].clone(), image.shape[:2])
            detections.append(
                Detections(
                    frame.camera,
                    frame.frame_index,
                    boxes.numpy().astype(np.float32).reshape(-1, 4),
                    rows[:, 4].numpy().astype(np.float32).reshape(-1),
                )
            )
        return detections
