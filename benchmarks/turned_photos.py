"""Photos lying on their side or upside down, with no EXIF orientation to undo it: does `unmask infer` still
restore each face, and in the right place?

    python benchmarks/turned_photos.py ../shared/data/masked_real --infer-rounds 3 \
        > benchmarks/results/turned_photos.json

Each photo of DATA is restored as it is and turned by a quarter, a half and three quarters (np.rot90), with the
shipped models, once with the turn search of `faces.detect_faces` and once without it (`faces.TURN_SEARCH` off,
as before it), in one process. A turned photo's restoration counts as right when its changed pixels, turned back,
cover the same place as the upright photo's (IoU ≥ 0.5 of the pixels that changed by more than 30 of 765), and as wrong
when it changed pixels anywhere else: a face painted on a forehead or on the hair of a face taken the wrong way
up. Also the detection time of the photos as they are with and without the search, alternating, as a ratio, and
with `--infer-rounds N` the time of whole `infer` runs over DATA (one worker, in this process; N rounds of each,
alternating; the ratio of the medians).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from unmask_cli import faces
from unmask_cli.images import iter_images, read_photo
from unmask_cli.pipeline import Unmasker, find_faces

CHANGED = 30  # summed over RGB: a pixel the restoration changed
SAME_PLACE = 0.5


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.abs(after.astype(int) - before.astype(int)).sum(-1) > CHANGED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--infer-rounds", type=int, default=0)
    args = ap.parse_args()
    photos = sorted(iter_images([args.data]))[: args.limit]
    unmasker = Unmasker(args.models, workers=1)
    turns = ("90", "180", "270")
    counts = {mode: {turn: {"right": 0, "wrong": 0, "none": 0} for turn in turns} for mode in ("with", "without")}
    upright_faces = upright_photos = 0
    seconds = {"with": 0.0, "without": 0.0}
    for n, path in enumerate(photos):
        rgb = read_photo(path).rgb
        for mode in ("without", "with") if n % 2 else ("with", "without"):  # alternate, against drift
            faces.TURN_SEARCH = mode == "with"
            start = time.perf_counter()
            find_faces(rgb, True)
            seconds[mode] += time.perf_counter() - start
        faces.TURN_SEARCH = True
        upright, found = unmasker.restore_photo(rgb)
        where = changed(rgb, upright)
        upright_faces += sum(face.restored for face in found)
        upright_photos += bool(where.any())
        for mode in ("with", "without"):
            faces.TURN_SEARCH = mode == "with"
            for k in (1, 2, 3):
                turned = np.ascontiguousarray(np.rot90(rgb, k))
                out, _ = unmasker.restore_photo(turned)
                back = changed(rgb, np.rot90(out, -k))
                union = (back | where).sum()
                iou = (back & where).sum() / union if union else 1.0
                verdict = "none" if not back.any() else "right" if where.any() and iou >= SAME_PLACE else "wrong"
                counts[mode][str(90 * k)][verdict] += 1
        faces.TURN_SEARCH = True
        print(f"{n + 1}/{len(photos)}", file=sys.stderr, end="\r")
    report = {
        "data": str(args.data),
        "photos": len(photos),
        "photos_restored_upright": upright_photos,
        "faces_restored_upright": upright_faces,
        "turned_photos": counts,
        "detection_time_ratio_with_search": round(seconds["with"] / seconds["without"], 3),
        "note": "turns are np.rot90's: 90 = the photo turned a quarter counter-clockwise; right = restored in the "
        "upright photo's place, wrong = pixels changed elsewhere, none = nothing changed",
    }
    if args.infer_rounds:
        runs: dict[bool, list[float]] = {True: [], False: []}
        for n in range(args.infer_rounds):
            for mode in (True, False) if n % 2 == 0 else (False, True):
                faces.TURN_SEARCH = mode
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    unmasker.run(photos, Path(out))
                    runs[mode].append(time.perf_counter() - start)
        faces.TURN_SEARCH = True
        report["infer_seconds"] = {"with": runs[True], "without": runs[False]}
        ratio = statistics.median(runs[True]) / statistics.median(runs[False])
        report["infer_time_ratio_with_search"] = round(ratio, 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":  # guarded: `infer`'s worker processes import this file
    main()
