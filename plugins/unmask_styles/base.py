"""Shared machinery of the built-in styles: jittered layout, texture painting, warp, ear loops, lighting."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from unmask_styles.placement import Layout, composite, face_frame, mask_curves, mask_grid, warp_texture


def fabric_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Smooth random field in [-1, 1] with features about `scale` pixels wide (wrinkles, weave)."""
    small = rng.standard_normal((max(2, int(h / scale)) + 1, max(2, int(w / scale)) + 1)).astype(np.float32)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return field / max(float(np.abs(field).max()), 1e-6)


def superellipse(h: int, w: int, power: float, width: float = 1.0, height: float = 1.0) -> np.ndarray:
    """Alpha of a rounded rectangle filling the texture (power 2 = ellipse, large = rectangle)."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    x = (u / max(w - 1, 1) * 2 - 1) / width
    y = (v / max(h - 1, 1) * 2 - 1) / height
    return ((np.abs(x) ** power + np.abs(y) ** power) <= 1.0).astype(np.float32)


# Real masks are often pulled up to just under the lower lids (on the real photos, about 0.05-0.15 of the
# eye-to-mouth distance below them); drawn at the styles' own height only, Mask G left that top band of fabric.
# Over the nose they can reach almost to the line between the eyes (snug 3D cloth masks, KN95s): a ceiling at a
# fifth of the nose kept Mask G from marking their top there.
HIGH_CHANCE = 0.35
HIGH_UNDER_EYE = (0.07, 0.16)
HIGH_BRIDGE = (0.08, 0.3)  # top centre, as a fraction of the nose from landmark 27 (between the eyes) to its tip
PRINT_CHANCE = 0.3  # real masks often carry a brand logo, a slogan or a badge; Mask G must take those as mask too
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def print_logo(rng: np.random.Generator, texture: np.ndarray) -> None:
    """Print one logo on the texture (in place, where it is opaque): letters, a badge or an emblem, in a saturated
    colour or plain white/black, anywhere from the centre to a cheek, 10-35% of the mask's width."""
    h, w = texture.shape[:2]
    if rng.random() < 0.7:
        hue = rng.random()
        colour = cv2.cvtColor(
            np.uint8([[[hue * 180, rng.uniform(180, 255), rng.uniform(150, 255)]]]), cv2.COLOR_HSV2RGB
        )
        colour = colour[0, 0] / 255.0
    else:
        colour = np.full(3, 1.0 if rng.random() < 0.5 else 0.05)
    stamp = np.zeros((h, w), np.uint8)  # the logo's coverage, anti-aliased (OpenCV draws text on 8 bits only)
    size = w * rng.uniform(0.10, 0.35)
    cx, cy = w * rng.uniform(0.15, 0.85), h * rng.uniform(0.3, 0.7)
    kind = rng.choice(["text", "badge", "emblem"])
    if kind == "text":
        text = "".join(rng.choice(list(LETTERS), rng.integers(2, 6)))
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX]))
        thickness = max(1, int(size / 25))
        (tw, th), _ = cv2.getTextSize(text, font, 1.0, thickness)
        scale = size / max(tw, 1)
        org = (int(cx - tw * scale / 2), int(cy + th * scale / 2))
        cv2.putText(stamp, text, org, font, scale, 255, max(1, int(thickness * scale)), cv2.LINE_AA)
    elif kind == "badge":
        axes = (int(size / 2), int(size / 2 * rng.uniform(0.5, 1.0)))
        cv2.ellipse(stamp, (int(cx), int(cy)), axes, rng.uniform(-20, 20), 0, 360, 255, -1, cv2.LINE_AA)
    else:  # a star or a swoosh-like polygon
        n = int(rng.integers(3, 7))
        angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False) + rng.uniform(0, np.pi)
        radii = np.where(np.arange(2 * n) % 2 == 0, size / 2, size / 2 * rng.uniform(0.35, 0.9))
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(stamp, [np.round(pts * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    alpha = (stamp.astype(np.float32) / 255.0)[..., None] * (texture[..., 3:4] > 0)
    texture[..., :3] = texture[..., :3] * (1 - alpha) + colour * alpha


class WarpedMask:
    """A style paints an RGBA texture; this class places it on the face along the landmarks.

    Subclasses set `name`, `layout` and `ear_loops` and implement `paint(rng, h, w) -> H×W×4 float32`.
    """

    name = "base"
    layout = Layout()
    ear_loops = False
    loop_colours = ((0.92, 0.92, 0.92),)

    def jitter(self, rng: np.random.Generator) -> Layout:
        """The style's layout, varied per sample as real masks are worn differently: most a little lower or
        higher than the style's own, some pulled up to just under the eyes."""
        base = self.layout
        top_end = base.top_end
        if rng.random() < HIGH_CHANCE:
            bridge = rng.uniform(*HIGH_BRIDGE)
            under_eye = rng.uniform(*HIGH_UNDER_EYE)
            top_end = max(top_end, 1)  # from jaw point 0 (eye level) a high edge would cross the eye's corner
        else:
            bridge = base.bridge + rng.uniform(-0.08, 0.08)
            under_eye = base.under_eye + rng.uniform(-0.04, 0.05)
        return dataclasses.replace(
            base,
            bridge=bridge,
            under_eye=under_eye,
            top_end=top_end,
            below_chin=base.below_chin + rng.uniform(-0.02, 0.04),
        )

    def paint(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        raise NotImplementedError

    def __call__(
        self, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        lm = np.asarray(landmarks, np.float64)
        layout = self.jitter(rng)
        grid = mask_grid(lm, layout)
        # Paint at about twice the mask's size in the photo so the warp only ever shrinks the texture.
        width = float(np.hypot(*(grid[0, -1] - grid[0, 0])))
        tw = int(np.clip(width * 2, 64, 512))
        th = int(tw * 0.7)
        texture = self.paint(rng, th, tw).astype(np.float32)
        if rng.random() < PRINT_CHANCE:
            print_logo(rng, texture)
        layer = warp_texture(texture, grid, image.shape[:2])
        if self.ear_loops:
            self._draw_loops(layer, lm, layout, rng)
        return composite(image, layer, lm)

    def _draw_loops(self, layer: np.ndarray, lm: np.ndarray, layout: Layout, rng) -> None:
        """Elastic loops from the mask's side corners back toward the ears."""
        down, right, d = face_frame(lm)
        top, bottom = mask_curves(lm, layout)
        colour = self.loop_colours[rng.integers(len(self.loop_colours))]
        thickness = max(1, round(d * 0.04))
        for side, ear_index, sign in ((0, 0, -1), (-1, 16, 1)):
            ear = lm[ear_index] + right * sign * 0.12 * d - down * 0.1 * d
            for start in (top[side], bottom[side]):
                pts = np.array([start, (start + ear) / 2 + right * sign * 0.05 * d, ear])
                cv2.polylines(
                    layer,
                    [np.round(pts * 4).astype(np.int32)],
                    False,
                    (*colour, 1.0),
                    thickness,
                    lineType=cv2.LINE_AA,
                    shift=2,
                )
