"""The photo's own grain on the restored region: Face G paints a 128² crop, which on a big face is enlarged several
times and comes out smooth beside the photo's sensor noise and JPEG grain — a clean patch that reads as pasted in.

The grain is measured as the spread of the photo's fine detail (the image minus its blur at GRAIN_SIGMA px) in its
smoother parts (`grain_level`), in the upper half of a ring around the region, and the same of the fill; where the
fill is smoother, white luminance noise makes up the difference. Luminance only: JPEG keeps little colour noise,
and equal noise in R, G and B leaves a grey photo grey. Only for crops enlarged FROM_ENLARGEMENT times or more.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np

GRAIN_SIGMA = 1.0  # px: detail finer than this blur is grain
RING_SHARE = 0.08  # width of the ring the photo's grain is measured in, as a share of the region's larger side
MIN_RING_PIXELS = 64
# Only crops enlarged at least this much (photo px per crop px): at about their own size (the 200 real photos'
# faces) Face G's fill is not much smoother than the photo, and noise added there showed as speckle on pale skin
FROM_ENLARGEMENT = 1.5
WINDOW = 5  # px: windows the detail's spread is taken in
GRAIN_QUANTILE = 0.3  # of those windows' spreads: the smoother ones, skin rather than eyes and hair


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)


def grain_level(gray: np.ndarray, where: np.ndarray) -> float:
    """The grain of a float32 grey image inside the boolean map `where` (NaN if empty): the spread of its detail
    finer than GRAIN_SIGMA, in its smoothest parts — the GRAIN_QUANTILE of the detail's standard deviation over
    WINDOW×WINDOW windows, since eyes, lashes, hair and outlines have more detail than grain."""
    detail = gray - cv2.GaussianBlur(gray, (0, 0), GRAIN_SIGMA)
    mean = cv2.blur(detail, (WINDOW, WINDOW))
    variance = np.maximum(cv2.blur(detail * detail, (WINDOW, WINDOW)) - mean * mean, 0.0)
    values = variance[where]
    return float(np.sqrt(np.quantile(values, GRAIN_QUANTILE))) if values.size else float("nan")


def ring_width(extent: int) -> int:
    """Width in px of the ring around a region whose larger side spans `extent` px: where its grain is measured,
    and the margin the caller leaves around the region's box for it."""
    return max(2, round(RING_SHARE * extent))


def regrain(patch: np.ndarray, photo_box: np.ndarray, weight: np.ndarray, seed_from: np.ndarray) -> np.ndarray:
    """`patch` (the restored crop warped onto the photo's box, uint8 RGB) with the photo's grain: measured where
    `weight` (the blend weights over the box) is full, added all over (the blend fades it out with the fill);
    `photo_box` is the photo under the box before blending. The noise is drawn from `seed_from`'s pixels (the
    crop), so a photo gets the same grain alone or in a folder."""
    inside = weight >= 1.0
    if not inside.any():
        return patch
    ys, xs = np.nonzero(weight > 0)
    width = ring_width(max(np.ptp(ys), np.ptp(xs)))
    # the pixels within `width` of the region: a distance transform costs the same at any width, where a dilation
    # by a disc that wide took seconds on a face filling a 12 MP photo (its ring is hundreds of px wide)
    outside = (weight == 0).astype(np.uint8)
    ring = (cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= width) & (outside > 0)
    # its upper half: cheeks and nose beside and above a mask are skin, like the fill; below and at the sides lie
    # neck, collar, hair and background, whose detail is not the skin's grain
    rows = np.nonzero(inside)[0]
    ring[round(float(rows.mean())) :] = False
    if ring.sum() < MIN_RING_PIXELS:
        return patch
    want = grain_level(_luma(photo_box), ring)
    have = grain_level(_luma(patch), inside)
    if not want > have:  # NaN or a fill already as grainy as its surroundings
        return patch
    rng = np.random.default_rng(zlib.crc32(np.ascontiguousarray(seed_from).tobytes()))
    noise = rng.standard_normal(patch.shape[:2]).astype(np.float32)
    noise *= np.sqrt(want**2 - have**2) / grain_level(noise, np.ones_like(inside))
    return np.clip(patch.astype(np.float32) + noise[..., None], 0, 255).round().astype(np.uint8)
