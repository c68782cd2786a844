"""The fp16 graph for strongly typed TensorRT (precision lives in the graph, not in builder flags).

Convolutions and matrix products compute in fp16; the precision-sensitive operations stay in
fp32: softmax, the normalisations (BatchNorm/GroupNorm statistics, part pooling's division by the
mask mass, L2-normalisation) and everything visibility is decided from (argmax, max, comparisons).
Element-wise and shape operations between them follow their inputs: they run in fp16 when every
activation they read is fp16, else in fp32. Casts are inserted at the boundaries, once per tensor.
The graph's inputs and outputs keep their types (``images`` and ``embeddings`` float32).

Constants: weights feeding an fp16 operation are stored in fp16. A small constant that does not
survive the cast (a ``-1e9`` mask value, a ``1e-12`` epsilon, anything non-finite or beyond 65504)
keeps its operation in fp32 instead, so it is never overflowed or flushed to zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FP16_COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum"})

FP32_OPS = frozenset(
    {
        # softmax and relatives
        "Softmax",
        "LogSoftmax",
        "Hardmax",
        # normalisations: statistics over many values
        "BatchNormalization",
        "InstanceNormalization",
        "GroupNormalization",
        "LayerNormalization",
        "MeanVarianceNormalization",
        "LpNormalization",
        # part pooling normalisation and L2-normalisation: sums, norms, divisions, clamps
        "ReduceSum",
        "ReduceSumSquare",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
        "ReduceProd",
        "Div",
        "Reciprocal",
        "Clip",
        "Sqrt",
        "Pow",
        "Exp",
        "Log",
        # visibility: argmax, maxima, attention mass (a mean of probabilities) and comparisons
        "ReduceMean",
        "ArgMax",
        "ArgMin",
        "ReduceMax",
        "ReduceMin",
        "TopK",
        "Equal",
        "Greater",
        "GreaterOrEqual",
        "Less",
        "LessOrEqual",
    }
)

# Operations that read a tensor of any type: they never need a cast in front.
ANY_TYPE_INPUT_OPS = frozenset({"Shape", "Size", "Cast"})

# Inputs that must stay float32 whatever the data's type (Resize's roi and scales).
FLOAT32_ONLY_INPUTS: dict[str, tuple[int, ...]] = {"Resize": (1, 2), "Upsample": (1,)}

FP16_MAX = 65504.0
_SMALL_CONSTANT_SIZE = 64


@dataclass(frozen=True)
class Fp16Conversion:
    """The converted model and what the conversion did.

    Attributes:
        model: the fp16 graph (inputs and outputs keep their original types).
        fp16_nodes: op type -> number of nodes computing in fp16.
        fp32_nodes: op type -> number of nodes with floating-point inputs kept in fp32.
        casts_inserted: Cast nodes added at precision boundaries.
        kept_for_constants: names of nodes kept in fp32 because a constant input does not fit fp16.
    """

    model: onnx.ModelProto
    fp16_nodes: Counter = field(default_factory=Counter)
    fp32_nodes: Counter = field(default_factory=Counter)
    casts_inserted: int = 0
    kept_for_constants: tuple[str, ...] = ()


def fits_fp16(values: np.ndarray) -> bool:
    """Whether a constant can be stored in fp16: finite, |x| <= 65504, and (for small constants
    such as epsilons and mask values) no non-zero value flushed to zero."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return True
    if not np.all(np.isfinite(values)) or np.abs(values).max() > FP16_MAX:
        return False
    if values.size <= _SMALL_CONSTANT_SIZE:
        rounded = values.astype(np.float16)
        if np.any((values != 0) & (rounded == 0)):
            return False
    return True


def _has_subgraphs(graph: onnx.GraphProto) -> bool:
    return any(
        attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for node in graph.node
        for attribute in node.attribute
    )


def _inline_constants(graph: onnx.GraphProto) -> None:
    """Constant nodes become initializers; Identity nodes over initializers are bypassed."""
    graph_outputs = {output.name for output in graph.output}
    initializer_names = {initializer.name for initializer in graph.initializer}
    renamed: dict[str, str] = {}
    kept = []
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            initializer_names.add(tensor.name)
            continue
        if node.op_type == "Identity" and node.input[0] in initializer_names and node.output[0] not in graph_outputs:
            renamed[node.output[0]] = node.input[0]
            continue
        kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def _element_types(model: onnx.ModelProto) -> dict[str, int]:
    """Tensor name -> ONNX element type, from shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {
        value.name: value.type.tensor_type.elem_type
        for value in list(graph.value_info) + list(graph.input) + list(graph.output)
    }
    types.update({initializer.name: initializer.data_type for initializer in graph.initializer})
    return types


def convert_to_fp16(model: onnx.ModelProto) -> Fp16Conversion:
    """Rewrite an fp32 graph into the mixed fp16/fp32 graph described in this module's docstring."""
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    if _has_subgraphs(graph):
        raise ValueError("graphs with control flow (If/Loop/Scan) are not supported by the fp16 conversion")
    _inline_constants(graph)
    types = _element_types(converted)
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    taken_names = set(types) | {output for node in graph.node for output in node.output}

    def fresh(name: str) -> str:
        candidate, suffix = name, 0
        while candidate in taken_names:
            suffix += 1
            candidate = f"{name}_{suffix}"
        taken_names.add(candidate)
        return candidate

    half_activations: set[str] = set()
    half_initializers: dict[str, str] = {}
    casts: dict[tuple[str, int], str] = {}
    nodes: list[onnx.NodeProto] = []
    fp16_nodes: Counter = Counter()
    fp32_nodes: Counter = Counter()
    kept_for_constants: list[str] = []

    def half_initializer(name: str) -> str:
        if name not in half_initializers:
            values = numpy_helper.to_array(initializers[name]).astype(np.float16)
            copy = numpy_helper.from_array(values, fresh(f"{name}_fp16"))
            graph.initializer.append(copy)
            half_initializers[name] = copy.name
        return half_initializers[name]

    def cast(name: str, element_type: int) -> str:
        key = (name, element_type)
        if key not in casts:
            suffix = "fp16" if element_type == TensorProto.FLOAT16 else "fp32"
            output = fresh(f"{name}_{suffix}")
            nodes.append(helper.make_node("Cast", [name], [output], name=fresh(f"Cast_{output}"), to=element_type))
            casts[key] = output
        return casts[key]

    for node in graph.node:
        float_inputs = [
            (index, name) for index, name in enumerate(node.input) if name and types.get(name) == TensorProto.FLOAT
        ]
        if node.op_type in ANY_TYPE_INPUT_OPS or not float_inputs:
            nodes.append(node)
            continue
        fixed_float32 = FLOAT32_ONLY_INPUTS.get(node.op_type, ())
        activations = [name for index, name in float_inputs if name not in initializers and index not in fixed_float32]
        if node.op_type in FP16_COMPUTE_OPS:
            use_half = True
        elif node.op_type in FP32_OPS:
            use_half = False
        else:
            use_half = bool(activations) and all(name in half_activations for name in activations)
        if use_half and any(
            name in initializers and index not in fixed_float32 and not fits_fp16(numpy_helper.to_array(initializers[name]))
            for index, name in float_inputs
        ):
            use_half = False
            kept_for_constants.append(node.name or node.op_type)

        for index, name in float_inputs:
            wanted = TensorProto.FLOAT16 if use_half and index not in fixed_float32 else TensorProto.FLOAT
            if name in initializers:
                if wanted == TensorProto.FLOAT16:
                    node.input[index] = half_initializer(name)
                continue
            current = TensorProto.FLOAT16 if name in half_activations else TensorProto.FLOAT
            if current != wanted:
                node.input[index] = cast(name, wanted)
        if use_half:
            half_activations.update(output for output in node.output if types.get(output) == TensorProto.FLOAT)
            fp16_nodes[node.op_type] += 1
        else:
            fp32_nodes[node.op_type] += 1
        nodes.append(node)

    # Graph outputs keep their declared float32 type.
    for output in graph.output:
        if output.name in half_activations:
            half_name = fresh(f"{output.name}_fp16")
            for node in nodes:
                node.output[:] = [half_name if name == output.name else name for name in node.output]
                node.input[:] = [half_name if name == output.name else name for name in node.input]
            nodes.append(helper.make_node("Cast", [half_name], [output.name], to=TensorProto.FLOAT))
            casts[(output.name, TensorProto.FLOAT)] = output.name

    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
    unused = [initializer for initializer in graph.initializer if initializer.name not in used]
    for initializer in unused:
        graph.initializer.remove(initializer)
    del graph.value_info[:]
    onnx.shape_inference.infer_shapes(converted, check_type=True, strict_mode=True)
    return Fp16Conversion(
        model=converted,
        fp16_nodes=fp16_nodes,
        fp32_nodes=fp32_nodes,
        casts_inserted=len(casts),
        kept_for_constants=tuple(kept_for_constants),
    )
