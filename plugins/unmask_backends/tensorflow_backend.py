"""The Keras models from training run folders, through TensorFlow: for parity checks and speed comparisons."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from unmask_cli.restore import band_sigma, restore_batch, two_band


class TensorFlowBackend:
    name = "tensorflow"

    def __init__(
        self,
        models_dir: Path = Path("exported"),
        checkpoints: Path = Path("runs"),
        seed: int = 0,
        jit: bool = False,
        **_ignored,
    ):
        for kind in ("mask", "face"):  # before TensorFlow's import, whose start-up lines would bury the error
            if not (Path(checkpoints) / kind / "run.json").is_file():
                raise FileNotFoundError(
                    f"{Path(checkpoints) / kind}: not a finished `unmask train {kind}` run (no run.json)"
                )
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf  # only this backend pays TensorFlow's import time

        from unmask_cli.export import load_run
        from unmask_cli.model_card import ModelFileError

        try:
            self.mask_model, mask_cfg = load_run(Path(checkpoints) / "mask", "mask")
            self.face_model, _ = load_run(Path(checkpoints) / "face", "face")
            # as face_g_structure.onnx beside face_g.onnx: a second Face G run gives the fill's low frequencies
            structure = Path(checkpoints) / "face_structure"
            self.structure_model = load_run(structure, "face")[0] if (structure / "run.json").is_file() else None
        except ValueError as exc:  # damaged weights or run.json: a model file error, as the ONNX backend's are
            raise ModelFileError(str(exc)) from None
        self.input_size = mask_cfg["size"]
        self.value_range = (-1.0, 1.0)
        self.threshold = 0.5
        self.warnings: list[str] = []
        # @tf.function is TensorFlow's fast path (Keras predict() is ~8x slower at batch 1).
        self._mask = tf.function(lambda x: self.mask_model(x, training=False), jit_compile=jit, reduce_retracing=True)
        self._face = tf.function(lambda x: self.face_model(x, training=False), jit_compile=jit, reduce_retracing=True)
        self._structure = None
        if self.structure_model is not None:
            self._structure = tf.function(
                lambda x: self.structure_model(x, training=False), jit_compile=jit, reduce_retracing=True
            )
        banded = " + structure band" if self.structure_model is not None else ""
        self.description = f"tensorflow {tf.__version__} (@tf.function{', XLA' if jit else ''}){banded}"
        self.seed = seed  # with each crop's pixels, seeds its noise (restore.crop_noise)

    def mask_fn(self, x: np.ndarray) -> np.ndarray:
        return self._mask(x).numpy()

    def face_fn(self, x: np.ndarray) -> np.ndarray:
        detail = self._face(x).numpy()
        if self._structure is None:
            return detail
        return two_band(detail, self._structure(x).numpy(), x[..., 3:], band_sigma(self.input_size))

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return restore_batch(crops, self.mask_fn, self.face_fn, self.seed, self.threshold)
