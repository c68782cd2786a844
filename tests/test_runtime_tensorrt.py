"""TensorRT engines end to end. These need a CUDA device and the tensorrt package; without them
they are skipped with the reason (everything before the engine build is tested on the CPU in
test_export_*)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reid.export import build_engine, onnx_for_checkpoint, read_engine_file, tensorrt_status
from reid.engine_key import BatchProfile
from reid.runtime import load_extractor
from tests.export_support import small_checkpoint, synthetic_crops

STATUS = tensorrt_status()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not STATUS.available, reason=f"TensorRT tests need CUDA and tensorrt: {STATUS.reason}"),
]


@pytest.fixture(scope="module")
def checkpoint():
    return small_checkpoint(num_parts=8, trained=True)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_matches_onnxruntime(tmp_path, checkpoint, precision):
    crops, _ = synthetic_crops(40, 8, seed=9)
    engine = load_extractor(checkpoint, "tensorrt", precision=precision, max_batch=16, cache_dir=tmp_path)
    assert engine.backend == "tensorrt" and engine.max_batch == 16
    reference = load_extractor(checkpoint, "onnxruntime", precision="fp32", cache_dir=tmp_path).extract(crops)
    features = engine.extract(crops)  # 40 crops: split into 16, 16, 8
    cosine = (features.embeddings * reference.embeddings).sum(-1)
    flip_rate = (features.visibility != reference.visibility).float().mean().item()
    print(f"\nTensorRT {precision} vs ONNX Runtime fp32: cosine min {cosine.min().item():.6f}, flip rate {flip_rate:.3%}")
    assert cosine.min().item() >= (0.9999 if precision == "fp32" else 0.99)
    assert flip_rate <= (0.0 if precision == "fp32" else 0.01)
    assert engine.extract([]).embeddings.shape == (0, 9, 64)


def test_engine_cache_reuse_and_buffers(tmp_path, checkpoint):
    onnx_path = onnx_for_checkpoint(checkpoint, "fp32", tmp_path)
    first = build_engine(onnx_path, BatchProfile.up_to(8), tmp_path)
    modified = first.stat().st_mtime_ns
    assert build_engine(onnx_path, BatchProfile.up_to(8), tmp_path) == first and first.stat().st_mtime_ns == modified
    assert build_engine(onnx_path, BatchProfile.up_to(4), tmp_path) != first
    key = read_engine_file(first).key
    assert key.gpu_name == torch.cuda.get_device_name(0)
    assert list((tmp_path / "engines").glob("timing-*.cache")), "the timing cache is kept"

    extractor = load_extractor(first, "tensorrt")
    addresses = {name: buffer.data_ptr() for name, buffer in extractor.device_buffers.items()}
    crops, _ = synthetic_crops(3, 8, seed=1)
    extractor.extract(crops)
    extractor.extract(crops[:1])
    assert {name: buffer.data_ptr() for name, buffer in extractor.device_buffers.items()} == addresses


def test_corrupt_engine_file_is_rejected_and_the_cache_rebuilds(tmp_path, checkpoint):
    onnx_path = onnx_for_checkpoint(checkpoint, "fp32", tmp_path)
    path = build_engine(onnx_path, BatchProfile.up_to(4), tmp_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    from reid.errors import UserError

    with pytest.raises(UserError, match="corrupt engine file"):
        load_extractor(path, "tensorrt")
    rebuilt = build_engine(onnx_path, BatchProfile.up_to(4), tmp_path)
    assert rebuilt == path and read_engine_file(rebuilt).plan
    assert np.isfinite(load_extractor(rebuilt, "tensorrt").extract(synthetic_crops(2, 8, seed=4)[0]).embeddings.numpy()).all()
