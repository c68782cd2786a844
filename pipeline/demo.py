"""The offline demo: a synthetic world (generated once and cached) and the shipped part model
(``models/``; ``--retrain`` trains a small one on the world's ReID split instead, cached), the whole
pipeline on the world's videos, and the multi-camera IDF1."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from reid.errors import UserError
from reid.log_levels import say
from pipeline.config import DemoConfig

REPOSITORY = Path(__file__).resolve().parent.parent


def cache_directory() -> Path:
    """The project's cache (``$BPSEMA_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpsema``, else ``~/.cache/bpsema``)."""
    from reid.export.cache_directory import default_cache_dir

    return default_cache_dir()


def _world_key(demo: DemoConfig) -> str:
    world = demo.world
    return f"world_c{world.cameras}_i{world.identities}_s{world.seconds:g}_f{world.fps:g}_seed{world.seed}"


def ensure_world(demo: DemoConfig, progress: bool = True) -> Path:
    """The demo world directory, generated on first use."""
    from pipeline.synthetic import WorldConfig, generate_world

    directory = cache_directory() / "demo" / _world_key(demo)
    if (directory / "world.json").is_file():
        return directory
    world = demo.world
    config = WorldConfig(
        cameras=world.cameras, identities=world.identities, seconds=world.seconds, fps=world.fps, seed=world.seed
    )
    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    say(f"generating the demo world in {directory} (once)")
    generate_world(partial, config, progress=progress)
    partial.replace(directory)
    return directory


def shipped_model(demo: DemoConfig) -> Path:
    """The part model shipped in ``models/`` (trained on the synthetic corpus, see models/README.md)."""
    path = Path(demo.model)
    path = path if path.is_absolute() else REPOSITORY / path
    if not path.is_file():
        raise UserError(f"the demo's part model {path} is missing; restore it from the repository "
                        "or run the demo with --retrain to train a small one on the demo world")
    return path


def ensure_model(demo: DemoConfig, world_directory: Path, progress: bool = True) -> Path:
    """A small BPSEMA checkpoint trained on the world's ReID split, trained on first use."""
    from reid.config import load_config
    from train.datasets import load_dataset
    from train.trainer import Trainer

    model_config = REPOSITORY / demo.model_config if not Path(demo.model_config).is_absolute() else Path(demo.model_config)
    config = load_config(model_config)
    config.train.epochs = demo.epochs
    config.train.dataset = demo.dataset
    directory = cache_directory() / "demo" / f"model_{_world_key(demo)}_{model_config.stem}_{demo.dataset}_e{demo.epochs}"
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


def world_streams(world_directory: Path) -> list[tuple[str, str]]:
    from pipeline.synthetic import load_world

    try:
        world = load_world(world_directory)
    except Exception as error:
        raise UserError(f"{world_directory}: not a synthetic world ({error})") from None
    streams = []
    for camera in world.cameras:
        if not camera.video:
            raise UserError(f"{world_directory}: camera {camera.camera_id} has no video (generated without videos)")
        streams.append((f"cam{camera.camera_id}", str(world_directory / camera.video)))
    return streams
