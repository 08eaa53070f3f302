"""A hand drawn over the mouth of a bare face crop: a negative sample for the presence check (mask_gate.onnx).

A hand held to the mouth is skin-coloured and covers the mouth and chin as a mask does; the presence check had only
seen masked and bare faces and took one for a mask in a real group photo. The hand is drawn in the template's
coordinates (the crop is aligned, `face_template`), in the person's own skin tone: a palm, one to four fingers
(each shaded round on its own, so the gaps between them are dark creases), a forearm leaving the crop, sometimes an
object held in the fingers, and a soft shadow on the face.
"""

from __future__ import annotations

import cv2
import numpy as np

from unmask_cli.face_template import TEMPLATE_68

SUPERSAMPLE = 4  # parts are drawn at 4x and shrunk: smooth edges at 128²
MOUTH = TEMPLATE_68[48:60].mean(0)
FACE_WIDTH = TEMPLATE_68[16, 0] - TEMPLATE_68[0, 0]  # jaw to jaw, in crop widths
CHEEKS = ((0.27, 0.37), (0.63, 0.73))  # x ranges of the skin beside the nose, in crop widths
CHEEK_ROWS = (0.58, 0.64)  # below where glasses' rims reach


def skin_tone(face: np.ndarray) -> np.ndarray:
    """Median colour of both cheeks of an aligned crop (S×S×3, [0, 1]): the tone the person's hand is drawn in."""
    s = face.shape[0]
    y0, y1 = (int(v * s) for v in CHEEK_ROWS)
    pixels = [face[y0:y1, int(a * s) : int(b * s)].reshape(-1, 3) for a, b in CHEEKS]
    return np.median(np.concatenate(pixels), axis=0)


def skin_detail(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The fine detail (pores, grain, JPEG noise) of one cheek, mirror-tiled over the crop: a drawn hand as sharp
    or as blurred as the photo's own skin."""
    s = face.shape[0]
    detail = face.astype(np.float32) - cv2.GaussianBlur(face.astype(np.float32), (0, 0), 1.5)
    y0, y1 = (int(v * s) for v in CHEEK_ROWS)
    a, b = CHEEKS[int(rng.integers(2))]
    patch = detail[y0:y1, int(a * s) : int(b * s)]
    patch = np.concatenate([patch, patch[:, ::-1]], axis=1)
    patch = np.concatenate([patch, patch[::-1]], axis=0)
    reps = (s // patch.shape[0] + 2, s // patch.shape[1] + 2, 1)
    oy, ox = rng.integers(0, patch.shape[0]), rng.integers(0, patch.shape[1])
    return np.clip(np.tile(patch, reps)[oy : oy + s, ox : ox + s], -0.08, 0.08)  # an edge in it stays faint


def _capsule(canvas_size: int, start: np.ndarray, end: np.ndarray, width: float) -> np.ndarray:
    """A filled stadium from `start` to `end` (a finger or a forearm)."""
    layer = np.zeros((canvas_size, canvas_size), np.uint8)
    cv2.line(layer, tuple(int(v) for v in start), tuple(int(v) for v in end), 255, max(1, int(width)), cv2.LINE_8)
    for p in (start, end):
        cv2.circle(layer, tuple(int(v) for v in p), max(1, int(width / 2)), 255, -1)
    return layer


def _ellipse(canvas_size: int, centre: np.ndarray, axes: tuple[float, float], angle_deg: float) -> np.ndarray:
    layer = np.zeros((canvas_size, canvas_size), np.uint8)
    cv2.ellipse(
        layer,
        tuple(int(v) for v in centre),
        (max(1, int(axes[0])), max(1, int(axes[1]))),
        angle_deg,
        0,
        360,
        255,
        -1,
    )
    return layer


def _roundness(layer: np.ndarray) -> np.ndarray:
    """0 at a part's edge, rising to 1 inside it: the shading of a rounded finger or palm seen from the front."""
    inside = cv2.distanceTransform((layer > 0).astype(np.uint8), cv2.DIST_L2, 5)
    top = float(inside.max())
    return np.sqrt(np.clip(inside / max(top, 1.0), 0.0, 1.0)) if top > 0 else inside


def hand_parts(size: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The hand's parts (uint8 layers of a canvas `size` wide) and, sometimes, an object held at the mouth.

    Fingers point up (a hand raised from below) or across the mouth (a hand from the side); the fingers' middle
    lands near the template's mouth."""
    w = FACE_WIDTH * size
    if rng.random() < 0.5:
        angle = np.deg2rad(-90 + rng.uniform(-35, 35))
    else:  # across, tilted up a little: the forearm leaves the crop sideways or downwards, as an arm raised does
        angle = np.deg2rad(rng.choice([-rng.uniform(0, 30), 180 + rng.uniform(0, 30)]))
    along = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-along[1], along[0]])
    w *= rng.uniform(0.85, 1.25)  # a hand nearer the camera than the face looks bigger
    # an adult hand: palm about 0.6 face widths across and 0.7 long, fingers about 0.5
    palm_width, palm_length = rng.uniform(0.5, 0.65) * w, rng.uniform(0.55, 0.75) * w
    count = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.15, 0.2, 0.5]))
    finger_width = palm_width / 4 * rng.uniform(0.85, 1.05)
    finger_length = rng.uniform(0.4, 0.6) * w
    target = (MOUTH + rng.uniform([-0.06, -0.07], [0.06, 0.09]) * FACE_WIDTH) * size
    raised = set(rng.choice(4, size=count, replace=False).tolist())
    middle = np.mean(sorted(raised)) - 1.5  # the raised fingers, not the palm, are centred on the target
    palm_top = target - along * finger_length * rng.uniform(0.3, 0.6) - across * middle * finger_width
    palm_centre = palm_top - along * palm_length / 2

    parts = [_ellipse(size, palm_centre, (palm_length / 2, palm_width / 2), np.rad2deg(angle))]
    wrist = palm_centre - along * palm_length * 0.35
    parts.append(_capsule(size, wrist, wrist - along * 2 * size, palm_width * rng.uniform(0.7, 0.85)))
    for k in range(4):
        base = palm_top + across * (k - 1.5) * finger_width - along * finger_width * 0.5
        length = finger_length * (1.0 - 0.12 * abs(k - 1.2)) if k in raised else finger_width * rng.uniform(0.5, 1.0)
        parts.append(_capsule(size, base, base + along * length, finger_width * 0.95))
    side = rng.choice([-1.0, 1.0])  # the thumb, on either side (left or right hand, palm or back)
    thumb_base = palm_centre + across * side * palm_width * 0.4
    thumb_dir = np.cos(np.deg2rad(35)) * along + np.sin(np.deg2rad(35)) * across * side
    thumb_dir = thumb_dir if rng.random() < 0.6 else along  # spread, or along the fingers
    parts.append(_capsule(size, thumb_base, thumb_base + thumb_dir * finger_length * 0.8, finger_width * 1.1))

    held = None
    if rng.random() < 0.25:  # food, a cup or a phone at the mouth, under the fingers
        axes = rng.uniform(0.08, 0.18, 2) * w
        held = _ellipse(size, target + rng.normal(0, 0.04 * w, 2), (axes[0], axes[1]), rng.uniform(0, 180))
    return parts, held


def draw_hand(
    face: np.ndarray, rng: np.random.Generator, skin_from: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of an aligned face crop (S×S×3, float in [0, 1]) with a hand held over its mouth, and the hand's cover
    (S×S, 0–1). The hand takes its tone and detail from `skin_from` (the same face without its mask, when `face`
    wears one: its cheeks are fabric) or else from `face`."""
    skin = face if skin_from is None else skin_from
    s = face.shape[0]
    big = s * SUPERSAMPLE
    parts, held = hand_parts(big, rng)
    alpha = np.max(np.stack(parts), axis=0).astype(np.float32) / 255
    shade = np.max(np.stack([_roundness(p) for p in parts]), axis=0)
    alpha, shade = (cv2.resize(x, (s, s), interpolation=cv2.INTER_AREA) for x in (alpha, shade))

    tone = skin_tone(skin) * rng.uniform([0.95, 0.85, 0.8], [1.12, 1.02, 1.0]) * rng.uniform(0.8, 1.15)
    light = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(1.0, 1.12), s, dtype=np.float32)
    light = light[None, :] if rng.random() < 0.5 else light[:, None]
    grain = cv2.GaussianBlur(rng.normal(0, rng.uniform(0.005, 0.02), (s, s)).astype(np.float32), (0, 0), 0.7)
    hand = tone[None, None, :] * ((0.55 + 0.45 * shade) * light + grain)[..., None]
    hand = hand + rng.uniform(0.5, 1.0) * skin_detail(skin, rng)

    out = face.astype(np.float32).copy()
    dx, dy = rng.integers(1, 4, 2)  # the shadow falls a little below and beside the hand
    shifted = cv2.warpAffine(alpha, np.float32([[1, 0, dx], [0, 1, dy]]), (s, s), borderMode=cv2.BORDER_REPLICATE)
    shadow = cv2.GaussianBlur(shifted, (0, 0), s / 40)
    out *= 1 - rng.uniform(0.1, 0.35) * shadow[..., None]
    if held is not None:
        cover = cv2.resize(held.astype(np.float32) / 255, (s, s), interpolation=cv2.INTER_AREA)[..., None]
        colour = rng.uniform(0.85, 1.0, 3) if rng.random() < 0.5 else rng.uniform(0.0, 1.0, 3)
        out = out * (1 - cover) + colour * (0.8 + 0.2 * light[..., None]) * cover
    out = out * (1 - alpha[..., None]) + hand * alpha[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32), alpha.astype(np.float32)
