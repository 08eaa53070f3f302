"""Thin elastic ear loops drawn from a mask's sides back to the ears (`unmask train mask --thin-loops F`).

The built-in styles draw short, thick loops in the mask's own colour, and Mask G learnt those. In real photos a
loop is a 1-3 px line, white, blue, black or the mask's colour, running along the cheek to the ear; Mask G marked
its first few pixels only, and the rest stayed in the restored photo as a line from the new lower face to the ear.
Loops are drawn in the aligned crop (the ear roots from the crop's template, `faces.CROP_TEMPLATE`), and the
target takes them in: a loop is part of what the fill replaces.
"""

from __future__ import annotations

import cv2
import numpy as np

from unmask_cli.faces import CROP_TEMPLATE

SUPERSAMPLE = 4  # drawn at 4x and shrunk: lines 1-3 px wide with smooth edges
# where each side's upper and lower loop goes behind the ear: jaw points 0 and 2 (left), 16 and 14 (right)
EAR_ROOTS = ((CROP_TEMPLATE[0], CROP_TEMPLATE[2]), (CROP_TEMPLATE[16], CROP_TEMPLATE[14]))
HIDDEN_SIDE = 0.15  # a turned face or hair hides one side's loops
HIDDEN_LOOP = 0.1  # a single loop hidden (a KN95 with one strap in sight, hair over the lower one)
IN_TARGET = 0.4  # coverage from which a loop pixel is mask in the target


def loop_colour(rng: np.random.Generator, masked: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """White or light grey (the commonest), surgical blue, black, or the mask's own median colour."""
    pick = rng.random()
    if pick < 0.4:
        return np.clip(rng.uniform(0.78, 0.97) + rng.normal(0, 0.015, 3), 0, 1)
    if pick < 0.55:
        return np.clip(np.array([0.55, 0.72, 0.88]) + rng.normal(0, 0.05, 3), 0, 1)
    if pick < 0.8:
        return np.clip(rng.uniform(0.04, 0.25) + rng.normal(0, 0.01, 3), 0, 1)
    return np.median(masked[mask > 0], axis=0)


def _bezier(start: np.ndarray, control: np.ndarray, end: np.ndarray, n: int = 24) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def draw_loops(masked: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(`masked` with loops drawn, `mask` with the loops in it) for an S×S×3 float crop in [0, 1] and its S×S
    {0, 1} mask. Each side gets an upper loop to the ear's top and a lower one to its lobe, from one pixel inside
    the mask's edge, sagging a little. Unchanged where the mask is empty."""
    size = masked.shape[0]
    rows = np.nonzero(mask.any(axis=1))[0]
    if rows.size < 4:
        return masked, mask
    top, bottom = rows[0], rows[-1]
    colour = loop_colour(rng, masked, mask)
    width = rng.uniform(1.0, 2.6) * size / 128
    big = size * SUPERSAMPLE
    layer = np.zeros((big, big), np.float32)
    for side, roots in enumerate(EAR_ROOTS):
        if rng.random() < HIDDEN_SIDE:
            continue
        outward = -1.0 if side == 0 else 1.0
        for height, root in ((rng.uniform(0.08, 0.3), roots[0]), (rng.uniform(0.55, 0.8), roots[1])):
            if rng.random() < HIDDEN_LOOP:
                continue
            row = int(top + height * (bottom - top))
            cols = np.nonzero(mask[row])[0]
            if not cols.size:
                continue
            start = np.array([cols[0] + 1.0 if side == 0 else cols[-1] - 1.0, row])
            end = root * size + rng.normal(0.0, 0.015 * size, 2)
            end[0] += outward * rng.uniform(0.0, 0.08) * size  # behind the ear, sometimes past the crop
            sag = (start + end) / 2 + np.array([0.0, rng.uniform(-0.02, 0.05) * size])
            points = _bezier(start, sag, end) * SUPERSAMPLE
            thickness = max(1, round(width * SUPERSAMPLE))
            cv2.polylines(layer, [np.round(points * 4).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA, shift=2)
    alpha = cv2.resize(layer, (size, size), interpolation=cv2.INTER_AREA)[..., None]
    if not alpha.any():
        return masked, mask
    shade = 1.0 + 0.05 * rng.standard_normal((size, size, 1)).astype(np.float32)  # not a flat printed line
    drawn = np.clip(colour * shade, 0.0, 1.0)
    out = masked * (1 - alpha) + drawn * alpha
    target = np.maximum(mask, (alpha[..., 0] > IN_TARGET).astype(mask.dtype))
    return out.astype(masked.dtype), target
