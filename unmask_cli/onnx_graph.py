"""Graph clean-up after tf2onnx: Keras' GroupNormalization(groups=-1) → one ONNX InstanceNormalization.

tf2onnx spells each GroupNormalization out as ~25 nodes: a transpose to NHWC, a reshape to groups, two
ReduceMeans, arithmetic, and a shape computation (Shape/Gather/Cast/Slice/Concat) to reshape back. With one
channel per group this is exactly instance normalization, which onnxruntime runs as one kernel on the NCHW conv
output (and TensorRT fuses); the transposes around the following activation then cancel in onnxruntime's
transpose optimizer.
"""

from __future__ import annotations

import numpy as np


def _initializer(graph, name: str) -> np.ndarray | None:
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def _prune(graph) -> None:
    """Drop nodes (and initializers) that no graph output depends on."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    unused = [init for init in graph.initializer if init.name not in needed]
    for init in unused:
        graph.initializer.remove(init)


def _group_rewrite(graph, prefix: str, producers: dict, constants: dict):
    """(first node, last node, InstanceNormalization inputs, epsilon) of one group, or None if it does not match.
    The constants are found by what consumes them, not by name: tf2onnx folds a scale of ones or an offset of
    zeros away, and shares one epsilon between groups."""
    members = [n for n in graph.node if n.name.startswith(prefix + "/")]
    by_suffix = {n.name[len(prefix) + 1 :]: n for n in members}
    first, last = by_suffix.get("Reshape"), by_suffix.get("Reshape_3")
    to_nhwc = producers.get(first.input[0]) if first is not None else None
    if last is None or to_nhwc is None or to_nhwc.op_type != "Transpose":
        return None
    if [list(a.ints) for a in to_nhwc.attribute if a.name == "perm"] != [[0, 2, 3, 1]]:
        return None
    groups = constants.get(first.input[1])
    if groups is None or groups.reshape(-1)[-1] != 1:  # one channel per group: instance normalization
        return None
    channels = int(groups.reshape(-1)[-2])
    gamma, beta, eps = np.ones(channels, np.float32), np.zeros(channels, np.float32), None
    for node in members:
        for name in node.input:
            value = constants.get(name)
            if value is None or value.dtype != np.float32:
                continue
            if value.size == channels and node.op_type == "Mul":
                gamma = value.reshape(-1)
            elif value.size == channels and node.op_type == "Add":
                beta = value.reshape(-1)
            elif value.size == 1 and node.op_type == "Add":
                eps = float(value.reshape(-1)[0])
    if eps is None:
        return None
    return first, last, to_nhwc.input[0], gamma, beta, eps


def fuse_instance_norm(proto) -> int:
    """Rewrite, in place, every per-channel GroupNormalization whose pattern matches; returns how many. Groups
    that do not match are left as tf2onnx wrote them. Check the result numerically (see export.to_onnx)."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    producers = {o: n for n in graph.node for o in n.output}
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # tf2onnx names nodes after the TF ops: ".../group_normalization_3_1/Reshape" starts a group's pattern.
    starts = [n.name for n in graph.node if "/group_normalization" in n.name and n.name.endswith("/Reshape")]
    replacements: dict[str, list] = {}  # final Reshape's name → the nodes that take its place
    initializers = []
    for prefix in sorted({name.rsplit("/", 1)[0] for name in starts}):
        match = _group_rewrite(graph, prefix, producers, constants)
        if match is None:
            continue
        _, last, source, gamma, beta, eps = match
        scale, bias, normed = prefix + "/instance_norm_scale", prefix + "/instance_norm_bias", prefix + "/in:0"
        initializers += [numpy_helper.from_array(gamma, scale), numpy_helper.from_array(beta, bias)]
        replacements[last.name] = [
            helper.make_node(
                "InstanceNormalization", [source, scale, bias], [normed], name=prefix + "/instance_norm", epsilon=eps
            ),
            helper.make_node("Transpose", [normed], [last.output[0]], name=prefix + "/to_nhwc", perm=[0, 2, 3, 1]),
        ]
    if not replacements:
        return 0
    rebuilt = []
    for node in graph.node:
        rebuilt.extend(replacements.get(node.name, [node]))  # same output name as the old final Reshape
    del graph.node[:]
    graph.node.extend(rebuilt)
    graph.initializer.extend(initializers)
    _prune(graph)
    return len(replacements)
