"""Weights of an exported ONNX generator, back into its Keras model: fine-tuning from the shipped models.

Checkpoints stay outside git, so a fresh machine has only `exported/*.onnx`. Every trainable weight of our
generators lives in a convolution (kernel, bias) or an instance normalization (scale, offset), and both chains are
in the same order in the Keras model and in the ONNX graph (each convolution feeds the next), so the n-th ONNX
`Conv` is the n-th Keras `Conv2D` and the n-th `InstanceNormalization` the n-th `GroupNormalization`. Shapes are
checked one by one; a model that does not fit raises instead of loading half a network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class WeightImportError(ValueError):
    pass


def _onnx_layers(path: Path) -> tuple[list[list[np.ndarray | None]], list[list[np.ndarray]]]:
    """[[kernel OIHW, bias or None], ...] per Conv node and [[scale, offset], ...] per InstanceNormalization."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file at all
        raise WeightImportError(f"{path}: not an ONNX model ({type(exc).__name__})") from None
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:  # tf2onnx sometimes keeps folded weights as Constant nodes
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    if any(node.op_type == "DequantizeLinear" for node in graph.node):
        raise WeightImportError(f"{path}: a quantized model; import the fp32 file")

    def value(name: str) -> np.ndarray:
        if name not in values:
            raise WeightImportError(f"{path}: weight '{name}' is computed in the graph, not stored")
        return values[name]

    convs, norms = [], []
    for node in graph.node:
        if node.op_type == "Conv":
            convs.append([value(node.input[1]), value(node.input[2]) if len(node.input) > 2 else None])
        elif node.op_type == "InstanceNormalization":
            norms.append([value(node.input[1]), value(node.input[2])])
    return convs, norms


def base_width(path: Path) -> int:
    """An exported generator's base width (`models.face_g`'s and `mask_g`'s `width`): its first convolution's
    output channels, so the Keras model to load it into can be built first."""
    convs, _ = _onnx_layers(Path(path))
    return int(convs[0][0].shape[0])


def load_onnx_weights(model, path: Path) -> int:
    """Set `model`'s Conv2D and GroupNormalization(groups=-1) weights from the ONNX file; returns arrays set."""
    from keras import layers

    path = Path(path)
    convs, norms = _onnx_layers(path)
    k_convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    k_norms = [layer for layer in model.layers if isinstance(layer, layers.GroupNormalization)]
    if (len(convs), len(norms)) != (len(k_convs), len(k_norms)):
        raise WeightImportError(
            f"{path}: {len(convs)} convolutions and {len(norms)} instance norms, the model has "
            f"{len(k_convs)} and {len(k_norms)} (another architecture or width?)"
        )
    plan = []
    for layer, (kernel, bias) in zip(k_convs, convs, strict=True):
        arrays = [kernel.transpose(2, 3, 1, 0)]  # OIHW → HWIO
        if layer.use_bias:
            if bias is None:
                bias = np.zeros(layer.filters, np.float32)
            arrays.append(bias)
        elif bias is not None and np.any(bias):
            raise WeightImportError(f"{path}: conv for '{layer.name}' has a bias the model does not")
        plan.append((layer, arrays))
    for layer, (scale, offset) in zip(k_norms, norms, strict=True):
        plan.append((layer, [scale, offset]))
    for layer, arrays in plan:
        want = [tuple(w.shape) for w in layer.get_weights()]
        have = [tuple(a.shape) for a in arrays]
        if want != have:
            raise WeightImportError(f"{path}: '{layer.name}' expects shapes {want}, the file has {have}")
    for layer, arrays in plan:
        layer.set_weights([a.astype(np.float32) for a in arrays])
    return sum(len(arrays) for _, arrays in plan)


def average_with_onnx(model, weights: list[np.ndarray], path: Path, share: float) -> tuple[list[np.ndarray], dict]:
    """`share` × `weights` + (1 − share) × the exported model's (a "model soup" of a fine-tune and its start), and
    the `averaged_with` record export writes into the metadata. Leaves the exported weights loaded in `model`."""
    load_onnx_weights(model, path)
    base = model.get_weights()
    averaged = [share * w + (1 - share) * b for w, b in zip(weights, base, strict=True)]
    return averaged, {"model": str(path), "run_weight": share}
