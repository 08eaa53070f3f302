"""Cloth masks: a plain fabric in any colour, and fabric with a printed pattern."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from unmask_styles.base import WarpedMask, fabric_noise, superellipse
from unmask_styles.placement import Layout

PATTERNS = ("stripes", "dots", "check", "floral")


# Black is the commonest colour of cloth masks in real photos (white and grey next): without enough of them
# Mask G learns to find a mask by where it sits, not by what it looks like, and then paints over bare faces too.
NEUTRAL_CHANCE = {"black": 0.25, "grey": 0.05, "white": 0.08}


def random_colour(rng: np.random.Generator) -> np.ndarray:
    pick = rng.random()
    tint = rng.normal(0, 0.01, 3)  # neutrals are never exactly grey
    if pick < NEUTRAL_CHANCE["black"]:
        return np.clip(rng.uniform(0.03, 0.14) + tint, 0, 1)
    pick -= NEUTRAL_CHANCE["black"]
    if pick < NEUTRAL_CHANCE["grey"]:
        return np.clip(rng.uniform(0.2, 0.55) + tint, 0, 1)
    pick -= NEUTRAL_CHANCE["grey"]
    if pick < NEUTRAL_CHANCE["white"]:
        return np.clip(rng.uniform(0.85, 0.97) + tint, 0, 1)
    hue, sat, val = rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val))


def fabric(rng: np.random.Generator, h: int, w: int, base: np.ndarray) -> np.ndarray:
    """Woven cloth: a fine weave, soft wrinkles, a stitched centre seam and hems."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(2.5, 4.0)
    weave = 0.03 * (np.sin(u * 2 * np.pi / period) * np.sin(v * 2 * np.pi / period))
    wrinkles = 0.10 * fabric_noise(rng, h, w, w / 5)
    x = u / (w - 1) * 2 - 1
    seam = -0.18 * np.exp(-((x / 0.012) ** 2)) if rng.random() < 0.6 else 0.0
    hem = -0.08 * ((v < h * 0.05) | (v > h * 0.95))
    shade = 1.0 + weave + wrinkles + seam + hem - 0.12 * np.abs(x) ** 2
    shade += 0.02 * rng.standard_normal((h, w))
    if base.ndim == 1:
        base = np.broadcast_to(base, (h, w, 3))
    return np.clip(base * shade[..., None], 0, 1)


def pattern_image(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    ground, ink = random_colour(rng), random_colour(rng)
    img = np.broadcast_to(ground, (h, w, 3)).copy()
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    size = w * rng.uniform(0.05, 0.12)
    if kind == "stripes":
        angle = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4]) + rng.normal(0, 0.05)
        t = u * np.cos(angle) + v * np.sin(angle)
        img[(t % size) < size * rng.uniform(0.3, 0.6)] = ink
    elif kind == "dots":
        rad = max(1, int(size * rng.uniform(0.15, 0.3)))
        for row, y in enumerate(np.arange(0, h + size, size)):
            for x in np.arange((row % 2) * size / 2, w + size, size):
                cv2.circle(img, (int(x), int(y)), rad, ink.tolist(), -1, cv2.LINE_AA)
    elif kind == "check":
        second = random_colour(rng)
        band = (u % size) < size / 2
        img[band] = img[band] * 0.5 + ink * 0.5
        band = (v % size) < size / 2
        img[band] = img[band] * 0.5 + second * 0.5
    else:  # floral-like rosettes scattered over the fabric
        petal, centre = ink.tolist(), random_colour(rng).tolist()
        for _ in range(int(h * w / size**2 * 1.2)):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = size * rng.uniform(0.25, 0.45)
            start = rng.uniform(0, 2 * np.pi)
            for k in range(5):
                a = start + k * 2 * np.pi / 5
                p = (int(cx + np.cos(a) * r), int(cy + np.sin(a) * r))
                cv2.circle(img, p, max(1, int(r * 0.55)), petal, -1, cv2.LINE_AA)
            cv2.circle(img, (int(cx), int(cy)), max(1, int(r * 0.4)), centre, -1, cv2.LINE_AA)
    return img


class ClothMask(WarpedMask):
    name = "cloth"
    layout = Layout(bridge=0.40, under_eye=0.24, below_chin=1.10, top_end=1, bottom_end=3)

    def base(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        return random_colour(rng)

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        rgb = fabric(rng, h, w, self.base(rng, h, w))
        alpha = superellipse(h, w, 4.0, height=1.0)  # rounded sewn corners
        return np.dstack([rgb, alpha])


class PatternMask(ClothMask):
    name = "pattern"

    def base(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        return pattern_image(rng, h, w, PATTERNS[rng.integers(len(PATTERNS))])
