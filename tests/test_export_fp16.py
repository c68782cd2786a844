"""The fp16 graph: precision placement (convolutions and matrix products fp16; softmax, pooling
normalisation, L2-normalisation and visibility fp32), constant safety, and its accuracy against
fp32 measured on synthetic crops with ONNX Runtime on the CPU."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import reid
from reid.export import build_onnx_model, convert_to_fp16
from reid.export.fp16_graph import fits_fp16
from reid.runtime import load_extractor
from tests.conftest import small_config
from tests.export_support import SHARED_CACHE_DIR, feature_agreement, small_checkpoint, synthetic_crops

FP32_SENSITIVE = {"Softmax", "ReduceL2", "ArgMax", "ReduceMax", "ReduceSum", "Div", "Clip", "InstanceNormalization", "BatchNormalization"}


def _input_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    types = {value.name: value.type.tensor_type.elem_type for value in inferred.graph.value_info}
    types.update({value.name: value.type.tensor_type.elem_type for value in inferred.graph.input})
    types.update({init.name: init.data_type for init in inferred.graph.initializer})
    return types


def _float_input_types(node, types) -> set[int]:
    return {types[name] for name in node.input if name and types.get(name) in (TensorProto.FLOAT, TensorProto.FLOAT16)}


@pytest.fixture(scope="module")
def fp16_model():
    model = reid.build_model(small_config(num_parts=8)).eval()
    return build_onnx_model(model, precision="fp16")


def test_convolutions_and_matrix_products_run_in_fp16(fp16_model):
    types = _input_types(fp16_model)
    compute = [node for node in fp16_model.graph.node if node.op_type in ("Conv", "MatMul", "Einsum")]
    assert len(compute) >= 20
    for node in compute:
        assert _float_input_types(node, types) == {TensorProto.FLOAT16}, f"{node.op_type} {node.name}"


def test_softmax_normalisations_and_visibility_stay_fp32(fp16_model):
    types = _input_types(fp16_model)
    sensitive = [node for node in fp16_model.graph.node if node.op_type in FP32_SENSITIVE]
    assert {node.op_type for node in sensitive} >= {"Softmax", "ReduceL2", "ArgMax", "Div", "ReduceSum"}
    for node in sensitive:
        assert _float_input_types(node, types) <= {TensorProto.FLOAT}, f"{node.op_type} {node.name} reads fp16"
    outputs = {value.name: value.type.tensor_type.elem_type for value in fp16_model.graph.output}
    assert outputs == {"embeddings": TensorProto.FLOAT, "visibility": TensorProto.BOOL}
    assert [value.type.tensor_type.elem_type for value in fp16_model.graph.input] == [TensorProto.FLOAT]
    for initializer in fp16_model.graph.initializer:
        if initializer.data_type == TensorProto.FLOAT16:
            assert fits_fp16(numpy_helper.to_array(initializer).astype(np.float32)), initializer.name


def test_fits_fp16():
    assert fits_fp16(np.array([1.0, -65504.0, 0.0]))
    assert not fits_fp16(np.array([-1e9]))
    assert not fits_fp16(np.array([1e-12]))  # an epsilon flushed to zero
    assert not fits_fp16(np.array([np.inf]))
    weights = np.full(1000, 0.01)
    weights[0] = 1e-12  # one tiny weight in a large tensor may round to zero
    assert fits_fp16(weights)


def _conv_graph(tail_nodes, tail_initializers, output_name):
    """images [1,2,4,4] -> Conv -> 'conv' -> tail -> output_name (float)."""
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((2, 2, 1, 1)).astype(np.float32), "weight")
    nodes = [helper.make_node("Conv", ["images", "weight"], ["conv"], name="conv")] + tail_nodes
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, None)],
        [weight] + tail_initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, images):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": images})[0]


def test_mask_constants_keep_their_operation_in_fp32():
    mask = numpy_helper.from_array(np.array([-1e9], dtype=np.float32), "mask")
    bias = numpy_helper.from_array(np.array([0.5], dtype=np.float32), "bias")
    tail = [
        helper.make_node("Add", ["conv", "bias"], ["biased"], name="add_bias"),
        helper.make_node("Add", ["biased", "mask"], ["masked"], name="add_mask"),
        helper.make_node("Relu", ["masked"], ["out"], name="relu"),
    ]
    model = _conv_graph(tail, [mask, bias], "out")
    conversion = convert_to_fp16(model)
    types = _input_types(conversion.model)
    nodes = {node.name: node for node in conversion.model.graph.node}
    assert _float_input_types(nodes["add_bias"], types) == {TensorProto.FLOAT16}
    assert _float_input_types(nodes["add_mask"], types) == {TensorProto.FLOAT}
    assert conversion.kept_for_constants == ("add_mask",)
    assert not any(init.data_type == TensorProto.FLOAT16 and init.name.startswith("mask") for init in conversion.model.graph.initializer)
    images = np.random.default_rng(1).standard_normal((1, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(_run(conversion.model, images), _run(model, images), atol=1e-2)
    assert conversion.model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT


def test_fp16_graph_output_is_cast_back_to_float32():
    model = _conv_graph([helper.make_node("Relu", ["conv"], ["out"], name="relu")], [], "out")
    conversion = convert_to_fp16(model)
    assert conversion.fp16_nodes == {"Conv": 1, "Relu": 1}
    images = np.random.default_rng(2).standard_normal((1, 2, 4, 4)).astype(np.float32)
    result = _run(conversion.model, images)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, _run(model, images), atol=1e-2)


def test_resize_scales_stay_float32():
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    tail = [helper.make_node("Resize", ["conv", "", "scales"], ["out"], name="resize", mode="nearest")]
    conversion = convert_to_fp16(_conv_graph(tail, [scales], "out"))
    resize = next(node for node in conversion.model.graph.node if node.op_type == "Resize")
    initializers = {init.name: init for init in conversion.model.graph.initializer}
    assert initializers[resize.input[2]].data_type == TensorProto.FLOAT
    assert conversion.fp16_nodes["Resize"] == 1


def test_fp16_against_fp32_on_synthetic_crops(tmp_path):
    """Embedding cosine similarity and visibility flip rate of the fp16 graph, held to a bound."""
    checkpoint = small_checkpoint(num_parts=8, trained=True)
    crops, _ = synthetic_crops(256, 8, seed=2024)
    full = load_extractor(checkpoint, "onnxruntime", precision="fp32", cache_dir=SHARED_CACHE_DIR).extract(crops)
    half_extractor = load_extractor(checkpoint, "onnxruntime", precision="fp16", cache_dir=SHARED_CACHE_DIR)
    assert half_extractor.info.signature.precision == "fp16"
    half = half_extractor.extract(crops)
    cosine, flip_rate = feature_agreement(full, half)  # cosine [N, 1+K]
    print(
        f"\nfp16 vs fp32 on {len(crops)} synthetic crops: embedding cosine mean {cosine.mean().item():.7f} "
        f"(1 - mean {1 - cosine.mean().item():.1e}), min {cosine.min().item():.7f}; "
        f"visibility flip rate {flip_rate:.3%} of {full.visibility.numel()} flags"
    )
    assert not torch.equal(full.embeddings, half.embeddings), "the fp16 graph must actually compute in fp16"
    assert cosine.mean().item() >= 0.999
    assert cosine.min().item() >= 0.99
    assert flip_rate <= 0.01
