"""Disposable surgical mask: three horizontal pleats, bound edges, a nose wire, ear loops."""

from __future__ import annotations

import numpy as np

from unmask_styles.base import WarpedMask, fabric_noise
from unmask_styles.placement import Layout

COLOURS = [  # (RGB in 0..1, weight): light blue dominates real photos
    ((0.55, 0.75, 0.90), 5),
    ((0.93, 0.94, 0.95), 3),
    ((0.45, 0.72, 0.62), 1),
    ((0.12, 0.12, 0.13), 3),
    ((0.93, 0.72, 0.78), 1),
]


def pick_colour(rng: np.random.Generator, colours=COLOURS) -> np.ndarray:
    weights = np.array([w for _, w in colours], float)
    colour = np.array(colours[rng.choice(len(colours), p=weights / weights.sum())][0])
    return np.clip(colour + rng.normal(0, 0.03, 3), 0, 1)


class SurgicalMask(WarpedMask):
    name = "surgical"
    layout = Layout(bridge=0.40, under_eye=0.22, below_chin=1.06, top_end=1, bottom_end=3)
    ear_loops = True

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        colour = pick_colour(rng)
        v = np.linspace(0, 1, h)[:, None]
        shade = np.ones((h, w), np.float32)
        # Each pleat: a fold line with a shadow just under it and a highlight above.
        for centre in np.array([0.32, 0.5, 0.68]) + rng.uniform(-0.03, 0.03):
            dist = v - centre
            shade += 0.10 * np.exp(-(((dist + 0.03) / 0.025) ** 2)) - 0.22 * np.exp(-(((dist - 0.015) / 0.02) ** 2))
        # Bound top and bottom edges are denser fabric: slightly darker bands.
        shade -= 0.08 * ((v < 0.06) | (v > 0.94))
        shade += 0.04 * fabric_noise(rng, h, w, 6) + 0.02 * rng.standard_normal((h, w))
        rgb = colour[None, None] * shade[..., None]
        # Nose wire: a faint raised strip at the top centre.
        u = np.linspace(0, 1, w)[None, :]
        wire = (np.abs(u - 0.5) < 0.12) & (v < 0.05)
        rgb[wire] *= 1.08
        return np.dstack([np.clip(rgb, 0, 1), np.ones((h, w))])
