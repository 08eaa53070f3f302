"""Where a mask sits on a face, and how a flat mask texture is warped onto it.

A style paints its mask on a flat rectangle (u left→right, v top→bottom). The rectangle's top edge is laid
along a curve from the cheek under one eye, over the nose bridge, to the other cheek; its bottom edge along the
jaw, a little outside it and below the chin. A grid between the two curves is warped piecewise-affinely, so the
mask follows head tilt, turn and face shape instead of being an axis-aligned box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Layout:
    """Shape parameters of a mask, in units of the eye-to-mouth distance unless said otherwise."""

    bridge: float = 0.38  # top centre: this fraction of the way from landmark 27 (between the eyes) to 30 (nose tip)
    under_eye: float = 0.22  # top edge under each eye, below the lower lid
    below_chin: float = 1.07  # bottom edge: jaw points scaled by this about the nose tip
    extra_drop: float = 0.0  # moves the bottom edge further down (neck gaiters)
    top_end: int = 1  # jaw landmark where the top edge meets the face side (and 16 - top_end on the other)
    bottom_end: int = 3  # jaw landmark where the bottom edge starts


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.hypot(*v)), 1e-6)


def face_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(down, right, d): unit vectors of the face's own axes and the eye-to-mouth distance in pixels."""
    eye_mid = lm[36:48].mean(0)
    mouth_mid = lm[48:68].mean(0)
    down = _unit(mouth_mid - eye_mid)
    right = np.array([down[1], -down[0]])
    return down, right, float(np.hypot(*(mouth_mid - eye_mid)))


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    t = np.concatenate([[0], np.cumsum(seg)])
    s = np.linspace(0, t[-1], n)
    return np.stack([np.interp(s, t, points[:, 0]), np.interp(s, t, points[:, 1])], 1)


def mask_curves(lm: np.ndarray, layout: Layout, n: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom edges of the mask (n points each, left to right in the image)."""
    lm = lm.astype(np.float64)
    down, _, d = face_frame(lm)
    bridge = lm[27] + (lm[30] - lm[27]) * layout.bridge
    lift = down * layout.under_eye * d
    a, b = layout.top_end, 16 - layout.top_end
    top = np.stack([lm[a], lm[41] + lift, lm[40] + lift, bridge, lm[47] + lift, lm[46] + lift, lm[b]])
    jaw = lm[layout.bottom_end : 17 - layout.bottom_end]
    bottom = lm[30] + (jaw - lm[30]) * layout.below_chin
    if layout.extra_drop:
        # Pull the lower jaw points straight down the face axis, more at the chin than at the sides.
        weight = np.sin(np.linspace(0, np.pi, len(bottom)))[:, None] ** 0.5
        bottom = bottom + down * layout.extra_drop * d * weight
    bottom = np.concatenate(
        [
            [lm[a] + (lm[layout.bottom_end] - lm[a]) * 0.5],
            bottom,
            [lm[b] + (lm[16 - layout.bottom_end] - lm[b]) * 0.5],
        ]
    )
    return _resample(top, n), _resample(bottom, n)


def mask_grid(lm: np.ndarray, layout: Layout, cols: int = 11, rows: int = 6) -> np.ndarray:
    """rows×cols×2 destination points: row 0 is the top edge, the last row the bottom edge."""
    top, bottom = mask_curves(lm, layout, cols)
    v = np.linspace(0, 1, rows)[:, None, None]
    return top[None] * (1 - v) + bottom[None] * v


def warp_texture(texture: np.ndarray, grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Warp an RGBA float texture (H×W×4) onto the image plane along `grid` (piecewise affine)."""
    th, tw = texture.shape[:2]
    rows, cols = grid.shape[:2]
    us = np.linspace(0, tw - 1, cols)
    vs = np.linspace(0, th - 1, rows)
    out = np.zeros((*shape, 4), np.float32)
    h, w = shape
    for j in range(rows - 1):
        for i in range(cols - 1):
            src_quad = np.array([[us[i], vs[j]], [us[i + 1], vs[j]], [us[i + 1], vs[j + 1]], [us[i], vs[j + 1]]])
            dst_quad = np.array([grid[j, i], grid[j, i + 1], grid[j + 1, i + 1], grid[j + 1, i]])
            for tri in ((0, 1, 2), (0, 2, 3)):
                _warp_triangle(texture, src_quad[list(tri)], dst_quad[list(tri)], out, w, h)
    return out


def _warp_triangle(texture, src, dst, out, w, h) -> None:
    x0, y0 = np.floor(dst.min(0)).astype(int) - 1
    x1, y1 = np.ceil(dst.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    local = (dst - [x0, y0]).astype(np.float32)
    matrix = cv2.getAffineTransform(src.astype(np.float32), local)
    patch = cv2.warpAffine(texture, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(inside, np.round(local * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    region = out[y0:y1, x0:x1]
    region[inside > 0] = patch[inside > 0]


def match_lighting(rgb_mask: np.ndarray, face: np.ndarray, coverage: np.ndarray, d: float) -> np.ndarray:
    """Give the mask the photo's exposure, colour cast and the face's own shading under it.

    The shading is the face's luminance under the mask, heavily blurred and divided by its mean: a shadow
    across the cheek or a bright side of the face carries over onto the fabric.
    """
    face_f = face.astype(np.float32) / 255.0
    lum = cv2.cvtColor(face_f, cv2.COLOR_RGB2GRAY)
    sigma = max(d * 0.35, 1.0)
    weight = cv2.GaussianBlur(coverage, (0, 0), sigma) + 1e-4
    local = cv2.GaussianBlur(lum * coverage, (0, 0), sigma) / weight
    inside = coverage > 0.5
    mean_local = float(local[inside].mean()) if inside.any() else float(lum.mean())
    shading = np.clip(local / max(mean_local, 1e-3), 0.55, 1.45) ** 0.8
    exposure = float(np.clip(np.percentile(lum, 90) / 0.85, 0.3, 1.15)) ** 0.7
    cast = face_f.reshape(-1, 3).mean(0)
    cast = (cast / max(float(cast.mean()), 1e-3)) ** 0.25
    return np.clip(rgb_mask * shading[..., None] * exposure * cast, 0.0, 1.0)


def composite(face: np.ndarray, layer: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blend a warped RGBA layer over the face; returns (masked uint8 RGB, binary uint8 mask)."""
    _, _, d = face_frame(lm)
    alpha = cv2.GaussianBlur(layer[..., 3], (0, 0), 0.6)  # soften the warp's hard outline
    # Every pixel the mask touches counts, so no fringe of fabric is left outside the binary mask.
    binary = (alpha > 0.1).astype(np.uint8)
    rgb = match_lighting(layer[..., :3], face, binary.astype(np.float32), d)
    out = face.astype(np.float32) / 255.0 * (1 - alpha[..., None]) + rgb * alpha[..., None]
    return (out * 255.0).round().astype(np.uint8), binary
