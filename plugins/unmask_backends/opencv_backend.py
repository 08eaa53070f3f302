"""Classical baseline: Mask G finds the mask (onnxruntime), OpenCV's inpainting fills it (Telea or Navier-Stokes)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from unmask_backends.onnxruntime_backend import MaskRunner
from unmask_cli.restore import binarize


class OpenCVTelea:
    name = "opencv"
    method = cv2.INPAINT_TELEA

    def __init__(
        self,
        models_dir: Path = Path("exported"),
        device: str = "auto",
        providers=None,
        threads: int | None = None,
        precision: str = "fp32",
        radius: int = 5,
        **_ignored,
    ):
        self.mask_fn = MaskRunner(models_dir, device, providers, threads, precision)
        info = self.mask_fn.info
        self.input_size, self.value_range = info.input_size, info.value_range
        self.threshold = info.threshold
        self.warnings = self.mask_fn.warnings
        self.radius = radius
        self.description = f"cv2.inpaint ({'Telea' if self.method == cv2.INPAINT_TELEA else 'Navier-Stokes'})"

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        crops = np.ascontiguousarray(crops, np.float32)
        masks = binarize(self.mask_fn(crops), self.threshold)
        return masks, inpaint(crops, masks, self.method, self.radius)


class OpenCVNavierStokes(OpenCVTelea):
    name = "opencv-ns"
    method = cv2.INPAINT_NS


def inpaint(crops: np.ndarray, masks: np.ndarray, method: int, radius: int = 5) -> np.ndarray:
    """cv2.inpaint on crops in [-1, 1] (N×S×S×3) under 0/1 masks (N×S×S×1)."""
    out = []
    for crop, mask in zip(crops, masks, strict=True):
        image = np.clip((crop + 1) * 127.5, 0, 255).round().astype(np.uint8)
        filled = cv2.inpaint(image, mask[..., 0].astype(np.uint8), radius, method)
        out.append(filled.astype(np.float32) / 127.5 - 1)
    return np.stack(out) if out else crops.copy()
