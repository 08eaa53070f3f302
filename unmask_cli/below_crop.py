"""The part of a mask that hangs below the aligned crop (or runs on past its sides): found by GrabCut, filled by
OpenCV's inpainting.

The crop ends a little below the chin (the models' framing), so a mask worn low leaves a strip of fabric under
the restored face. Below the crop there is no face for Face G to paint — neck, shadow, collar — so that strip is
filled classically. Only a mask whose lower edge is in sight is touched: fabric that goes on down (a gaiter, a
hood, a dark shirt the same colour as the mask) is left as it is, because nothing tells it apart from clothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from unmask_cli.faces import crop_footprint, warp_back

BAND = 0.3  # how far below the crop to look, as a share of the crop's side
MIN_EDGE = 0.1  # the mask must cross the crop's bottom edge over at least this share of its width
INPAINT_RADIUS = 5
GRABCUT_SEED = 0


def region_below(rgb: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray | None:
    """Photo-sized 0/1 map of the mask's continuation below the crop, or None when there is none to fill.

    `mask` is the S×S 0/1 mask Mask G found in the crop made by `matrix` (photo → crop); `rgb` is the photo
    before the face is pasted back (GrabCut learns the mask's colours from the crop's masked pixels).
    """
    size = mask.shape[0]
    band = max(4, round(BAND * size))
    edge = mask[-1] > 0
    if edge.sum() < MIN_EDGE * size:
        return None
    tall = cv2.warpAffine(rgb, matrix, (size, size + band), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask8 = (mask > 0).astype(np.uint8)
    near = np.ones((5, 5), np.uint8)
    labels = np.full((size + band, size), cv2.GC_PR_BGD, np.uint8)
    labels[:size][cv2.dilate(mask8, near) == 0] = cv2.GC_BGD
    labels[:size][cv2.erode(mask8, near) > 0] = cv2.GC_FGD
    below_edge = cv2.dilate(edge.astype(np.uint8)[None], np.ones((1, 9), np.uint8))[0] > 0
    labels[size:, below_edge] = cv2.GC_PR_FGD
    labels[size:, ~below_edge] = cv2.GC_BGD  # a mask goes on down from its edge, not sideways
    models = np.zeros((1, 65)), np.zeros((1, 65))
    # GrabCut seeds its colour models with k-means from OpenCV's per-thread random state, which earlier calls have
    # moved: a borderline strip was filled or not depending on the photos processed before it (3 of 200 real
    # photos flipped between runs). A fixed seed makes each face's answer its own.
    cv2.setRNGSeed(GRABCUT_SEED)
    try:
        cv2.grabCut(cv2.cvtColor(tall, cv2.COLOR_RGB2BGR), labels, None, *models, 4, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None  # GrabCut refuses degenerate colour models (e.g. a flat crop): nothing to add
    found = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
    found[:size] = 0
    found[size - 1] = edge  # keep only what hangs from the mask's bottom edge
    _, pieces = cv2.connectedComponents(found)
    hanging = np.isin(pieces, np.unique(pieces[size - 1][edge])) & (pieces > 0)
    hanging[:size] = False
    if not hanging.any() or hanging[-4:].any():
        return None  # nothing below, or fabric that goes on past the band: not a mask edge we can see
    hanging = cv2.dilate(hanging.astype(np.uint8), np.ones((3, 3), np.uint8))  # its rim too
    hanging[: size - 2] = 0
    # warped back over the box under the tall crop only: a photo-sized warp per face made big photos slow
    box = crop_footprint(matrix, size, rgb.shape[:2], height=size + band)
    warped = warp_back(hanging.astype(np.float32), matrix, box) > 0.3
    if not warped.any():
        return None
    region = np.zeros(rgb.shape[:2], np.uint8)
    region[box] = warped
    return region


def _turned(matrix: np.ndarray, size: int, k: int) -> np.ndarray:
    """`matrix` (photo → crop) for the crop turned by np.rot90(·, k): k = 3 brings the right edge to the bottom,
    k = 1 the left edge."""
    s = size - 1
    turn = [[0, -1, s], [1, 0, 0], [0, 0, 1]] if k == 3 else [[0, 1, 0], [-1, 0, s], [0, 0, 1]]
    return (np.array(turn, np.float64) @ np.vstack([matrix, [0, 0, 1]]))[:2]


def region_beside(rgb: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray | None:
    """Photo-sized 0/1 map of the mask's continuation past the crop's left and right edges, or None.

    A turned face's mask runs on to the far ear beside the crop, with its ear loop: found as the strip below
    is (`region_below`, the crop turned so that the side edge is its bottom), and only where its edge is in sight.
    On the 200 real photos the mask crosses a side edge for 33 of 230 faces, as often as the bottom one."""
    region = None
    for k in (1, 3):
        found = region_below(rgb, np.ascontiguousarray(np.rot90(mask, k)), _turned(matrix, mask.shape[0], k))
        if found is not None:
            region = found if region is None else np.maximum(region, found)
    return region


def fill(photo: np.ndarray, region: np.ndarray) -> None:
    """Inpaint `region` of `photo` in place (Telea), working on the region's bounding box only."""
    x, y, bw, bh = cv2.boundingRect(region)  # as np.nonzero's extent, many times faster on a big photo
    h, w = photo.shape[:2]
    pad = 3 * INPAINT_RADIUS
    y0, y1 = max(y - pad, 0), min(y + bh + pad, h)
    x0, x1 = max(x - pad, 0), min(x + bw + pad, w)
    box = np.ascontiguousarray(photo[y0:y1, x0:x1])
    photo[y0:y1, x0:x1] = cv2.inpaint(box, region[y0:y1, x0:x1] * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
