"""The Keras models from training run folders, through TensorFlow: for parity checks and speed comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unmask_cli.restore import restore_batch


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
        import tensorflow as tf  # only this backend pays TensorFlow's import time

        from unmask_cli.export import load_run

        self.mask_model, mask_cfg = load_run(Path(checkpoints) / "mask", "mask")
        self.face_model, _ = load_run(Path(checkpoints) / "face", "face")
        self.input_size = mask_cfg["size"]
        self.value_range = (-1.0, 1.0)
        self.threshold = 0.5
        self.warnings: list[str] = []
        # @tf.function is TensorFlow's fast path (Keras predict() is ~8x slower at batch 1).
        self._mask = tf.function(lambda x: self.mask_model(x, training=False), jit_compile=jit, reduce_retracing=True)
        self._face = tf.function(lambda x: self.face_model(x, training=False), jit_compile=jit, reduce_retracing=True)
        self.description = f"tensorflow {tf.__version__} (@tf.function{', XLA' if jit else ''})"
        self.seed = seed  # with each crop's pixels, seeds its noise (restore.crop_noise)

    def mask_fn(self, x: np.ndarray) -> np.ndarray:
        return self._mask(x).numpy()

    def face_fn(self, x: np.ndarray) -> np.ndarray:
        return self._face(x).numpy()

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return restore_batch(crops, self.mask_fn, self.face_fn, self.seed, self.threshold)
