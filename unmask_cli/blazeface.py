"""MediaPipe's BlazeFace face detectors (short and full range), run by onnxruntime on the CPU.

dlib's HOG and CNN detectors look for a whole frontal face and miss a third of masked ones; BlazeFace was trained
on faces in the wild and finds most of those. It gives a box and six points; dlib's shape predictor still places
the 68 landmarks inside the box. The models ship in `unmask_cli/detectors/` (`scripts/make_blazeface.py` rebuilds
them from a PyPI wheel; Apache-2.0, see the NOTICE there). Decoding follows MediaPipe's SSD anchors calculator and
its weighted non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

MODEL_DIR = Path(__file__).resolve().parent / "detectors"
MIN_SCORE = 0.5  # MediaPipe's default
NMS_IOU = 0.3
NESTED = 0.7  # faces do not nest: a box this much inside another is the same face
# The models see the whole photo at 128/192 px, so a face under ~1/10 of a big photo's side is lost: photos this big
# are also searched in overlapping tiles of half their size, then a quarter, ... down to MIN_TILE (a group photo
# from a phone camera: its faces are 3-8% of its width).
TILE_FROM = 768
MIN_BOX_AT_INPUT = 16  # px at the model's input: smaller boxes from a window with finer windows below are dropped
# A small box is looked at again in a window REFINE_ZOOM times its width, where the full-range model sees the face
# at ~48 px instead of ~10-20: at those sizes its box can be twice the face (then dlib's landmarks miss the face).
REFINE_BELOW = 48  # px wide in the photo as detected
REFINE_ZOOM = 4
MIN_TILE = 256  # in the photo as detected (≤ faces.DETECT_MAX_SIDE): 49 tiles of 256 on a 1024² photo; 128 would be 225


@dataclass(frozen=True)
class Variant:
    file: str
    size: int
    strides: tuple[int, ...]
    two_anchors_per_cell: bool


SHORT_RANGE = Variant("blazeface_short_range.onnx", 128, (8, 16, 16, 16), True)  # faces filling much of the photo
FULL_RANGE = Variant("blazeface_full_range.onnx", 192, (4,), False)  # smaller faces, up to ~5 m away


class Detection(NamedTuple):
    box: tuple[int, int, int, int]  # left, top, right, bottom in photo pixels
    score: float
    # the model's six points (x, y in photo pixels): the eye on the photo's left, the other eye, nose tip, mouth,
    # the ear on the photo's left, the other ear; None where a model gave none
    keypoints: np.ndarray | None


def available() -> bool:
    """The model files are there and onnxruntime can be imported (an install without a runtime extra has none)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return all((MODEL_DIR / v.file).is_file() for v in (SHORT_RANGE, FULL_RANGE))


def anchors(variant: Variant) -> np.ndarray:
    """Anchor centres (x, y) in [0, 1], in the order of the model's outputs."""
    centres = []
    i = 0
    while i < len(variant.strides):
        j, repeats = i, 0
        while j < len(variant.strides) and variant.strides[j] == variant.strides[i]:
            repeats += 2 if variant.two_anchors_per_cell else 1
            j += 1
        cells = variant.size // variant.strides[i]
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), repeats, axis=0))
        i = j
    return np.concatenate(centres)


@cache
def _model(variant: Variant):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a few milliseconds of work; detection already runs one process per core
    options.log_severity_level = 3
    session = ort.InferenceSession(str(MODEL_DIR / variant.file), options, providers=["CPUExecutionProvider"])
    return session, anchors(variant)


def _raw_in(rgb: np.ndarray, window: tuple[int, int, int, int], variant: Variant) -> tuple[np.ndarray, np.ndarray]:
    """`_raw` on the (left, top, right, bottom) window of `rgb`, rows in the photo's pixels."""
    left, top, right, bottom = window
    rows, scores = _raw(np.ascontiguousarray(rgb[top:bottom, left:right]), variant)
    return rows + np.tile([left, top], rows.shape[1] // 2), scores


def _raw(rgb: np.ndarray, variant: Variant) -> tuple[np.ndarray, np.ndarray]:
    """(rows N×16, scores N) before suppression: each row the box (left, top, right, bottom) then the six
    keypoints (x, y), in photo pixels."""
    session, centres = _model(variant)
    h, w = rgb.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2  # letterbox: the models see a square
    square = cv2.copyMakeBorder(rgb, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=0)
    x = cv2.resize(square, (variant.size, variant.size), interpolation=cv2.INTER_AREA).astype(np.float32)
    outputs = session.run(None, {session.get_inputs()[0].name: (x / 127.5 - 1.0)[None]})
    regressors, logits = sorted(outputs, key=lambda o: o.shape[-1], reverse=True)
    reg = regressors.reshape(-1, regressors.shape[-1])[:, :16] / variant.size
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -80, 80)))
    cx, cy = reg[:, 0] + centres[:, 0], reg[:, 1] + centres[:, 1]
    half_w, half_h = reg[:, 2] / 2, reg[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], 1)
    points = reg[:, 4:16] + np.tile(centres, 6)  # keypoints are offsets from the anchor's centre
    return np.concatenate([boxes, points], 1) * side - np.tile([left, top], 8), scores


def _overlaps(box, boxes) -> tuple[np.ndarray, np.ndarray]:
    """(intersection over union, intersection over the smaller box) of one box (left, top, right, bottom) with
    each of N boxes (N×4)."""
    box = np.asarray(box, np.float64)[:4]  # rows may carry keypoints after the box
    boxes = np.asarray(boxes, np.float64)
    boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.size else 4)[:, :4]
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = np.maximum(area(box) + area(boxes) - inter, 1e-9)
    return inter / union, inter / np.maximum(np.minimum(area(box), area(boxes)), 1e-9)


def box_iou(box, boxes) -> np.ndarray:
    """Intersection over union of one box (left, top, right, bottom) with each of N boxes (N×4)."""
    return _overlaps(box, boxes)[0]


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU, sharpness: np.ndarray | None = None
) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's suppression: each kept box is the score-weighted mean of the boxes it suppresses (rows N×4, or
    longer: the columns after the box, its keypoints, are averaged the same way). A box lying
    mostly inside a better one (NESTED of its area) is the same face found at another scale (a tile and the whole
    photo, two tile sizes): suppressed too, but not averaged in, as its size is not the face's.

    `sharpness` (model input px per photo px of the view each box came from) settles which of two nested boxes is
    the face when the better-scoring one came from a view that sees the other's face under MIN_BOX_AT_INPUT: there
    a model guesses a box around a face far bigger than the face (the short-range model on a small face in a tile),
    so that box gives way to the one from the sharper view."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    sharp = np.ones(len(boxes)) if sharpness is None else np.asarray(sharpness, float)[order]
    widths = boxes[:, 2] - boxes[:, 0]
    kept = []
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        overlap, share_inside = _overlaps(boxes[i], boxes)
        inside = alive & (share_inside > NESTED) & (widths < widths[i])
        if (inside & (sharp > sharp[i]) & (widths * sharp[i] < MIN_BOX_AT_INPUT)).any():
            alive[i] = False
            continue
        group = alive & (overlap > iou)
        group[i] = True
        weights = scores[group][:, None]
        merged = (boxes[group] * weights).sum(0) / weights.sum()
        kept.append((merged, float(scores[i])))
        alive &= ~group & ~(_overlaps(merged, boxes)[1] > NESTED)
    return kept


def tile_levels(height: int, width: int) -> list[list[tuple[int, int, int, int]]]:
    """(left, top, right, bottom) windows covering the photo, overlapping by half, coarse to fine: of half the
    photo's longer side, then of a quarter, ... while at least MIN_TILE; none for photos under TILE_FROM. Every face
    smaller than half a window lies whole inside one window of that size."""
    if max(height, width) < TILE_FROM:
        return []

    def starts(length: int, size: int) -> list[int]:
        step = max(size // 2, 1)
        return sorted({*range(0, length - size + 1, step), length - size})

    levels = []
    side = max(height, width) // 2
    while side >= MIN_TILE:
        tile_w, tile_h = min(side, width), min(side, height)
        levels.append([(x, y, x + tile_w, y + tile_h) for y in starts(height, tile_h) for x in starts(width, tile_w)])
        side //= 2
    return levels


def detect(rgb: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
    """Faces in an RGB uint8 photo, best first: each a box, a score and the model's six keypoints.

    Both variants run (short range for faces that fill the photo, full range for smaller ones), on the whole photo
    and, for big photos, on tiles; their boxes are merged: a face found more than once is one face; a small box is
    then looked at again, zoomed in (`refine`). (Tiles cut from the full-resolution photo instead of the ≤ 1024 px
    copy found no more faces, at twice the time.)
    """
    h, w = rgb.shape[:2]
    levels = [[(0, 0, w, h)], *tile_levels(h, w)]
    found = []
    for k, windows in enumerate(levels):
        for left, top, right, bottom in windows:
            for variant in (SHORT_RANGE, FULL_RANGE):
                boxes, scores = _raw_in(rgb, (left, top, right, bottom), variant)
                sharpness = variant.size / max(right - left, bottom - top)  # model input px per photo px
                if k + 1 < len(levels):  # a face this small at the model's input is left to the finer windows
                    big_enough = (boxes[:, 2] - boxes[:, 0]) * sharpness >= MIN_BOX_AT_INPUT
                    boxes, scores = boxes[big_enough], scores[big_enough]
                found.append((boxes, scores, np.full(len(scores), sharpness)))
    boxes, scores, sharpness = (np.concatenate(part) for part in zip(*found, strict=True))
    keep = scores >= min_score
    faces = []
    for row, score in weighted_nms(boxes[keep], scores[keep], sharpness=sharpness[keep]):
        if row[2] - row[0] < REFINE_BELOW:
            row = refine(rgb, row, min_score)
        left, top, right, bottom = np.round(row[:4]).astype(int).tolist()
        left, top, right, bottom = max(left, 0), max(top, 0), min(right, w - 1), min(bottom, h - 1)
        keypoints = row[4:16].reshape(6, 2).astype(np.float32) if len(row) >= 16 else None
        if right - left >= 8 and bottom - top >= 8:
            faces.append(Detection((left, top, right, bottom), score, keypoints))
    return faces


def refine(rgb: np.ndarray, box: np.ndarray, min_score: float = MIN_SCORE) -> np.ndarray:
    """`box` (a row: the box, then any keypoints) as the full-range model finds it in a window REFINE_ZOOM times the
    box's width around it, where the face is big enough at the model's input to be boxed right; `box` itself if
    nothing there overlaps it."""
    h, w = rgb.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = REFINE_ZOOM * (box[2] - box[0]) / 2
    left, top = int(max(cx - half, 0)), int(max(cy - half, 0))
    right, bottom = int(min(cx + half, w)), int(min(cy + half, h))
    if right - left < 8 or bottom - top < 8:
        return box
    boxes, scores = _raw_in(rgb, (left, top, right, bottom), FULL_RANGE)
    good = scores >= min_score
    for merged, _ in weighted_nms(boxes[good], scores[good]):  # best first
        iou, inside = _overlaps(box, merged)
        if iou[0] > NMS_IOU or inside[0] > NESTED:
            return merged
    return box


def best_score(rgb: np.ndarray, variant: Variant = SHORT_RANGE) -> float:
    """The highest face score one variant gives anywhere in `rgb`, before any threshold: one model call, to compare
    the same frame two ways (`faces.flip_leads`)."""
    return float(_raw(np.ascontiguousarray(rgb), variant)[1].max())
