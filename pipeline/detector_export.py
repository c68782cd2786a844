"""YOLO weights exported to ONNX by ultralytics' exporter, and the exports of ``.pt`` weights made
once and cached under the weights' sha256, so ``detector.runtime: auto`` runs a ``.pt`` on ONNX Runtime on the CPU without a
manual export step (the same graph as ``yolo export model=WEIGHTS format=onnx dynamic=True``)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from pipeline.yolo_weights import keeping_torch_threads, resolve_weights, ultralytics_offline
from reid.checkpoint import file_sha256
from reid.errors import UserError
from reid.export.cache_directory import resolve_cache_dir

LOGGER = logging.getLogger("pipeline.detection")


def ultralytics_version() -> str:
    import ultralytics

    return ultralytics.__version__


def export_detector_onnx(weights: str | Path, directory: str | Path) -> Path:
    """Ultralytics' exporter: ``directory/<name>.onnx`` with a dynamic input (any batch, any size), the
    file ``detector.weights`` takes to run the detector on ONNX Runtime. The same as
    ``yolo export model=WEIGHTS format=onnx dynamic=True simplify=False`` (which writes beside the
    weights). Not simplified: onnxslim is not a dependency, and ONNX Runtime's graph optimisation makes
    the same fusions when it loads the graph."""
    ultralytics_offline()
    from ultralytics import YOLO

    weights = Path(resolve_weights(str(weights)))
    copy = Path(directory) / weights.name
    copy.write_bytes(weights.read_bytes())
    with keeping_torch_threads():
        return Path(YOLO(str(copy)).export(format="onnx", dynamic=True, simplify=False, verbose=False))


def cached_detector_graph_path(weights_sha256: str, version: str, name: str, cache_dir: str | Path | None = None) -> Path:
    """cache_dir/detector/<sha256 of the weights>-ultralytics<version>/<name>.onnx"""
    return resolve_cache_dir(cache_dir) / "detector" / f"{weights_sha256}-ultralytics{version}" / f"{name}.onnx"


def detector_graph_for_weights(weights: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The cached ONNX export of YOLO ``weights`` (a local ``.pt``), exported now when absent (a few
    seconds). An export that fails raises ``UserError`` with the exporter's reason; nothing half-written
    is left in the cache (the export runs in a temporary directory and is moved in when complete)."""
    weights = Path(weights)
    if not weights.is_file():
        raise UserError(f"YOLO weights not found: {weights.resolve()} (detector.weights)")
    path = cached_detector_graph_path(file_sha256(weights), ultralytics_version(), weights.stem, cache_dir)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="export-", dir=path.parent) as scratch:
        try:
            exported = export_detector_onnx(weights, scratch)
        except Exception as error:  # exporter missing a package, an unsupported layer
            raise UserError(f"cannot export {weights} to ONNX for ONNX Runtime ({type(error).__name__}: {error}); "
                            "set detector.runtime: ultralytics to run it on PyTorch") from error
        shutil.move(str(exported), str(path))
    LOGGER.info("exported %s to %s", weights, path)
    return path
