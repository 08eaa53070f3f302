"""Neck gaiter / bandana pulled up over the nose: reaches from the nose bridge far below the chin."""

from __future__ import annotations

import numpy as np

from unmask_styles.base import WarpedMask
from unmask_styles.cloth import PATTERNS, fabric, pattern_image, random_colour
from unmask_styles.placement import Layout


class GaiterMask(WarpedMask):
    name = "gaiter"
    layout = Layout(bridge=0.45, under_eye=0.25, below_chin=1.12, extra_drop=0.9, top_end=0, bottom_end=1)

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        if rng.random() < 0.5:
            base = random_colour(rng)
        else:
            base = pattern_image(rng, h, w, PATTERNS[rng.integers(len(PATTERNS))])
        rgb = fabric(rng, h, w, base)
        # Stretch fabric gathers in horizontal folds.
        v = np.linspace(0, 1, h)[:, None]
        folds = 1 + 0.06 * np.sin(v * 2 * np.pi * rng.uniform(3, 6) + rng.uniform(0, 6))
        return np.dstack([np.clip(rgb * folds[..., None], 0, 1), np.ones((h, w))])
