"""Respirators: the cup-shaped N95 (optionally with an exhalation valve) and the flat-folded KN95."""

from __future__ import annotations

import cv2
import numpy as np

from unmask_styles.base import WarpedMask, fabric_noise, superellipse
from unmask_styles.placement import Layout

WHITES = ((0.95, 0.95, 0.93), (0.90, 0.91, 0.92), (0.97, 0.95, 0.90))


def _white(rng: np.random.Generator) -> np.ndarray:
    return np.array(WHITES[rng.integers(len(WHITES))]) - rng.uniform(0, 0.05)


class N95Mask(WarpedMask):
    name = "n95"
    layout = Layout(bridge=0.35, under_eye=0.24, below_chin=1.09, top_end=2, bottom_end=4)

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        v, u = np.mgrid[0:h, 0:w].astype(np.float32)
        x, y = u / (w - 1) * 2 - 1, v / (h - 1) * 2 - 1
        r = np.sqrt(x**2 + y**2)
        # A dome: lit in the middle, falling off toward the rim, with a pressed rim band.
        shade = 1.02 - 0.22 * r**2 - 0.10 * ((r > 0.82) & (r < 0.9))
        shade += 0.03 * fabric_noise(rng, h, w, 10) + 0.025 * rng.standard_normal((h, w))
        rgb = _white(rng)[None, None] * shade[..., None]
        if rng.random() < 0.35:  # exhalation valve on one side
            cx = int(w * (0.5 + rng.choice([-0.22, 0.22])))
            cy, rad = int(h * 0.62), int(h * 0.13)
            cv2.circle(rgb, (cx, cy), rad, (0.35, 0.36, 0.38), -1, cv2.LINE_AA)
            cv2.circle(rgb, (cx, cy), int(rad * 0.6), (0.5, 0.5, 0.52), -1, cv2.LINE_AA)
        alpha = superellipse(h, w, 2.6)
        return np.dstack([np.clip(rgb, 0, 1), alpha])


class KN95Mask(WarpedMask):
    name = "kn95"
    layout = Layout(bridge=0.30, under_eye=0.20, below_chin=1.10, top_end=1, bottom_end=3)
    ear_loops = True

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        v, u = np.mgrid[0:h, 0:w].astype(np.float32)
        x = u / (w - 1) * 2 - 1
        # Two flat panels meeting at a vertical seam: light falls on them differently.
        side = 0.07 * rng.choice([-1.0, 1.0])
        shade = 1.0 + side * np.sign(x) - 0.08 * np.abs(x) ** 3
        shade -= 0.25 * np.exp(-((x / 0.015) ** 2))  # the seam
        shade += 0.02 * fabric_noise(rng, h, w, 12) + 0.02 * rng.standard_normal((h, w))
        rgb = _white(rng)[None, None] * shade[..., None]
        if rng.random() < 0.3:
            rgb = rgb * np.array([0.25, 0.25, 0.27])  # black KN95s are common too
        # Heat-sealed border: a dotted line just inside the outline.
        border = np.zeros((h, w), np.uint8)
        inset = max(2, w // 40)
        cv2.rectangle(border, (inset, inset), (w - 1 - inset, h - 1 - inset), 1, max(1, w // 100))
        dots = ((u.astype(int) // max(2, w // 60)) % 2 == 0) | ((v.astype(int) // max(2, w // 60)) % 2 == 0)
        rgb[(border > 0) & dots] *= 0.85
        return np.dstack([np.clip(rgb, 0, 1), np.ones((h, w))])
