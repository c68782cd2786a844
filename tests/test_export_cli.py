"""``python -m reid.export`` as a user runs it: a fresh process, one line and exit code 2 on failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reid.errors import run_command_line
from reid.export import read_onnx_signature, tensorrt_status
from reid.export.__main__ import main
from reid.checkpoint import file_sha256
from tests.conftest import REPOSITORY_ROOT
from tests.export_support import small_checkpoint


def _run_module(*arguments: str, cache_dir) -> subprocess.CompletedProcess:
    environment = {**os.environ, "BPSEMA_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "reid.export", *arguments],
        capture_output=True,
        text=True,
        cwd=REPOSITORY_ROOT,
        env=environment,
        timeout=300,
    )


def test_cli_exports_onnx_from_a_fresh_process(tmp_path):
    checkpoint = small_checkpoint(num_parts=5)
    output = tmp_path / "exported.onnx"
    result = _run_module("--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(output), cache_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"wrote {output}" in result.stdout and "embeddings float32 [N,6,64]" in result.stdout
    assert read_onnx_signature(output).checkpoint_sha256 == file_sha256(checkpoint)


@pytest.mark.skipif(tensorrt_status().available, reason="TensorRT and a CUDA device are present: the engine is built")
def test_cli_engine_without_gpu_or_tensorrt_is_one_line_and_exit_2(tmp_path):
    checkpoint = small_checkpoint(num_parts=5)
    output = tmp_path / "model.engine"
    result = _run_module("--checkpoint", str(checkpoint), "--format", "engine", "--out", str(output), cache_dir=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot build a TensorRT engine:")
    assert tensorrt_status().reason in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not output.exists()


def _in_process(arguments, capsys) -> tuple[int, str]:
    code = run_command_line(main, arguments)
    return code, capsys.readouterr().err.strip()


def test_cli_missing_checkpoint(tmp_path, capsys):
    code, error = _in_process(["--checkpoint", str(tmp_path / "missing.pt"), "--format", "onnx"], capsys)
    assert code == 2 and error == f"error: {tmp_path / 'missing.pt'}: checkpoint not found"


def test_cli_foreign_checkpoint(tmp_path, capsys):
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a checkpoint")
    code, error = _in_process(["--checkpoint", str(foreign), "--format", "onnx"], capsys)
    assert code == 2 and error.startswith(f"error: {foreign}: not a readable checkpoint")
    assert not (tmp_path / "foreign.onnx").exists()


def test_cli_rejects_a_zero_max_batch(tmp_path, capsys):
    code, error = _in_process(
        ["--checkpoint", str(small_checkpoint(num_parts=5)), "--format", "engine", "--max-batch", "0"], capsys
    )
    assert code == 2 and "--max-batch must be at least 1" in error


def test_importing_export_and_runtime_does_not_import_tensorrt():
    code = "import sys, reid.export, reid.runtime; print('tensorrt' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
