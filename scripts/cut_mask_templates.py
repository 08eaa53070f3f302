"""Cut the original project's mask photos (../shared/data/seed/*.jpeg) out of their plain backgrounds.

Writes RGBA PNGs to plugins/unmask_styles/templates/. The background colour is the median of the border;
the mask is the largest blob that differs from it, ear loops removed by a morphological opening, holes filled.
Usage: python scripts/cut_mask_templates.py ../shared/data/seed
"""

import sys
from pathlib import Path

import cv2
import numpy as np


def cut(bgr: np.ndarray) -> np.ndarray:
    border = np.concatenate([bgr[0], bgr[-1], bgr[:, 0], bgr[:, -1]])
    bg = np.median(border, 0)
    diff = np.abs(bgr.astype(np.int16) - bg).max(2)
    fg = (diff > 28).astype(np.uint8)
    k = max(3, min(bgr.shape[:2]) // 30) | 1
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(fg)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == biggest).astype(np.uint8)
    flood = blob.copy()
    cv2.floodFill(flood, np.zeros((blob.shape[0] + 2, blob.shape[1] + 2), np.uint8), (0, 0), 1)
    blob |= 1 - flood  # holes (e.g. a white pleat on a white background) belong to the mask
    x, y, w, h = cv2.boundingRect(blob)
    rgba = np.dstack([bgr, blob * 255])[y : y + h, x : x + w]
    return rgba


def main() -> None:
    src = Path(sys.argv[1])
    out = Path(__file__).resolve().parents[1] / "plugins" / "unmask_styles" / "templates"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.jpeg")):
        rgba = cut(cv2.imread(str(path)))
        cv2.imwrite(str(out / f"{path.stem}.png"), rgba)
        print(path.name, "->", rgba.shape)


if __name__ == "__main__":
    main()
