"""Contact sheets: grids of images with labels, for looking at results rather than reading numbers."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def _fit(image: np.ndarray, cell: int) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    h, w = image.shape[:2]
    scale = cell / max(h, w)
    resized = cv2.resize(
        image,
        (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    canvas = np.full((cell, cell, 3), 255, np.uint8)
    y, x = (cell - resized.shape[0]) // 2, (cell - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


def _label(text: str, width: int, height: int) -> np.ndarray:
    strip = np.full((height, width, 3), 255, np.uint8)
    scale = height / 40
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    while tw > width - 4 and len(text) > 3:  # shorten until it fits, marking the cut with "~"
        text = text[:-2] + "~"
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.putText(
        strip,
        text,
        (2, int(height * 0.72)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (20, 20, 20),
        1,
        cv2.LINE_AA,
    )
    return strip


def grid(
    rows: Sequence[Sequence[np.ndarray]],
    cell: int = 128,
    col_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    gap: int = 2,
) -> np.ndarray:
    """RGB uint8 sheet: `rows` of RGB (or gray) images, each fitted into a `cell`×`cell` square."""
    label_h = max(14, cell // 8)
    label_w = cell if row_labels else 0
    ncols = max(len(r) for r in rows)
    height = len(rows) * (cell + gap) + (label_h + gap if col_labels else 0)
    width = label_w + ncols * (cell + gap)
    sheet = np.full((height, width, 3), 255, np.uint8)
    y = 0
    if col_labels:
        for c, text in enumerate(col_labels):
            x = label_w + c * (cell + gap)
            sheet[0:label_h, x : x + cell] = _label(text, cell, label_h)
        y = label_h + gap
    for r, row in enumerate(rows):
        if row_labels:
            sheet[y + (cell - label_h) // 2 : y + (cell + label_h) // 2, 0:cell] = _label(row_labels[r], cell, label_h)
        for c, image in enumerate(row):
            x = label_w + c * (cell + gap)
            sheet[y : y + cell, x : x + cell] = _fit(image, cell)
        y += cell + gap
    return sheet


def before_after(pairs: Sequence[tuple[np.ndarray, np.ndarray]], per_row: int = 4, cell: int = 192) -> np.ndarray:
    """Contact sheet of (before, after) photo pairs, `per_row` pairs to a row."""
    rows = []
    for i in range(0, len(pairs), per_row):
        row = []
        for before, after in pairs[i : i + per_row]:
            row += [before, after]
        rows.append(row)
    labels = ["before", "after"] * min(per_row, len(pairs))
    return grid(rows, cell, col_labels=labels)
