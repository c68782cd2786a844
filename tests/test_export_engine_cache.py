"""The TensorRT engine cache without TensorRT: keys, the engine file format, rejection of corrupt
or foreign files, and rebuilding (with a stand-in plan builder)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from reid.export import (
    BatchProfile,
    EngineCache,
    EngineCacheKey,
    EngineFileError,
    EngineTarget,
    ModelSignature,
    read_engine_file,
    write_engine_file,
)
from reid.export.engine_file import ENGINE_MAGIC
from reid.errors import UserError
from tests.conftest import small_config

KEY = EngineCacheKey(
    onnx_sha256="a" * 64,
    tensorrt_version="10.3.0",
    gpu_name="NVIDIA H100 80GB HBM3",
    compute_capability=(9, 0),
    precision="fp16",
    profile=BatchProfile(1, 32, 64),
)
SIGNATURE = ModelSignature.from_config(small_config(num_parts=8), checkpoint_sha256="b" * 64, precision="fp16")

# One changed value per key field.
CHANGES = {
    "onnx_sha256": "c" * 64,
    "tensorrt_version": "11.0.0",
    "gpu_name": "NVIDIA A100-SXM4-80GB",
    "compute_capability": (8, 0),
    "precision": "fp32",
    "profile": BatchProfile(1, 16, 64),
}


def test_every_key_field_is_covered():
    assert set(CHANGES) == {field.name for field in dataclasses.fields(EngineCacheKey)}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_key_changes_when_any_part_changes(field):
    changed = dataclasses.replace(KEY, **{field: CHANGES[field]})
    assert changed.digest() != KEY.digest()
    assert changed.file_name() != KEY.file_name()
    assert changed.differences(KEY) == [field]


def test_profile_bounds_each_change_the_key():
    digests = {dataclasses.replace(KEY, profile=profile).digest() for profile in (
        BatchProfile(1, 32, 64), BatchProfile(2, 32, 64), BatchProfile(1, 33, 64), BatchProfile(1, 32, 65))}
    assert len(digests) == 4


def test_key_is_stable_and_round_trips():
    assert EngineCacheKey.from_dict(KEY.to_dict()) == KEY
    assert EngineCacheKey.from_dict(KEY.to_dict()).digest() == KEY.digest()


def test_key_hashes_the_onnx_file(tmp_path):
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    first.write_bytes(b"graph one")
    second.write_bytes(b"graph two")
    target = EngineTarget("10.3.0", "GPU", (9, 0))
    assert EngineCacheKey.create(first, target, "fp32", BatchProfile()) != EngineCacheKey.create(second, target, "fp32", BatchProfile())


def test_batch_profile_validation():
    assert BatchProfile.up_to(64) == BatchProfile(1, 32, 64)
    assert BatchProfile.up_to(1) == BatchProfile(1, 1, 1)
    with pytest.raises(UserError, match="max-batch"):
        BatchProfile.up_to(0)
    with pytest.raises(UserError, match="min <= opt <= max"):
        BatchProfile.up_to(8, optimum=16)


def test_engine_file_round_trip(tmp_path):
    path = write_engine_file(tmp_path / "model.engine", KEY, SIGNATURE, b"serialized plan bytes")
    engine = read_engine_file(path, expected_key=KEY)
    assert engine.plan == b"serialized plan bytes"
    assert engine.key == KEY and engine.signature == SIGNATURE


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), "checksum"),
        (lambda data: data[:-5], "plan is"),
        (lambda data: data[: len(ENGINE_MAGIC) + 20], "truncated header"),
        (lambda data: b"\x00" * 64 + data[64:], "not an engine file written by reid.export"),
        (lambda data: b'{"description": "ultralytics"}' + data, "foreign or raw TensorRT plan"),
    ],
    ids=["flipped-byte", "truncated-plan", "truncated-header", "raw-plan", "foreign-header"],
)
def test_corrupt_or_foreign_engine_files_are_rejected_clearly(tmp_path, damage, message):
    path = write_engine_file(tmp_path / "model.engine", KEY, SIGNATURE, b"plan" * 100)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(EngineFileError, match=message) as error:
        read_engine_file(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert isinstance(error.value, UserError)


def test_engine_of_another_key_is_rejected(tmp_path):
    path = write_engine_file(tmp_path / "model.engine", KEY, SIGNATURE, b"plan")
    other = dataclasses.replace(KEY, gpu_name="Another GPU")
    with pytest.raises(EngineFileError, match="gpu_name"):
        read_engine_file(path, expected_key=other)


class CountingBuilder:
    """Stands in for TensorRT: returns a plan naming its key; records the timing cache path."""

    def __init__(self):
        self.calls = []

    def __call__(self, onnx_path, key, timing_cache_path):
        self.calls.append((onnx_path, key, timing_cache_path))
        return f"plan for {key.digest()}".encode()


def test_cache_builds_once_then_reuses(tmp_path):
    builder = CountingBuilder()
    cache = EngineCache(tmp_path / "engines", builder)
    onnx_path = tmp_path / "model.onnx"
    first = cache.get_or_build(onnx_path, KEY, SIGNATURE)
    second = cache.get_or_build(onnx_path, KEY, SIGNATURE)
    assert first == second == cache.engine_path(KEY)
    assert len(builder.calls) == 1
    assert builder.calls[0][2] == cache.timing_cache_path(KEY)
    assert read_engine_file(first, expected_key=KEY).plan == f"plan for {KEY.digest()}".encode()
    other = dataclasses.replace(KEY, precision="fp32")
    assert cache.get_or_build(onnx_path, other, SIGNATURE) != first
    assert len(builder.calls) == 2


def test_timing_cache_is_per_tensorrt_and_gpu_not_per_model(tmp_path):
    cache = EngineCache(tmp_path, CountingBuilder())
    same_target = dataclasses.replace(KEY, onnx_sha256="d" * 64, precision="fp32", profile=BatchProfile(1, 1, 8))
    assert cache.timing_cache_path(same_target) == cache.timing_cache_path(KEY)
    assert cache.timing_cache_path(dataclasses.replace(KEY, gpu_name="Other")) != cache.timing_cache_path(KEY)
    assert cache.timing_cache_path(dataclasses.replace(KEY, tensorrt_version="11.0")) != cache.timing_cache_path(KEY)


@pytest.mark.parametrize("damage", ["corrupt", "foreign", "other-key"])
def test_cache_rejects_bad_cached_engine_and_rebuilds(tmp_path, caplog, damage):
    builder = CountingBuilder()
    cache = EngineCache(tmp_path, builder)
    path = cache.engine_path(KEY)
    if damage == "corrupt":
        cache.get_or_build(tmp_path / "model.onnx", KEY, SIGNATURE)
        data = path.read_bytes()
        path.write_bytes(data[:-3] + b"xyz")
    elif damage == "foreign":
        path.write_bytes(b"\x12\x34 raw TensorRT plan from somewhere else")
    else:
        write_engine_file(path, dataclasses.replace(KEY, tensorrt_version="9.9"), SIGNATURE, b"old plan")
    calls_before = len(builder.calls)
    with caplog.at_level(logging.WARNING, logger="reid.export"):
        rebuilt = cache.get_or_build(tmp_path / "model.onnx", KEY, SIGNATURE)
    assert len(builder.calls) == calls_before + 1, "a bad cached engine must be rebuilt"
    assert "rejected cached TensorRT engine" in caplog.text
    assert read_engine_file(rebuilt, expected_key=KEY).plan == f"plan for {KEY.digest()}".encode()
