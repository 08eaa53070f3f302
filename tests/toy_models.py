"""Hand-built ONNX stand-ins for Mask G and Face G (no training, no TensorFlow): right shapes and metadata, so
that model loading and validation can be tested in milliseconds.

Mask G: mean over the colour channels, through a sigmoid (N×S×S×3 → N×S×S×1). Face G: the first three input
channels (N×S×S×4 → N×S×S×3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unmask_cli.faces import ALIGNMENT_ID
from unmask_cli.model_card import FACE_FILE, MASK_FILE, PREFIX, variant_file


def metadata(kind: str, size: int, **overrides: str) -> dict[str, str]:
    props = {
        "kind": kind,
        "format_version": "1",
        "input_size": str(size),
        "value_range": "-1,1",
        "colour_order": "RGB",
        "layout": "NHWC",
        "alignment": ALIGNMENT_ID,
        "precision": "fp32",
        "weights_sha256": "0" * 64,
    }
    if kind == "mask_g":
        props["threshold"] = "0.5"
    return {PREFIX + k: v for k, v in {**props, **overrides}.items()}


def _model(kind: str, size: int, props: dict[str, str]):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    channels_in, channels_out = (3, 1) if kind == "mask_g" else (4, 3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", size, size, channels_in])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", size, size, channels_out])
    if kind == "mask_g":
        nodes = [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
            helper.make_node("Sigmoid", ["m"], ["y"]),
        ]
        initializers = []
    else:
        nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])]
        initializers = [
            numpy_helper.from_array(np.array([v], np.int64), name)
            for name, v in (("starts", 0), ("ends", 3), ("axes", 3))
        ]
    graph = helper.make_graph(nodes, kind, [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.helper.set_model_props(model, props)
    return model


def write_models(
    folder: Path,
    size: int = 32,
    precision: str = "fp32",
    graph_size: int | None = None,
    mask_props: dict[str, str] | None = None,
) -> Path:
    """Write mask_g and face_g (at `precision`'s file names) into `folder`. `graph_size` builds the graphs for
    another size than the metadata states; `mask_props` overrides Mask G's metadata (keys without the prefix)."""
    import onnx

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for filename, kind in ((MASK_FILE, "mask_g"), (FACE_FILE, "face_g")):
        overrides = (mask_props or {}) if kind == "mask_g" else {}
        props = metadata(kind, size, precision=precision, **overrides)
        onnx.save(_model(kind, graph_size or size, props), folder / variant_file(filename, precision))
    return folder


def write_gate(folder: Path, size: int = 32, present: bool = True) -> Path:
    """A presence check (mask_gate.onnx) that finds a mask everywhere or nowhere, whatever the crop."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from unmask_cli.model_card import GATE_FILE

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", size, size, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", size, size, 1])
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "bias"], ["b"]),
        helper.make_node("Sigmoid", ["b"], ["y"]),
    ]
    constants = [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(10.0 if present else -10.0, np.float32), "bias"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "gate", [x], [y], constants), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.helper.set_model_props(model, metadata("mask_g", size))
    path = Path(folder) / GATE_FILE
    onnx.save(model, path)
    return path


def write_structure(folder: Path, size: int = 32, value: float = 0.5, **overrides: str) -> Path:
    """A structure Face G (face_g_structure.onnx) whose fill is `value` everywhere; `overrides` its metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from unmask_cli.model_card import STRUCTURE_FILE

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", size, size, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", size, size, 3])
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["rgb"]),
        helper.make_node("Mul", ["rgb", "zero"], ["z"]),
        helper.make_node("Add", ["z", "value"], ["y"]),
    ]
    constants = [
        *(numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("starts", 0), ("ends", 3), ("axes", 3))),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(value, np.float32), "value"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "structure", [x], [y], constants), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    kind = overrides.pop("kind", "face_g")
    onnx.helper.set_model_props(model, metadata(kind, size, **overrides))
    path = Path(folder) / STRUCTURE_FILE
    onnx.save(model, path)
    return path
