"""Does a face cost what the face covers, or what the photo holds? Seconds per stage of `Unmasker.restore_photo`
(detection as `unmask infer --fast`) for the README's sample photos set into frames of growing size.

Usage: python benchmarks/photo_size.py [--photos samples/masked] [--repeat 3] [--sizes 2 12 48] [--json-file PATH]

Scenes, each at 2, 12 and 48 MP (4:3), the sample photos in turn:
- "same face, bigger frame": the photo enlarged to 1,000 px high and pasted into a grey frame — the face's work is
  the same, only the frame grows; align + blend should not grow with it (detection does: it looks at the whole
  frame). (At its own size, ~150 px, a face is 2% of a 48 MP frame's width, where detection, which works on a
  1,024 px copy, misses most faces: README, small faces.)
- "face fills the frame": the photo enlarged to fill it — the face grows with the frame, and so does its work.
- "group of 24": 24 copies of the photos tiled, each a 24th of the frame's area.
Printed: median seconds per stage over `--repeat` runs (same process, same frames), align + blend as a ratio of
the smallest frame's (about 1 for "same face, bigger frame" when the cost follows the face), and the process's peak
memory so far (sizes run in increasing order, so it is the largest frame's so far).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from unmask_cli import ui
from unmask_cli.commands.options import default_models_dir
from unmask_cli.images import iter_images, read_rgb
from unmask_cli.pipeline import Unmasker

SIZES_MP = (2, 12, 48)
FACE_PHOTO_HEIGHT = 1000


def frame_shape(megapixels: float) -> tuple[int, int]:
    width = round(float(np.sqrt(megapixels * 1e6 * 4 / 3)))
    return width * 3 // 4, width


def pasted(photo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    frame = np.full((*shape, 3), 110, np.uint8)
    h, w = min(photo.shape[0], shape[0]), min(photo.shape[1], shape[1])
    y, x = (shape[0] - h) // 3, (shape[1] - w) // 2
    frame[y : y + h, x : x + w] = photo[:h, :w]
    return frame


def filling(photo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    scale = min(shape[0] / photo.shape[0], shape[1] / photo.shape[1])
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return pasted(big, shape)


def group(photos: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    rows, cols = 4, 6
    cell = (shape[0] // rows, shape[1] // cols)
    frame = np.full((*shape, 3), 110, np.uint8)
    for i in range(rows * cols):
        tile = filling(photos[i % len(photos)], cell)
        r, c = divmod(i, cols)
        frame[r * cell[0] : (r + 1) * cell[0], c * cell[1] : (c + 1) * cell[1]] = tile
    return frame


def timed(unmasker: Unmasker, rgb: np.ndarray) -> tuple[dict[str, float], int]:
    unmasker.stage_seconds = dict.fromkeys(unmasker.stage_seconds, 0.0)
    start = time.perf_counter()
    _, faces = unmasker.restore_photo(rgb)
    seconds = dict(unmasker.stage_seconds)
    seconds["total"] = time.perf_counter() - start
    return seconds, sum(f.restored for f in faces)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=Path("samples/masked"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", type=float, nargs="+", default=list(SIZES_MP), help="frame sizes in MP")
    ap.add_argument("--json-file", type=Path, default=None)
    args = ap.parse_args()
    photos = [read_rgb(p) for p in iter_images([args.photos])]
    unmasker = Unmasker(default_models_dir(), "onnxruntime", robust_detection=False, workers=1, device="cpu")
    # each scene: its frames, made one at a time (only one big frame in memory, for the peak)
    scenes = {
        "same face, bigger frame": lambda shape: (pasted(filling(p, (FACE_PHOTO_HEIGHT,) * 2), shape) for p in photos),
        "face fills the frame": lambda shape: (filling(p, shape) for p in photos),
        "group of 24": lambda shape: iter([group(photos, shape)]),
    }
    rows = []
    for mp in sorted(args.sizes):  # increasing, so that the peak so far is this size's
        for scene, make in scenes.items():
            runs = []
            for _ in range(args.repeat):
                per_frame = [timed(unmasker, f) for f in make(frame_shape(mp))]
                runs.append(
                    {key: sum(s[key] for s, _ in per_frame) for key in ("detect", "align", "model", "blend", "total")}
                )
            restored = sum(n for _, n in per_frame)
            median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
            rows.append(
                {
                    "scene": scene,
                    "megapixels": mp,
                    "frames": len(per_frame),
                    "restored": restored,
                    "peak_gib": peak,
                    **median,
                }
            )
    for row in rows:
        base = next(r for r in rows if r["scene"] == row["scene"] and r["megapixels"] == min(args.sizes))
        row["align_blend_ratio"] = (row["align"] + row["blend"]) / max(base["align"] + base["blend"], 1e-9)
    table = ui.table(
        "seconds per scene (median of repeats); align + blend against the smallest frame's; peak memory so far",
        [
            "scene",
            "MP",
            "frames",
            "faces restored",
            "detect",
            "align",
            "model",
            "blend",
            "total",
            "align + blend",
            "peak GiB",
        ],
        [
            [
                r["scene"],
                r["megapixels"],
                r["frames"],
                r["restored"],
                *(f"{r[k]:.2f}" for k in ("detect", "align", "model", "blend", "total")),
                f"{r['align_blend_ratio']:.1f}×",
                f"{r['peak_gib']:.1f}",
            ]
            for r in rows
        ],
    )
    Console(width=132).print(table)  # wide enough for every column in a log too
    if args.json_file:
        args.json_file.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
