"""The exported ONNX graph: its contract (one dynamic-batch input, exactly two outputs, the
signature in the metadata, one self-contained file) and its agreement with PyTorch."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from onnx import TensorProto

from reid.checkpoint import file_sha256, load_model
from reid.errors import UserError
from reid.export import ModelSignature, export_checkpoint_to_onnx, read_onnx_signature
from reid.part_groups import part_names
from reid.runtime import load_extractor
from tests.export_support import SHARED_CACHE_DIR, small_checkpoint, synthetic_crops


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    checkpoint = small_checkpoint(num_parts=8)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_checkpoint_to_onnx(checkpoint, path)
    return checkpoint, path


def _dims(value_info) -> list:
    return [dim.dim_param or dim.dim_value for dim in value_info.type.tensor_type.shape.dim]


def test_one_input_with_a_dynamic_batch_axis_only(exported):
    _, path = exported
    graph = onnx.load(str(path)).graph
    initializers = {initializer.name for initializer in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    assert [value.name for value in inputs] == ["images"]
    assert inputs[0].type.tensor_type.elem_type == TensorProto.FLOAT
    batch, *rest = _dims(inputs[0])
    assert isinstance(batch, str) and batch, "the batch axis must be symbolic"
    assert rest == [3, 128, 64], "only the batch axis may be dynamic"


def test_exactly_two_outputs_with_the_contract_types_and_shapes(exported):
    _, path = exported
    graph = onnx.load(str(path)).graph
    batch = _dims(graph.input[0])[0]
    outputs = {value.name: value for value in graph.output}
    assert list(outputs) == ["embeddings", "visibility"]
    assert outputs["embeddings"].type.tensor_type.elem_type == TensorProto.FLOAT
    assert outputs["visibility"].type.tensor_type.elem_type in (TensorProto.BOOL, TensorProto.UINT8)
    assert _dims(outputs["embeddings"]) == [batch, 9, 64]
    assert _dims(outputs["visibility"]) == [batch, 9]


def test_metadata_records_input_normalisation_parts_and_checkpoint_hash(exported):
    checkpoint, path = exported
    metadata = {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}
    config = load_model(checkpoint).config
    assert (int(metadata["input_height"]), int(metadata["input_width"])) == (128, 64)
    assert json.loads(metadata["input_mean"]) == pytest.approx(config.input.mean)
    assert json.loads(metadata["input_std"]) == pytest.approx(config.input.std)
    assert int(metadata["num_parts"]) == 8 and int(metadata["embedding_dim"]) == 64
    assert json.loads(metadata["part_names"]) == list(part_names(8))
    assert metadata["checkpoint_sha256"] == file_sha256(checkpoint)
    assert read_onnx_signature(path) == ModelSignature.from_config(config, file_sha256(checkpoint))


def test_single_self_contained_file_that_passes_the_checker(tmp_path):
    path = tmp_path / "only.onnx"
    export_checkpoint_to_onnx(small_checkpoint(num_parts=5), path)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["only.onnx"], "no external-data sidecar"
    model = onnx.load(str(path), load_external_data=False)
    assert not any(init.data_location == TensorProto.EXTERNAL for init in model.graph.initializer)
    onnx.checker.check_model(str(path), full_check=True)
    assert {node.op_type for node in model.graph.node}.isdisjoint({"Gemm"}), "identity classifiers are not exported"


def test_foreign_onnx_without_metadata_is_rejected(tmp_path):
    path = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["images"], ["embeddings"])
    value = onnx.helper.make_tensor_value_info("images", TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([node], "foreign", [value], [onnx.helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(UserError, match="not a BPSEMA part-feature model"):
        read_onnx_signature(path)
    with pytest.raises(UserError, match="not a BPSEMA part-feature model|expected input"):
        load_extractor(path, "onnxruntime")


@pytest.mark.parametrize("trained", [False, True], ids=["random", "trained"])
@pytest.mark.parametrize("num_parts", [5, 8])
def test_onnxruntime_output_equals_pytorch(num_parts, trained, tmp_path):
    checkpoint = small_checkpoint(num_parts=num_parts, trained=trained)
    if trained:
        batch_norm = load_model(checkpoint).backbone.stem[1]
        assert not torch.allclose(batch_norm.running_var, torch.ones_like(batch_norm.running_var))
    crops, _ = synthetic_crops(24, num_parts, seed=11)
    reference = load_extractor(checkpoint, "torch").extract(crops)
    features = load_extractor(checkpoint, "onnxruntime", cache_dir=SHARED_CACHE_DIR).extract(crops)
    difference = (features.embeddings - reference.embeddings).abs().max().item()
    assert difference <= 1e-4, f"max |ONNX Runtime - PyTorch| = {difference:.2e}"
    assert torch.equal(features.visibility, reference.visibility)
    visible_fraction = reference.visibility[:, 1:].float().mean().item()
    assert 0.0 < visible_fraction < 1.0, "visibility must vary for the comparison to mean something"
