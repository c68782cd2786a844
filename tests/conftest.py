"""Shared fixtures: small model configurations that build fast on a CPU."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from reid.config import ReIDConfig, config_from_dict

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPOSITORY_ROOT / "configs"


def small_config(backbone: str = "resnet18", num_parts: int = 8, **model_overrides) -> ReIDConfig:
    """A CPU-sized configuration (no pretrained weights, 128x64 input, D=64)."""
    model = dict(
        backbone=backbone,
        pretrained=False,
        num_parts=num_parts,
        embedding_dim=64,
        ema_groups=8,
        num_classes=6,
    )
    model.update(model_overrides)
    return config_from_dict(copy.deepcopy({"model": model, "input": {"height": 128, "width": 64}}))


def save_tiny_checkpoint(directory: Path) -> Path:
    """An untrained small model (configs/model/small_synthetic.yaml) saved as ``directory/tiny.pt``."""
    from reid.checkpoint import save_checkpoint
    from reid.model import build_model

    model = build_model(CONFIG_DIR / "model" / "small_synthetic.yaml", pretrained=False, num_classes=4)
    return save_checkpoint(Path(directory) / "tiny.pt", model.eval())


@pytest.fixture(scope="session", autouse=True)
def _private_cache_directory(tmp_path_factory):
    """Exported ONNX files of the tests' throw-away models go to a temporary cache, not the user's."""
    import os

    previous = os.environ.get("BPSEMA_CACHE_DIR")
    os.environ["BPSEMA_CACHE_DIR"] = str(tmp_path_factory.mktemp("bpsema-cache"))
    yield
    if previous is None:
        os.environ.pop("BPSEMA_CACHE_DIR", None)
    else:
        os.environ["BPSEMA_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def web_run(tmp_path_factory) -> Path:
    """The results directory of one small recorded run (3 cameras, 20 people, 20 s, public detections,
    the shipped part model), shared by the web app's tests. Its world (seed 62 029) is used by no
    training corpus and no other test."""
    import subprocess
    import sys

    from pipeline.synthetic import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("web-run")
    world = root / "world"
    generate_world(world, WorldConfig(cameras=3, identities=20, seconds=20, fps=10, seed=62_029), progress=False)
    output = root / "output"
    subprocess.run(
        [sys.executable, str(REPOSITORY_ROOT / "run_pipeline.py"), "--world", str(world), "--detector", "detections",
         "--reid", str(REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"), "--output", str(output),
         "--no-progress", "--quiet"],
        check=True, cwd=REPOSITORY_ROOT,
    )
    return output
