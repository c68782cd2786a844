"""The int8 graph: which nodes are quantized (the backbone's convolutions but its stem, nothing of the head), its
accuracy against fp32 measured on synthetic crops with ONNX Runtime, its calibration input, the
command line, and the refusals (no calibration, TensorRT, compiling it on the fly)."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
import torch

import reid
from reid.checkpoint import load_model
from reid.errors import UserError, run_command_line
from reid.export import build_onnx_model, build_engine, onnx_for_checkpoint, read_onnx_signature
from reid.export.__main__ import main as export_main
from reid.export.calibration_images import calibration_images_from_directory
from reid.engine_key import BatchProfile
from reid.export.int8_quantization import QUANTIZED_MODULE_PREFIXES, nodes_to_quantize
from reid.model_signature import ModelSignature
from reid.image_files import image_files_under
from reid.runtime import load_extractor
from reid.runtime.preprocessing import preprocess_crops
from tests.conftest import small_config
from tests.export_support import SHARED_CACHE_DIR, feature_agreement, small_checkpoint, synthetic_crops

HEAD_CONVOLUTION_PREFIXES = ("/model/refinement/", "/model/body_part_attention/")


def _calibration(signature: ModelSignature, count: int = 64, seed: int = 7) -> np.ndarray:
    crops, _ = synthetic_crops(count, signature.num_parts, seed=seed)
    return preprocess_crops(crops, signature.input_size, signature.mean, signature.std)


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {output: node for node in model.graph.node for output in node.output}


@pytest.fixture(scope="module")
def graphs():
    model = reid.build_model(small_config(num_parts=8)).eval()
    signature = ModelSignature.from_config(model.config)
    fp32 = build_onnx_model(model)
    int8 = build_onnx_model(model, precision="int8", calibration_images=_calibration(signature))
    return fp32, int8


# The stems' convolutions, by hand from the networks' definitions (torchvision ResNet-18: conv1 in our
# ``stem`` Sequential; timm ResNet-10-T: the deep stem's three convolutions in ``conv1``).
STEM_CONVOLUTIONS = {
    "resnet18": ["/model/backbone/stem/stem.0/Conv"],
    "resnet10t": [f"/model/backbone/body/conv1/conv1.{index}/Conv" for index in (0, 3, 6)],
}


@pytest.mark.parametrize("backbone", sorted(STEM_CONVOLUTIONS))
def test_every_backbone_convolution_but_the_stem_is_selected(backbone):
    fp32 = build_onnx_model(reid.build_model(small_config(backbone=backbone)).eval())
    convolutions = [node.name for node in fp32.graph.node if node.op_type == "Conv" and node.name.startswith("/model/backbone/")]
    assert set(STEM_CONVOLUTIONS[backbone]) <= set(convolutions)
    assert nodes_to_quantize(fp32) == [name for name in convolutions if name not in STEM_CONVOLUTIONS[backbone]]
    assert nodes_to_quantize(fp32, quantize_stem=True) == convolutions


def test_backbone_convolutions_compute_in_int8(graphs):
    fp32, int8 = graphs
    stem = STEM_CONVOLUTIONS["resnet18"]
    backbone = [node.name for node in fp32.graph.node if node.op_type == "Conv" and node.name.startswith("/model/backbone/")
                and node.name not in stem]
    assert backbone and nodes_to_quantize(fp32) == backbone
    producers = _producers(int8)
    initializers = {tensor.name: tensor for tensor in int8.graph.initializer}
    quantized = [node for node in int8.graph.node if node.op_type == "Conv" and node.name.startswith(QUANTIZED_MODULE_PREFIXES)
                 and node.name not in stem]
    assert sorted(node.name for node in quantized) == sorted(backbone)
    stem_nodes = [node for node in int8.graph.node if node.name in stem]
    assert len(stem_nodes) == len(stem)
    for node in stem_nodes:  # the stem stays fp32: weights stored as floats, input not dequantized
        assert initializers[node.input[1]].data_type == onnx.TensorProto.FLOAT, node.name
        assert producers.get(node.input[0]) is None or producers[node.input[0]].op_type != "DequantizeLinear", node.name
    for node in quantized:  # activation and weight both arrive through DequantizeLinear, weights int8
        activation, weight = producers[node.input[0]], producers[node.input[1]]
        assert activation.op_type == "DequantizeLinear" and weight.op_type == "DequantizeLinear", node.name
        assert initializers[weight.input[0]].data_type == onnx.TensorProto.INT8, node.name
        assert len(onnx.numpy_helper.to_array(initializers[weight.input[1]])) > 1, "weights are scaled per channel"


def test_the_head_stays_fp32(graphs):
    _, int8 = graphs
    producers = _producers(int8)
    initializers = {tensor.name: tensor for tensor in int8.graph.initializer}
    head = [node for node in int8.graph.node if node.op_type == "Conv" and node.name.startswith(HEAD_CONVOLUTION_PREFIXES)]
    assert len(head) >= 4  # refinement, attention, pixel part classifier
    for node in head:
        assert node.input[1] in initializers, f"{node.name}: weight computed, not stored"
        assert initializers[node.input[1]].data_type == onnx.TensorProto.FLOAT, node.name
        assert node.input[1] not in producers
    sensitive = {"Softmax", "ReduceL2", "ArgMax", "Einsum", "MatMul", "InstanceNormalization"}
    for node in int8.graph.node:
        if node.op_type in sensitive:
            assert all(producers.get(name) is None or producers[name].op_type != "DequantizeLinear" for name in node.input), node.name
    outputs = {value.name: value.type.tensor_type.elem_type for value in int8.graph.output}
    assert outputs == {"embeddings": onnx.TensorProto.FLOAT, "visibility": onnx.TensorProto.BOOL}


def test_int8_metadata_says_int8(graphs, tmp_path):
    _, int8 = graphs
    path = tmp_path / "model-int8.onnx"
    path.write_bytes(int8.SerializeToString())
    signature = read_onnx_signature(path)
    assert signature.precision == "int8" and signature.num_parts == 8
    onnx.checker.check_model(str(path), full_check=True)


def test_int8_against_fp32_on_synthetic_crops(tmp_path):
    """Embedding cosine similarity and visibility flip rate of the int8 graph, held to a bound;
    calibrated on one set of crops, measured on another."""
    checkpoint = small_checkpoint(num_parts=8, trained=True)
    model = load_model(checkpoint)
    signature = ModelSignature.from_config(model.config)
    int8_path = tmp_path / "model-int8.onnx"
    int8_path.write_bytes(
        build_onnx_model(model, precision="int8", calibration_images=_calibration(signature, 128, seed=11)).SerializeToString()
    )
    crops, _ = synthetic_crops(256, 8, seed=2025)
    full = load_extractor(checkpoint, "onnxruntime", precision="fp32", cache_dir=SHARED_CACHE_DIR).extract(crops)
    quantized_extractor = load_extractor(int8_path, "onnxruntime")
    assert quantized_extractor.info.signature.precision == "int8"
    quantized = quantized_extractor.extract(crops)
    cosine, flip_rate = feature_agreement(full, quantized)  # cosine [N, 1+K]
    print(
        f"\nint8 vs fp32 on {len(crops)} synthetic crops: embedding cosine mean {cosine.mean().item():.5f}, "
        f"min {cosine.min().item():.5f}; visibility flip rate {flip_rate:.3%} of {full.visibility.numel()} flags"
    )
    assert not torch.equal(full.embeddings, quantized.embeddings), "the int8 graph must actually compute in int8"
    assert cosine.mean().item() >= 0.995
    assert cosine.min().item() >= 0.95
    assert flip_rate <= 0.02


def _write_crops(directory, count: int, seed: int):
    crops, _ = synthetic_crops(count, 5, seed=seed)
    for index, crop in enumerate(crops):
        folder = directory / ("a" if index % 2 else "b")  # recursive search
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{index:04d}.png"), crop)
    (directory / "notes.txt").write_text("not an image")
    return directory


def test_calibration_images_are_read_and_preprocessed_like_the_runtime_input(tmp_path):
    directory = _write_crops(tmp_path / "crops", 20, seed=3)
    signature = ModelSignature.from_config(small_config(num_parts=5))
    images = calibration_images_from_directory(directory, signature, count=12, seed=5)
    assert images.shape == (12, 3, *signature.input_size) and images.dtype == np.float32
    again = calibration_images_from_directory(directory, signature, count=12, seed=5)
    np.testing.assert_array_equal(images, again)
    files = image_files_under(directory)
    assert len(files) == 20
    everything = calibration_images_from_directory(directory, signature, count=100)
    expected = preprocess_crops([cv2.imread(str(path)) for path in files], signature.input_size, signature.mean, signature.std)
    np.testing.assert_array_equal(everything, expected)  # all 20 files, in sorted order


def test_cli_exports_a_loadable_int8_model(tmp_path, capsys):
    checkpoint = small_checkpoint(num_parts=5)
    directory = _write_crops(tmp_path / "crops", 16, seed=4)
    output = tmp_path / "model-int8.onnx"
    arguments = ["--checkpoint", str(checkpoint), "--format", "onnx", "--precision", "int8"]
    code = run_command_line(export_main, [*arguments, "--calibration", str(directory), "--out", str(output)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "calibrating int8 on 16 crops" in captured.err and "int8" in captured.out
    extractor = load_extractor(output)
    assert extractor.info.backend == "onnxruntime" and extractor.info.signature.precision == "int8"
    crops, _ = synthetic_crops(3, 5, seed=9)
    assert extractor.extract(crops).embeddings.shape == (3, 6, 64)


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--precision int8 needs --calibration DIR"),
        (["--calibration", "EMPTY"], "int8 calibration needs at least 8 images"),
        (["--calibration", "MISSING"], "not a directory of images"),
        (["--calibration", "EMPTY", "--calibration-count", "2"], "--calibration-count must be at least 8"),
        (["--format", "engine"], "engines take fp32 or fp16"),
    ],
)
def test_cli_int8_mistakes_are_one_line_and_exit_2(tmp_path, capsys, extra, message):
    checkpoint = small_checkpoint(num_parts=5)
    (tmp_path / "empty").mkdir()
    replaced = [str(tmp_path / "empty") if item == "EMPTY" else str(tmp_path / "missing") if item == "MISSING" else item for item in extra]
    arguments = ["--checkpoint", str(checkpoint), "--precision", "int8", "--out", str(tmp_path / "out.onnx")]
    if "--format" not in replaced:
        arguments += ["--format", "onnx"]
    code = run_command_line(export_main, arguments + replaced)
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert len(error.splitlines()) == 1 and message in error, error
    assert not (tmp_path / "out.onnx").exists()


def test_calibration_folder_without_int8_is_refused(tmp_path, capsys):
    checkpoint = small_checkpoint(num_parts=5)
    code = run_command_line(
        export_main, ["--checkpoint", str(checkpoint), "--format", "onnx", "--calibration", str(tmp_path)]
    )
    assert code == 2 and "only used with --precision int8" in capsys.readouterr().err


def test_int8_is_not_compiled_on_the_fly_from_a_checkpoint(tmp_path):
    checkpoint = small_checkpoint(num_parts=5)
    with pytest.raises(UserError, match="--precision int8 --calibration DIR"):
        onnx_for_checkpoint(checkpoint, "int8", tmp_path)
    with pytest.raises(UserError, match="--precision int8 --calibration DIR"):
        load_extractor(checkpoint, "onnxruntime", precision="int8", cache_dir=tmp_path)


def test_an_int8_graph_is_refused_by_the_engine_builder_before_tensorrt_is_needed(graphs, tmp_path):
    _, int8 = graphs
    path = tmp_path / "model-int8.onnx"
    path.write_bytes(int8.SerializeToString())
    with pytest.raises(UserError, match="int8 graph is for ONNX Runtime on the CPU"):
        build_engine(path, BatchProfile.up_to(8), tmp_path)
