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


def _graph_model(name: str, size: int, channels: tuple[int, int], nodes, constants, props: dict[str, str]):
    """An opset-17 model from input "x" (N×S×S×channels[0]) to output "y" (N×S×S×channels[1]), with metadata."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", size, size, channels[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", size, size, channels[1]])
    model = helper.make_model(
        helper.make_graph(nodes, name, [x], [y], constants), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.helper.set_model_props(model, props)
    return model


def _first_three_channels(out: str) -> tuple[list, list]:
    """Nodes and constants slicing "x"'s first three channels into `out`."""
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], [out])]
    constants = [
        numpy_helper.from_array(np.array([v], np.int64), name) for name, v in (("starts", 0), ("ends", 3), ("axes", 3))
    ]
    return nodes, constants


def _model(kind: str, size: int, props: dict[str, str]):
    from onnx import helper

    if kind == "mask_g":
        nodes = [
            helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
            helper.make_node("Sigmoid", ["m"], ["y"]),
        ]
        return _graph_model(kind, size, (3, 1), nodes, [], props)
    return _graph_model(kind, size, (4, 3), *_first_three_channels("y"), props)


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
    from onnx import helper, numpy_helper

    from unmask_cli.model_card import GATE_FILE

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
    props = metadata("mask_g", size, role="presence check: as export writes it")
    model = _graph_model("gate", size, (3, 1), nodes, constants, props)
    path = Path(folder) / GATE_FILE
    onnx.save(model, path)
    return path


def write_structure(folder: Path, size: int = 32, value: float = 0.5, **overrides: str) -> Path:
    """A structure Face G (face_g_structure.onnx) whose fill is `value` everywhere; `overrides` its metadata."""
    import onnx
    from onnx import helper, numpy_helper

    from unmask_cli.model_card import STRUCTURE_FILE

    nodes, constants = _first_three_channels("rgb")
    nodes += [helper.make_node("Mul", ["rgb", "zero"], ["z"]), helper.make_node("Add", ["z", "value"], ["y"])]
    constants += [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(value, np.float32), "value"),
    ]
    kind = overrides.pop("kind", "face_g")
    overrides.setdefault("role", "structure: as export writes it")
    model = _graph_model("structure", size, (4, 3), nodes, constants, metadata(kind, size, **overrides))
    path = Path(folder) / STRUCTURE_FILE
    onnx.save(model, path)
    return path
