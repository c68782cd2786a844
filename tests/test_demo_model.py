"""The demo's model choice: the shipped checkpoint by default, --retrain only with --demo."""

import subprocess
import sys

import pytest

from reid.errors import UserError
from tests.conftest import REPOSITORY_ROOT


def test_the_demo_uses_the_shipped_checkpoint_and_names_it_when_missing(tmp_path):
    from pipeline.config import DemoConfig, load_pipeline_config
    from pipeline.demo import shipped_model

    demo = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml").demo
    assert shipped_model(demo) == REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"
    with pytest.raises(UserError, match="--retrain"):
        shipped_model(DemoConfig(model=str(tmp_path / "gone.pt")))


def test_retrain_without_demo_is_one_line_and_exit_code_2():
    completed = subprocess.run(
        [sys.executable, "run_pipeline.py", "--retrain", "--world", "/nonexistent"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["error: --retrain is for --demo"]
