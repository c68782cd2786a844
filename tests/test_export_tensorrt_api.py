"""The TensorRT build code against a recording stand-in for the ``tensorrt`` module, so that the
version guards (TensorRT 8 / 10 / 11), the batch profile, the timing cache and the error paths are
checked on machines without TensorRT. The real build runs in test_runtime_tensorrt on a GPU."""

from __future__ import annotations

import enum
import types

import pytest

from reid.errors import UserError
from reid.export import tensorrt_engine
from reid.engine_key import BatchProfile, EngineCacheKey
from reid.export.tensorrt_engine import build_engine_plan, network_creation_flags


def fake_tensorrt(version: str, parse_ok: bool = True, build_ok: bool = True):
    """A stand-in module with the API surface build_engine_plan uses; ``calls`` records what happened."""
    major = int(version.split(".")[0])
    calls: dict = {"flags": None, "builder_flags": [], "profile": None, "timing_cache_in": None}
    creation_members = {}
    if major < 11:
        creation_members["EXPLICIT_BATCH"] = 0
    if major >= 9:
        creation_members["STRONGLY_TYPED"] = 1
    builder_flag_members = {"TF32": 7} if major >= 11 else {"FP16": 0, "TF32": 7}

    class Profile:
        def set_shape(self, name, minimum, optimum, maximum):
            calls["profile"] = (name, minimum, optimum, maximum)

    class TimingCache:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return b"timings:" + self.data

    class Config:
        def set_memory_pool_limit(self, pool, size):
            calls["workspace"] = size

        def set_flag(self, flag):
            calls["builder_flags"].append(flag)

        def clear_flag(self, flag):
            calls["cleared_flags"] = calls.get("cleared_flags", []) + [flag]

        def add_optimization_profile(self, profile):
            calls["profiles_added"] = calls.get("profiles_added", 0) + 1

        def create_timing_cache(self, data):
            calls["timing_cache_in"] = bytes(data)
            return TimingCache(bytes(data))

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache

        def get_timing_cache(self):
            return self.cache

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls["flags"] = flags
            return "network"

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            return b"PLAN" if build_ok else None

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            pass

        def parse_from_file(self, path):
            calls["parsed"] = path
            return parse_ok

        def get_error(self, index):
            return "Unsupported operator Foo"

    class Logger:
        WARNING = 2

        def __init__(self, severity):
            pass

    module = types.SimpleNamespace(
        __version__=version,
        Logger=Logger,
        Builder=Builder,
        OnnxParser=OnnxParser,
        NetworkDefinitionCreationFlag=enum.IntEnum("NetworkDefinitionCreationFlag", creation_members)
        if creation_members
        else types.SimpleNamespace(),
        BuilderFlag=enum.IntEnum("BuilderFlag", builder_flag_members),
        MemoryPoolType=types.SimpleNamespace(WORKSPACE=0),
    )
    return module, calls


KEY = EngineCacheKey("a" * 64, "x", "GPU", (9, 0), "fp16", BatchProfile(1, 8, 32))


@pytest.mark.parametrize(
    "version, expected_flags",
    [("11.0.0", 0), ("10.3.0", 1 << 1), ("8.6.1", 1 << 0)],
    ids=["trt11-always-strongly-typed", "trt10-strongly-typed-flag", "trt8-explicit-batch"],
)
def test_network_creation_flags_by_version(version, expected_flags):
    module, _ = fake_tensorrt(version)
    assert network_creation_flags(module) == expected_flags


@pytest.mark.parametrize("version", ["11.0.0", "10.3.0", "8.6.1"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_build_plan_profile_precision_and_timing_cache(monkeypatch, tmp_path, version, precision):
    module, calls = fake_tensorrt(version)
    monkeypatch.setattr(tensorrt_engine, "require_tensorrt", lambda *arguments: module)
    timing = tmp_path / "engines" / "timing.cache"
    key = EngineCacheKey("a" * 64, version, "GPU", (9, 0), precision, BatchProfile(1, 8, 32))
    plan = build_engine_plan(tmp_path / "model.onnx", key, timing, input_shape=(3, 384, 128))
    assert plan == b"PLAN"
    assert calls["parsed"] == str(tmp_path / "model.onnx")
    assert calls["profile"] == ("images", (1, 3, 384, 128), (8, 3, 384, 128), (32, 3, 384, 128))
    assert calls["profiles_added"] == 1
    # Precision lives in the graph: the FP16 builder flag only where there is no strong typing.
    wants_flag = precision == "fp16" and version.startswith("8.")
    assert calls["builder_flags"] == ([module.BuilderFlag.FP16] if wants_flag else [])
    assert calls.get("cleared_flags", []) == ([module.BuilderFlag.TF32] if precision == "fp32" else [])
    assert timing.read_bytes() == b"timings:"  # written after the build
    build_engine_plan(tmp_path / "model.onnx", key, timing, input_shape=(3, 384, 128))
    assert calls["timing_cache_in"] == b"timings:", "the saved timing cache is loaded by the next build"


def test_parse_failure_is_a_user_error_with_the_parser_message(monkeypatch, tmp_path):
    module, _ = fake_tensorrt("11.0.0", parse_ok=False)
    monkeypatch.setattr(tensorrt_engine, "require_tensorrt", lambda *arguments: module)
    with pytest.raises(UserError, match="cannot parse the ONNX model: Unsupported operator Foo"):
        build_engine_plan(tmp_path / "model.onnx", KEY, tmp_path / "timing.cache", (3, 384, 128))


def test_build_failure_is_a_user_error(monkeypatch, tmp_path):
    module, _ = fake_tensorrt("10.3.0", build_ok=False)
    monkeypatch.setattr(tensorrt_engine, "require_tensorrt", lambda *arguments: module)
    with pytest.raises(UserError, match="could not build the engine"):
        build_engine_plan(tmp_path / "model.onnx", KEY, tmp_path / "timing.cache", (3, 384, 128))
    assert not (tmp_path / "timing.cache").exists()
