"""Quality metrics on NumPy arrays: mask IoU/Dice, PSNR and SSIM (whole face or masked region), texture ratio.

Images are float arrays in [0, 1] (H×W×3) or uint8; masks are H×W booleans or 0/1.
"""

from __future__ import annotations

import cv2
import numpy as np


def _as_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    return image.astype(np.float64) / 255.0 if image.dtype == np.uint8 else image.astype(np.float64)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two binary masks; 1.0 when both are empty."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    union = np.logical_or(pred, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, truth).sum() / union)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    total = pred.sum() + truth.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(pred, truth).sum() / total)


def psnr(restored: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0), over `region` pixels only when given."""
    diff = (_as_float(restored) - _as_float(truth)) ** 2
    if region is not None:
        diff = diff[np.asarray(region, bool)]
    mse = float(diff.mean()) if diff.size else 0.0
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004: Gaussian window σ=1.5, K1=0.01, K2=0.03), averaged over channels."""
    a, b = _as_float(a), _as_float(b)
    c1, c2 = 0.01**2, 0.03**2

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(axis=2) if s.ndim == 3 else s


def ssim(restored: np.ndarray, truth: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean SSIM over the image, or over `region` pixels when given (edges of 5 px excluded as in skimage)."""
    s = ssim_map(restored, truth)
    valid = np.zeros(s.shape, bool)
    valid[5:-5, 5:-5] = True
    if region is not None:
        valid &= np.asarray(region, bool)
    return float(s[valid].mean()) if valid.any() else float("nan")


def laplacian_variance(image: np.ndarray, region: np.ndarray) -> float:
    gray = cv2.cvtColor(_as_float(image).astype(np.float32), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    values = lap[np.asarray(region, bool)]
    return float(values.var()) if values.size else float("nan")


def texture_ratio(restored: np.ndarray, truth: np.ndarray, mask: np.ndarray, erode: int = 5) -> float:
    """Detail inside the mask (eroded by `erode` px): Laplacian variance restored / truth. 1.0 = as sharp."""
    region = np.asarray(mask, np.uint8)
    if erode:
        region = cv2.erode(region, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    truth_var = laplacian_variance(truth, region)
    return float("nan") if not truth_var or np.isnan(truth_var) else laplacian_variance(restored, region) / truth_var


def region_scores(restored, truths, regions) -> dict[str, float]:
    """Validation figures of inpainted faces (uint8 RGB) in their filled `regions`: mean PSNR and SSIM, median
    texture ratio (a ratio, skewed by a few flat truths), over the faces whose region is not empty."""
    rows = [
        (psnr(out, truth, region), ssim(out, truth, region), texture_ratio(out, truth, region))
        for out, truth, region in zip(restored, truths, regions, strict=True)
        if np.any(region)
    ]
    table = np.array(rows).reshape(-1, 3)
    return {
        "psnr_masked": _ignoring_nan(np.mean, table[:, 0]),
        "ssim_masked": _ignoring_nan(np.mean, table[:, 1]),
        "texture_ratio": _ignoring_nan(np.median, table[:, 2]),
        "samples": len(rows),
    }


def _ignoring_nan(statistic, values: np.ndarray) -> float:
    """`statistic` of the values that are not NaN; NaN, without numpy's empty-slice warning, when none is."""
    kept = values[~np.isnan(values)]
    return float(statistic(kept)) if kept.size else float("nan")
