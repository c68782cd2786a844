"""YOLO weights and the ultralytics environment: where a weights path resolves, one clear line when a
file is missing, no network access from ultralytics, and torch's thread count kept around its calls."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from reid.errors import UserError

REPOSITORY = Path(__file__).resolve().parent.parent
PERSON_CLASS = 0  # the person class of COCO-trained YOLO weights, and the one class of ours


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
