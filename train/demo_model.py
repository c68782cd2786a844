"""The demo's optional part model (``run_pipeline.py --demo --retrain``): a small BPSEMA trained on the
demo world's ReID split, calibrated on its test identities, cached beside the world."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipeline.config import DemoConfig
from pipeline.demo import REPOSITORY, cache_directory, world_key
from reid.log_levels import say


def ensure_model(demo: DemoConfig, world_directory: Path, progress: bool = True) -> Path:
    """A small BPSEMA checkpoint trained on the world's ReID split, trained on first use."""
    from reid.config import load_config
    from train.datasets import load_dataset
    from train.trainer import Trainer

    model_config = REPOSITORY / demo.model_config if not Path(demo.model_config).is_absolute() else Path(demo.model_config)
    config = load_config(model_config)
    config.train.epochs = demo.epochs
    config.train.dataset = demo.dataset
    directory = cache_directory() / "demo" / f"model_{world_key(demo)}_{model_config.stem}_{demo.dataset}_e{demo.epochs}"
    checkpoint = directory / "last.pt"
    done = directory / "done.json"
    if checkpoint.is_file() and done.is_file():
        return checkpoint
    say(f"training the demo model ({model_config.name}, {demo.epochs} epochs) in {directory} (once)")
    dataset = load_dataset(demo.dataset, world_directory)
    test_dataset = load_dataset("synthetic_occluded", world_directory)
    trainer = Trainer(config, dataset, directory, test_dataset=test_dataset, progress=progress)
    if checkpoint.is_file():
        trainer.resume(checkpoint)
    started = time.perf_counter()
    trainer.fit(demo.epochs, evaluate_at_end=True)
    report = json.loads((directory / "evaluation.json").read_text())
    calibrate_model(checkpoint, world_directory)
    done.write_text(json.dumps({"seconds": time.perf_counter() - started, "evaluation": report}, indent=2))
    return checkpoint


def calibrate_model(checkpoint: Path, world_directory: Path) -> Path:
    """Association thresholds for the demo model, from the world's ReID test identities."""
    from pipeline.calibration import calibrate, write_calibration
    from reid.runtime import load_extractor
    from train.datasets import load_dataset

    dataset = load_dataset("synthetic", world_directory)
    with load_extractor(checkpoint) as extractor:
        calibration = calibrate(extractor, dataset.query + dataset.gallery, dataset.name)
    return write_calibration(checkpoint, calibration)
