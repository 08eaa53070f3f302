"""Photos of real masks (the original project's five templates), cut out and warped onto the face."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import cv2
import numpy as np

from unmask_styles.base import WarpedMask
from unmask_styles.placement import Layout


def fill_columns(rgba: np.ndarray) -> np.ndarray:
    """Stretch every column of a cut-out so the mask spans it top to bottom.

    The landmark curves already give the mask's outline on the face; the photo only supplies the fabric.
    """
    alpha = rgba[..., 3] > 127
    counts = alpha.sum(0)
    keep = np.flatnonzero(counts > 0.25 * counts.max())
    rgba, alpha = rgba[:, keep[0] : keep[-1] + 1], alpha[:, keep[0] : keep[-1] + 1]
    h, w = alpha.shape
    rows = np.arange(h)[:, None]
    top = np.where(alpha, rows, h).min(0).astype(np.float32)
    bottom = np.where(alpha, rows, -1).max(0).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    map_y = top[None] + t * (bottom - top)[None]
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32)[None], (h, w)).copy()
    out = cv2.remap(rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out[..., 3] = 255
    return out


@cache
def templates() -> tuple[np.ndarray, ...]:
    """The shipped templates as RGB+alpha float32 in [0, 1], columns filled."""
    found = []
    for entry in sorted(files("unmask_styles").joinpath("templates").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".png"):
            data = np.frombuffer(entry.read_bytes(), np.uint8)
            bgra = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            rgba = cv2.cvtColor(fill_columns(bgra), cv2.COLOR_BGRA2RGBA)
            found.append(rgba.astype(np.float32) / 255.0)
    if not found:
        raise FileNotFoundError("no mask templates shipped in unmask_styles/templates")
    return tuple(found)


class TemplateMask(WarpedMask):
    name = "template"
    layout = Layout(bridge=0.38, under_eye=0.22, below_chin=1.07, top_end=1, bottom_end=3)
    ear_loops = True

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        options = templates()
        texture = options[rng.integers(len(options))]
        if rng.random() < 0.5:
            texture = texture[:, ::-1]
        return cv2.resize(texture, (w, h), interpolation=cv2.INTER_AREA)
