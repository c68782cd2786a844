"""The demo's model choice: the shipped checkpoint by default (its int8 graph where ONNX Runtime runs on
the CPU), --retrain only with --demo."""

import subprocess
import sys

import pytest

from reid.errors import UserError
from tests.conftest import REPOSITORY_ROOT


def test_the_demo_uses_the_shipped_checkpoint_and_names_it_when_missing(tmp_path):
    from pipeline.config import DemoConfig, load_pipeline_config
    from pipeline.demo import shipped_model

    demo = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml").demo
    assert shipped_model(demo, "torch") == REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"
    with pytest.raises(UserError, match="--retrain"):
        shipped_model(DemoConfig(model=str(tmp_path / "gone.pt")))


@pytest.mark.parametrize(
    "backend, chosen, device, expected",
    [
        ("auto", "onnxruntime", "cpu", "bpsema_small_synthetic_int8.onnx"),
        ("onnxruntime", "onnxruntime", "cpu", "bpsema_small_synthetic_int8.onnx"),
        ("auto", "tensorrt", "cuda:0", "bpsema_small_synthetic.pt"),
        ("auto", "onnxruntime", "cuda:0", "bpsema_small_synthetic.pt"),
        ("auto", "torch", "cpu", "bpsema_small_synthetic.pt"),  # no ONNX Runtime installed
        ("torch", "onnxruntime", "cpu", "bpsema_small_synthetic.pt"),
    ],
)
def test_the_demo_runs_the_int8_graph_only_where_onnxruntime_runs_on_the_cpu(monkeypatch, backend, chosen, device, expected):
    from pipeline.config import load_pipeline_config
    from pipeline.demo import shipped_model
    from reid.runtime import backend_selection

    monkeypatch.setattr(backend_selection, "choose_backend",
                        lambda kind, device_asked=None: backend_selection.BackendChoice(chosen, device, "test"))
    demo = load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml").demo
    assert shipped_model(demo, backend) == REPOSITORY_ROOT / "models" / expected


def test_a_missing_cpu_model_is_named_with_the_way_out(monkeypatch, tmp_path):
    from pipeline.config import DemoConfig
    from pipeline.demo import shipped_model
    from reid.runtime import backend_selection

    monkeypatch.setattr(backend_selection, "choose_backend",
                        lambda kind, device_asked=None: backend_selection.BackendChoice("onnxruntime", "cpu", "test"))
    with pytest.raises(UserError, match="demo.cpu_model: null"):
        shipped_model(DemoConfig(cpu_model=str(tmp_path / "gone.onnx")))
    assert shipped_model(DemoConfig(cpu_model=None)) == REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"


def test_retrain_without_demo_is_one_line_and_exit_code_2():
    completed = subprocess.run(
        [sys.executable, "run_pipeline.py", "--retrain", "--world", "/nonexistent"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["error: --retrain is for --demo"]
