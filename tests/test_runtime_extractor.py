"""One runtime API over every backend: the same crops give the same features everywhere; odd
sizes, one crop, zero crops, more crops than the max batch; backend selection and its errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from reid.checkpoint import file_sha256
from reid.errors import UserError
from reid.export import tensorrt_status
from reid.export.onnx_cache import cached_onnx_path
from reid.features import PartFeatures
from reid.part_groups import part_names
from reid.runtime import load_extractor
from reid.runtime.onnxruntime_backend import available_providers
from tests.export_support import SHARED_CACHE_DIR, small_checkpoint, synthetic_crops

BACKENDS = ["torch", "onnxruntime", "tensorrt"]


def _skip_unavailable(backend: str) -> None:
    if backend == "tensorrt" and not tensorrt_status().available:
        pytest.skip(f"tensorrt backend unavailable: {tensorrt_status().reason}")
    if backend == "onnxruntime" and not available_providers():
        pytest.skip("onnxruntime is not installed")


@pytest.fixture(scope="module")
def checkpoint():
    return small_checkpoint(num_parts=8, trained=True)


@pytest.fixture(scope="module")
def odd_crops():
    rng = np.random.default_rng(5)
    crops, _ = synthetic_crops(9, 8, seed=3)
    crops += [rng.integers(0, 256, size=size, dtype=np.uint8) for size in [(1, 1, 3), (3, 200, 3), (401, 7, 3)]]
    return crops


@pytest.fixture(scope="module")
def reference(checkpoint, odd_crops):
    return load_extractor(checkpoint, "torch").extract(odd_crops)


def _assert_same(features: PartFeatures, expected: PartFeatures, tolerance: float) -> None:
    assert features.embeddings.shape == expected.embeddings.shape
    assert features.embeddings.dtype == torch.float32 and features.visibility.dtype == torch.bool
    assert features.embeddings.device.type == "cpu"
    assert (features.embeddings - expected.embeddings).abs().max().item() <= tolerance
    assert torch.equal(features.visibility, expected.visibility)


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_crops_same_features_in_every_backend(backend, checkpoint, odd_crops, reference):
    _skip_unavailable(backend)
    extractor = load_extractor(checkpoint, backend, cache_dir=SHARED_CACHE_DIR, max_batch=5)
    assert extractor.backend == backend
    assert (extractor.num_parts, extractor.embedding_dim, extractor.input_size) == (8, 64, (128, 64))
    assert extractor.part_names == part_names(8)
    tolerance = 1e-3 if backend == "tensorrt" else 1e-4  # TensorRT may use TF32 for fp32 convolutions

    _assert_same(extractor.extract(odd_crops), reference, tolerance)  # 12 crops, max batch 5: 3 chunks
    _assert_same(extractor.extract(odd_crops[4:5]), reference[4], tolerance)  # a single crop
    empty = extractor.extract([])
    assert empty.embeddings.shape == (0, 9, 64) and empty.visibility.shape == (0, 9)
    assert empty.visibility.dtype == torch.bool


@pytest.mark.parametrize("backend", BACKENDS)
def test_more_crops_than_max_batch_are_split(backend, checkpoint, odd_crops, reference):
    _skip_unavailable(backend)
    extractor = load_extractor(checkpoint, backend, cache_dir=SHARED_CACHE_DIR, max_batch=2)
    assert extractor.max_batch == 2
    calls = []
    run = extractor._run
    extractor._run = lambda images: calls.append(len(images)) or run(images)
    features = extractor.extract(odd_crops[:7])
    assert calls == [2, 2, 2, 1]
    tolerance = 1e-3 if backend == "tensorrt" else 1e-4
    _assert_same(features, reference[:7], tolerance)


def test_returned_features_can_be_modified_in_place(checkpoint, odd_crops):
    features = load_extractor(checkpoint, "torch").extract(odd_crops[:2])
    features.embeddings.mul_(2.0)  # not an inference-mode tensor
    features.visibility[:, 0] = False


def test_auto_picks_the_best_available_and_says_so(checkpoint, caplog):
    with caplog.at_level(logging.INFO, logger="reid.runtime"):
        extractor = load_extractor(checkpoint, "auto", cache_dir=SHARED_CACHE_DIR)
    if tensorrt_status().available:
        expected = "tensorrt"
    elif available_providers():
        expected = "onnxruntime"
    else:
        expected = "torch"
    assert extractor.backend == expected
    assert extractor.info.selection, "the reason for the choice is recorded"
    assert f"part-feature extractor: {expected}" in caplog.text
    if expected == "onnxruntime" and not torch.cuda.is_available():
        assert extractor.info.runner == "CPUExecutionProvider"
        assert "TensorRT: " in extractor.info.selection


def test_auto_on_an_onnx_file_and_cpu_device(checkpoint):
    onnx_path = load_extractor(checkpoint, "onnxruntime", cache_dir=SHARED_CACHE_DIR).info.model_path
    extractor = load_extractor(onnx_path, "auto", device="cpu")
    assert (extractor.backend, extractor.info.device) == ("onnxruntime", "cpu")
    assert "CPU requested" in extractor.info.selection


def test_onnxruntime_threads_sleep_between_runs_unless_asked_to_spin(checkpoint):
    """The extractor's sessions do not busy-wait after a run (the pipeline runs YOLO next on the same
    cores; benchmarks/onnxruntime_spinning.py measures what spinning costs), and spinning is still
    there for whoever asks."""
    from reid.runtime.onnxruntime_backend import OnnxRuntimeExtractor, session_options

    assert session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options(spinning=True).get_session_config_entry("session.intra_op.allow_spinning") == "1"
    extractor = load_extractor(checkpoint, "onnxruntime", device="cpu", cache_dir=SHARED_CACHE_DIR)
    sleeping = extractor.session.get_session_options()
    assert sleeping.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    spinning = OnnxRuntimeExtractor(extractor.info.model_path, spinning=True).session.get_session_options()
    assert spinning.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_checkpoint_is_exported_once_into_a_cache_keyed_by_its_hash(tmp_path, checkpoint):
    first = load_extractor(checkpoint, "onnxruntime", cache_dir=tmp_path)
    path = first.info.model_path
    assert path == cached_onnx_path(file_sha256(checkpoint), "fp32", tmp_path)
    modified = path.stat().st_mtime_ns
    second = load_extractor(checkpoint, "onnxruntime", cache_dir=tmp_path)
    assert second.info.model_path == path and path.stat().st_mtime_ns == modified, "reused, not re-exported"
    other = load_extractor(small_checkpoint(num_parts=5), "onnxruntime", cache_dir=tmp_path)
    assert other.info.model_path != path and other.num_parts == 5
    path.write_bytes(b"damaged")  # a damaged cache entry is exported again
    third = load_extractor(checkpoint, "onnxruntime", cache_dir=tmp_path)
    assert third.info.model_path == path and path.stat().st_size > 1000


@pytest.mark.parametrize(
    "backend, suffix, message",
    [
        ("torch", ".onnx", "torch backend runs checkpoints"),
        ("onnxruntime", ".engine", "runs only with the tensorrt backend"),
        ("fast", ".pt", "unknown backend"),
    ],
)
def test_backend_and_file_mismatches_are_user_errors(tmp_path, backend, suffix, message):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"x")
    with pytest.raises(UserError, match=message):
        load_extractor(path, backend)


def test_missing_file_and_bad_arguments(tmp_path, checkpoint):
    with pytest.raises(UserError, match="model file not found"):
        load_extractor(tmp_path / "nothing.pt")
    with pytest.raises(UserError, match="max_batch"):
        load_extractor(checkpoint, "torch", max_batch=0)
    with pytest.raises(UserError, match="torch backend runs fp32"):
        load_extractor(checkpoint, "torch", precision="fp16")
    with pytest.raises(UserError, match="unknown device"):
        load_extractor(checkpoint, "torch", device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "auto"])
def test_cuda_requested_without_a_device_is_a_user_error(checkpoint, backend):
    with pytest.raises(UserError, match="no CUDA device is visible"):
        load_extractor(checkpoint, backend, device="cuda")


@pytest.mark.skipif(tensorrt_status().available, reason="TensorRT is available here")
def test_tensorrt_backend_without_tensorrt_is_a_clear_user_error(checkpoint, tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"x")
    for path, backend in [(checkpoint, "tensorrt"), (engine, "auto")]:
        with pytest.raises(UserError, match="cannot run") as error:
            load_extractor(path, backend, cache_dir=tmp_path)
        assert tensorrt_status().reason in str(error.value)
