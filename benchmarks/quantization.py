"""What the int8 graph costs in retrieval accuracy: Rank-1 and mAP of PyTorch fp32, the ONNX Runtime
fp32 graph and the ONNX Runtime int8 graph on the same query/gallery crops, side by side in one run.

    python benchmarks/quantization.py                 # the demo's model and world (made once, cached)
    python benchmarks/quantization.py --checkpoint FILE --datasets occluded_duke --data-root DIR

The int8 graph is calibrated on ``--calibration-count`` crops of the first dataset's training split
(identities disjoint from query and gallery). Every backend reads the same crops through
``extractor.extract`` (the runtime's preprocessing); the ranking is the visible-part distance
(``reid.distance``) under the Market-1501 protocol (``reid.metrics``). Agreement with fp32 is the
embedding cosine similarity (mean and minimum over the embeddings both call visible, the ones the
distance reads) and the visibility flip rate; crops/s is the extraction rate over query and gallery
at batch 64. The "stem int8" row quantizes the backbone's stem too, which the shipped int8 graph
keeps fp32 (``reid.export.int8_quantization``): it shows what that choice buys.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))  # runnable from a checkout without installing it

BACKENDS = ("torch fp32", "onnxruntime fp32", "onnxruntime int8", "onnxruntime int8, stem int8")
BATCH = 64


@dataclass(frozen=True)
class Row:
    dataset: str
    backend: str
    rank1: float
    mean_average_precision: float
    cosine_mean: float
    cosine_min: float
    flip_rate: float
    crops_per_second: float


def _features(extractor, paths):
    """PartFeatures of the crops at ``paths``, extracted in batches of BATCH; also the seconds spent."""
    from reid.features import PartFeatures
    from reid.image_files import read_bgr

    parts, seconds = [], 0.0
    for start in range(0, len(paths), BATCH):
        crops = [read_bgr(path) for path in paths[start : start + BATCH]]
        started = time.perf_counter()
        parts.append(extractor.extract(crops))
        seconds += time.perf_counter() - started
    return PartFeatures.concatenate(parts), seconds


def _demo_inputs() -> tuple[Path, Path]:
    """(checkpoint, world directory) of the offline demo, made on first use."""
    from pipeline.config import load_pipeline_config
    from pipeline.demo import ensure_world
    from train.demo_model import ensure_model

    demo = load_pipeline_config(REPOSITORY_ROOT / "configs" / "pipeline" / "demo.yaml").demo
    world = ensure_world(demo)
    return ensure_model(demo, world), world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the demo's model)")
    parser.add_argument("--datasets", default="synthetic_occluded,synthetic", help="comma-separated dataset names")
    parser.add_argument("--data-root", type=Path, help="dataset root (default: the demo's world)")
    parser.add_argument("--calibration-count", type=int, default=256, help="training crops that calibrate int8")
    arguments = parser.parse_args(argv)

    import numpy as np
    import onnx

    from reid.checkpoint import load_model
    from reid.distance import visible_part_distance
    from reid.export import ModelSignature, export_onnx
    from reid.export.int8_quantization import quantize_to_int8
    from reid.export.onnx_export import build_onnx_model, save_onnx
    from reid.export.calibration_images import calibration_images_from_files
    from reid.metrics import evaluate_rank
    from reid.runtime import load_extractor
    from train.datasets import load_dataset

    if (arguments.checkpoint is None) != (arguments.data_root is None):
        parser.error("give both --checkpoint and --data-root, or neither (the demo's model and world)")
    checkpoint, data_root = (arguments.checkpoint, arguments.data_root) if arguments.checkpoint else _demo_inputs()
    names = [name.strip() for name in arguments.datasets.split(",") if name.strip()]
    datasets = [load_dataset(name, data_root) for name in names]
    model = load_model(checkpoint)
    signature = ModelSignature.from_config(model.config)
    print(f"model: {checkpoint} ({model.config.model.backbone}, K={model.num_parts}, D={model.embedding_dim})")

    rows = []
    with tempfile.TemporaryDirectory(prefix="bpsema-quantization-") as directory:
        started = time.perf_counter()
        calibration = calibration_images_from_files(
            [sample.image_path for sample in datasets[0].train], signature, arguments.calibration_count
        )
        int8_path = Path(directory) / "model-int8.onnx"
        export_onnx(model, int8_path, precision="int8", calibration_images=calibration)
        stem_int8 = quantize_to_int8(build_onnx_model(model), calibration, quantize_stem=True).model
        onnx.helper.set_model_props(stem_int8, signature.with_precision("int8").to_metadata())
        stem_int8_path = save_onnx(stem_int8, Path(directory) / "model-int8-stem.onnx")
        print(
            f"int8 graph calibrated on {len(calibration)} crops of {datasets[0].name}'s training split "
            f"in {time.perf_counter() - started:.1f} s"
        )
        extractors = {
            "torch fp32": load_extractor(checkpoint, "torch", device="cpu"),
            "onnxruntime fp32": load_extractor(checkpoint, "onnxruntime", device="cpu", cache_dir=directory),
            "onnxruntime int8": load_extractor(int8_path, "onnxruntime", device="cpu"),
            "onnxruntime int8, stem int8": load_extractor(stem_int8_path, "onnxruntime", device="cpu"),
        }
        for dataset in datasets:
            query_paths = [sample.image_path for sample in dataset.query]
            gallery_paths = [sample.image_path for sample in dataset.gallery]
            query_ids = np.array([sample.pid for sample in dataset.query])
            gallery_ids = np.array([sample.pid for sample in dataset.gallery])
            query_cameras = np.array([sample.camid for sample in dataset.query])
            gallery_cameras = np.array([sample.camid for sample in dataset.gallery])
            reference = None
            for backend in BACKENDS:
                query, query_seconds = _features(extractors[backend], query_paths)
                gallery, gallery_seconds = _features(extractors[backend], gallery_paths)
                result = evaluate_rank(
                    visible_part_distance(query, gallery).numpy(), query_ids, gallery_ids, query_cameras, gallery_cameras
                )
                if reference is None:
                    reference = (query, gallery)
                cosines, flips = [], []
                for mine, theirs in zip((query, gallery), reference):
                    both_visible = mine.visibility & theirs.visibility
                    cosines.append((mine.embeddings.double() * theirs.embeddings.double()).sum(dim=-1)[both_visible])
                    flips.append((mine.visibility != theirs.visibility).flatten())
                cosine = np.concatenate([values.numpy() for values in cosines])
                flip = np.concatenate([values.numpy() for values in flips])
                rows.append(
                    Row(
                        dataset=dataset.name,
                        backend=backend,
                        rank1=result.rank(1),
                        mean_average_precision=result.mAP,
                        cosine_mean=float(cosine.mean()),
                        cosine_min=float(cosine.min()),
                        flip_rate=float(flip.mean()),
                        crops_per_second=(len(query_paths) + len(gallery_paths)) / (query_seconds + gallery_seconds),
                    )
                )
                print(f"  {dataset.name} {backend}: Rank-1 {100 * result.rank(1):.2f}%", file=sys.stderr, flush=True)

    print(f"\nagreement is measured against {BACKENDS[0]}; query/gallery sizes: " + ", ".join(
        f"{dataset.name} {len(dataset.query)}/{len(dataset.gallery)}" for dataset in datasets
    ))
    print("| dataset | backend | Rank-1 % | mAP % | cosine mean | cosine min | visibility flips | crops/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.dataset} | {row.backend} | {100 * row.rank1:.2f} | {100 * row.mean_average_precision:.2f} | "
            f"{row.cosine_mean:.5f} | {row.cosine_min:.5f} | {row.flip_rate:.3%} | {row.crops_per_second:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
