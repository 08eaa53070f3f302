"""The model-agnostic restore step every generator backend shares: mask → noise → Face G → composite."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

GROW_PX = 1  # Face G was trained on Mask G's mask grown by 1 px (see training.FaceTrainer.hole_mask)


def largest_region(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected region of a 0/1 mask: a face mask is one piece; specks elsewhere are noise."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def binarize(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Mask G probabilities (N×S×S×1) → the 0/1 region to replace: its largest piece, grown by GROW_PX to cover
    the mask's rim."""
    binary = (prob > threshold).astype(np.uint8)
    kernel = np.ones((2 * GROW_PX + 1, 2 * GROW_PX + 1), np.uint8)
    grown = np.stack([cv2.dilate(largest_region(m[..., 0]), kernel) for m in binary])
    return grown[..., None].astype(np.float32)


def restore_batch(
    crops: np.ndarray,
    mask_fn: Callable[[np.ndarray], np.ndarray],
    face_fn: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """crops N×S×S×3 in [-1, 1] → (masks N×S×S×1 of 0/1, restored N×S×S×3 in [-1, 1])."""
    crops = np.ascontiguousarray(crops, np.float32)
    masks = binarize(mask_fn(crops), threshold)
    noise = rng.uniform(-1.0, 1.0, crops.shape).astype(np.float32)
    face_in = np.concatenate([crops * (1 - masks) + noise * masks, masks], axis=-1)
    generated = face_fn(face_in)
    return masks, generated * masks + crops * (1 - masks)
