"""Weights of the shipped ONNX generators back into Keras: the same outputs, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from unmask_cli import models
from unmask_cli.onnx_weights import WeightImportError, base_width, load_onnx_weights

EXPORTED = Path(__file__).resolve().parents[1] / "exported"


def _onnx_output(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("name, builder, channels", [("face_g", models.face_g, 4), ("mask_g", models.mask_g, 3)])
def test_shipped_generator_reproduces_its_onnx_outputs(name, builder, channels):
    path = EXPORTED / f"{name}.onnx"
    model = builder(128)
    before = [w.copy() for w in model.get_weights()]
    assert load_onnx_weights(model, path) > 0
    x = np.random.default_rng(0).uniform(-1, 1, (2, 128, 128, channels)).astype(np.float32)
    keras_out = model(x, training=False).numpy()
    assert np.abs(keras_out - _onnx_output(path, x)).max() < 1e-4
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert changed == len(before)  # every weight came from the file, none left at its initial value


def test_base_width_is_read_from_the_file_and_builds_a_model_that_loads_it():
    assert (base_width(EXPORTED / "face_g.onnx"), base_width(EXPORTED / "mask_g.onnx")) == (32, 16)
    model = models.face_g(128, width=base_width(EXPORTED / "face_g.onnx"))
    assert load_onnx_weights(model, EXPORTED / "face_g.onnx") > 0


def test_another_width_is_refused_and_leaves_the_model_untouched():
    model = models.face_g(128, width=16)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(WeightImportError, match="expects shapes"):
        load_onnx_weights(model, EXPORTED / "face_g.onnx")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_another_architecture_and_quantized_files_are_refused():
    with pytest.raises(WeightImportError, match="convolutions"):
        load_onnx_weights(models.face_g(128), EXPORTED / "mask_g.onnx")
    with pytest.raises(WeightImportError, match="quantized"):
        load_onnx_weights(models.face_g(128), EXPORTED / "face_g.int8.onnx")
