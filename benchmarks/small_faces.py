"""Small faces in big photos: each real masked photo shrunk into a 4000×3000 frame, so that its face is a given share
of the frame's width (a group photo from a phone camera), then detected with two settings of BlazeFace.

Usage: python benchmarks/small_faces.py ../shared/data/masked_real [--limit N] [--shares 0.05 0.03 0.02]
       [--compare tiles|nesting|refine] [--json-file PATH]
Counts, per share, the faces found again (a box overlapping the placed face's by IoU > 0.5), the photo's other
faces found (boxes over a face detection finds in the photo at its own size), and boxes over neither (false: a
`blaze-low` one is only kept by `infer` if it restores into a face), for two settings side by side in this process
on the same frames; detection as `unmask infer --fast` runs it (HOG and BlazeFace). `--compare tiles`: BlazeFace
tiles of half the photo only (session 8) against half and a quarter (`blazeface.MIN_TILE`); `--compare nesting`:
of two nested boxes, the better-scoring one kept (session 9) against the sharper view's where the other view sees
that face too small (session 10, `blazeface.weighted_nms`'s `sharpness`); `--compare refine`: boxes under
`blazeface.REFINE_BELOW` px as found against looked at again in a window around them (session 10,
`blazeface.refine`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from unmask_cli import blazeface
from unmask_cli.faces import detect_faces
from unmask_cli.images import ImageError, iter_images, read_rgb

FRAME = (3000, 4000)
_shipped_nms = blazeface.weighted_nms


def _best_scoring_nms(boxes, scores, iou=blazeface.NMS_IOU, sharpness=None):
    """Session 9's rule: of two nested boxes the better-scoring one, whatever its view."""
    return _shipped_nms(boxes, scores, iou)


# setting name: the blazeface attributes it changes from the shipped ones
COMPARISONS = {
    "tiles": {"half tiles": {"MIN_TILE": 512}, "half + quarter tiles": {}},
    "nesting": {"best-scoring nested box": {"weighted_nms": _best_scoring_nms}, "sharper view's nested box": {}},
    "refine": {"small boxes as found": {"REFINE_BELOW": 0}, "small boxes looked at again": {}},
}
SHIPPED = {name: getattr(blazeface, name) for name in ("MIN_TILE", "weighted_nms", "REFINE_BELOW")}


def placed(photo: np.ndarray, boxes, share: float, rng: np.random.Generator):
    """The photo shrunk so that its first face is `share` of the frame's width, at a random place in a grey frame;
    and its faces' boxes there."""
    box = boxes[0]
    scale = share * FRAME[1] / (box[2] - box[0])
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    y, x = int(rng.integers(0, FRAME[0] - h)), int(rng.integers(0, FRAME[1] - w))
    frame = np.full((*FRAME, 3), 110, np.uint8)
    frame[y : y + h, x : x + w] = small
    return frame, np.array(boxes, float) * scale + [x, y, x, y]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.03, 0.02])
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="tiles")
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args()
    settings = COMPARISONS[args.compare]
    rng = np.random.default_rng(0)
    sources = []
    for path in list(iter_images([args.data]))[: args.limit]:
        try:
            photo = read_rgb(path)
        except ImageError:
            continue
        faces = detect_faces(photo, blaze=True)
        if faces:
            sources.append((photo, [f.box for f in faces]))
    empty = {"found": 0, "other_faces": 0, "false_boxes": 0, "false_trusted": 0, "seconds": 0.0}
    counts = {name: {s: dict(empty) for s in args.shares} for name in settings}
    for photo, boxes in track(sources, description="detecting"):
        for share in args.shares:
            frame, truth = placed(photo, boxes, share, rng)
            for name, changes in settings.items():
                for attribute, value in {**SHIPPED, **changes}.items():
                    setattr(blazeface, attribute, value)
                start = time.perf_counter()
                found = detect_faces(frame, blaze=True)
                entry = counts[name][share]
                entry["seconds"] += time.perf_counter() - start
                target = [blazeface.box_iou(f.box, truth[:1])[0] > 0.5 for f in found]
                known = [blazeface.box_iou(f.box, truth[1:]).max(initial=0.0) > 0.3 for f in found]
                entry["found"] += int(any(target))
                entry["other_faces"] += int(sum(k and not t for t, k in zip(target, known, strict=True)))
                false = [f for f, t, k in zip(found, target, known, strict=True) if not (t or k)]
                entry["false_boxes"] += len(false)
                entry["false_trusted"] += int(sum(f.detector != "blaze-low" for f in false))
    others = sum(len(b) - 1 for _, b in sources)
    table = Table(title=f"{len(sources)} real masked photos ({others} more faces in them), each in a 4000×3000 frame")
    table.add_column("face width / frame width", justify="right")
    for name in settings:
        table.add_column(f"{name}: found", justify="right")
        table.add_column("other faces", justify="right")
        table.add_column("false (trusted)", justify="right")
        table.add_column("s/photo", justify="right")
    for share in args.shares:
        row = [f"{share:.1%}"]
        for name in settings:
            e = counts[name][share]
            row += [str(e["found"]), str(e["other_faces"]), f"{e['false_boxes']} ({e['false_trusted']})"]
            row += [f"{e['seconds'] / len(sources):.2f}"]
        table.add_row(*row)
    Console().print(table)
    if args.json_file:
        result = {
            "photos": len(sources),
            "other_faces": others,
            "frame": FRAME,
            "settings": list(settings),
            "counts": counts,
        }
        args.json_file.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
