"""The model-agnostic restore step every generator backend shares: mask → noise → Face G → composite."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import cv2
import numpy as np

GROW_PX = 1  # Face G was trained on Mask G's mask grown by 1 px (see training.FaceTrainer.hole_mask)
MIN_MASK_FRACTION = 0.01  # a face whose mask covers less than this of the crop is not wearing one
# The presence check must find more than a speck: on bare faces it marks thin lines along a jaw, a smile or a
# cheek (1-3% of the crop), on drawn masks never less than 16% (a fresh draw on 2,000 UTKFace faces), on real ones
# down to ~5%. At 1% it passed 6% of CelebA's small bare faces, and Mask G then replaced their lower faces
# (benchmarks/presence_threshold.py).
GATE_MIN_FRACTION = 0.03


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


RIM_KERNEL = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def with_rim(mask: np.ndarray) -> np.ndarray:
    """A 0/1 region (S×S or N×S×S×1) plus the 1-px ring just outside it, where Face G's output replaces the photo as
    well: a real mask's soft edge (JPEG, blur, an enlarged small face) reaches past the grown region and was left as
    a thin line along the mask's outline. Face G is trained against the clean face outside its region too, so its
    output there has no rim; on the 200 real photos the ring then has no more lines than bare skin has (session 13).
    A wider band would join Face G's output to the photo one pixel further out, and that seam shows."""
    mask = np.asarray(mask)
    if mask.ndim == 2:
        return cv2.dilate(mask.astype(np.uint8), RIM_KERNEL).astype(mask.dtype)
    return np.stack([with_rim(m[..., 0])[..., None] for m in mask])


def region_shares(prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Share of each crop (N×S×S×1 probabilities) that `binarize`'s region covers."""
    return binarize(prob, threshold).reshape(len(prob), -1).mean(1)


def gate_masks(prob: np.ndarray, gate_prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Mask G's probabilities, zeroed for every crop in which the presence check (a second Mask G, trained on bare
    faces as well) finds no mask: the first Mask G has only ever seen masked faces and marks a bare lower face as
    mask, while the second, which does not, misses parts of real black masks. A check that finds only a speck
    (under GATE_MIN_FRACTION of the crop) counts as finding none. N×S×S×1 each."""
    present = region_shares(gate_prob, threshold) >= GATE_MIN_FRACTION
    return prob * present[:, None, None, None].astype(prob.dtype)


# The low band a structure Face G gives (restore.two_band): a Gaussian of this sigma at a 128² crop, scaled with the
# crop. At 3 px it holds where the mouth, jaw and shading fall, and leaves lips, nostrils and grain to the detail.
BAND_SIGMA_128 = 3.0


def band_sigma(size: int) -> float:
    return BAND_SIGMA_128 * size / 128


def two_band(detail: np.ndarray, structure: np.ndarray, masks: np.ndarray, sigma: float) -> np.ndarray:
    """One fill from two Face Gs (N×S×S×3, [-1, 1]): the structure fill's low frequencies under the detail fill's
    high ones. A Face G trained towards pixel accuracy guesses where the mouth and the shading of the lower face fall
    better; one trained harder as a GAN paints sharper lips, nostrils and skin. Their difference is blurred inside the
    replaced region only (`masks`, N×S×S×1, plus its rim), so outside it the detail fill is left as it is and the
    seam to the photo does not move."""
    region = with_rim(masks)
    diff = (structure - detail) * region
    return detail + np.stack([cv2.GaussianBlur(d, (0, 0), sigma) for d in diff]).reshape(diff.shape) * region


GREY_SPREAD = 0.03  # mean max-min channel spread (in [-1, 1]) under which a photo counts as black and white


def grey_where_the_photo_is_grey(generated: np.ndarray, crops: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """A black-and-white photo gets a black-and-white fill: Face G learnt from colour faces and tints grey skin
    (blue-grey, as its sheets show). Judged on the crop outside the mask; colour photos pass unchanged."""
    out = generated.copy()
    for i, (crop, mask) in enumerate(zip(crops, masks, strict=True)):
        outside = crop[mask[..., 0] < 0.5]
        if len(outside) and float((outside.max(-1) - outside.min(-1)).mean()) < GREY_SPREAD:
            out[i] = generated[i].mean(-1, keepdims=True)
    return out


def crop_noise(crops: np.ndarray, seed: int = 0) -> np.ndarray:
    """Uniform noise in [-1, 1] for each of N crops, drawn from a generator seeded by the crop's own pixels (and
    `seed`): a photo gets the same fill alone or in a folder, at any `--batch`, and when a stopped run resumes."""
    crops = np.ascontiguousarray(crops, np.float32)
    return np.stack(
        [np.random.default_rng([seed, zlib.crc32(crop.tobytes())]).uniform(-1.0, 1.0, crop.shape) for crop in crops]
    ).astype(np.float32)


def face_input(crops: np.ndarray, masks: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Face G's input, as in training: `noise` (uniform in [-1, 1], the crops' shape) where the mask is, the crop
    elsewhere, the mask appended as a 4th channel. `crops` …×S×S×3 in [-1, 1], `masks` …×S×S×1 of 0/1."""
    return np.concatenate([crops * (1 - masks) + noise * masks, masks], axis=-1)


def restore_batch(
    crops: np.ndarray,
    mask_fn: Callable[[np.ndarray], np.ndarray],
    face_fn: Callable[[np.ndarray], np.ndarray],
    seed: int = 0,
    threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """crops N×S×S×3 in [-1, 1] → (masks N×S×S×1 of 0/1, restored N×S×S×3 in [-1, 1]): Face G's output on the mask
    and its rim (`with_rim`), the crop elsewhere."""
    crops = np.ascontiguousarray(crops, np.float32)
    masks = binarize(mask_fn(crops), threshold)
    generated = grey_where_the_photo_is_grey(face_fn(face_input(crops, masks, crop_noise(crops, seed))), crops, masks)
    replaced = with_rim(masks)
    return masks, generated * replaced + crops * (1 - replaced)
