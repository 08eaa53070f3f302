"""Which faces BlazeFace's eyes re-fit (`faces.checked_landmarks`), and what that does to their restorations.

    python benchmarks/eye_check.py ../shared/data/masked_real [--sheet docs/eye_check_sheet.png] \
        [--json-file benchmarks/results/eye_check.json]

Every photo is detected twice, as `unmask infer` detects it, with the check and without it (`faces.EYES_DISAGREE`
set to infinity); for every face whose landmarks changed: how far dlib's eyes lay from BlazeFace's before and after
(in eye distances), the template check (mask over the nose tip and mouth, eyes free) and Mask G's share of the crop
both ways. `--sheet`: each such face as the crop without | with the check (dots where the template puts the eyes,
the nose tip and the chin), then the photo around the face, restored without | with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from unmask_cli import faces
from unmask_cli.images import ImageError, iter_images, read_rgb, write_atomic
from unmask_cli.pipeline import Unmasker, find_faces
from unmask_cli.sheets import grid

TEMPLATE_DOTS = np.array(
    [faces.CROP_TEMPLATE[faces.LEFT_EYE].mean(0), faces.CROP_TEMPLATE[faces.RIGHT_EYE].mean(0)]
    + [faces.CROP_TEMPLATE[i] for i in (30, 8)]
)
CROP = 192
CHECKED = faces.EYES_DISAGREE


def with_check(on: bool) -> None:
    faces.EYES_DISAGREE = CHECKED if on else float("inf")


def crop_with_dots(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    crop, _ = faces.align(rgb, landmarks, CROP)
    crop = crop.copy()
    for x, y in TEMPLATE_DOTS * CROP:
        cv2.circle(crop, (int(x), int(y)), 3, (0, 255, 0), -1)
    return crop


def around(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The photo around a face: a square 1.8 times its box."""
    left, top, right, bottom = box
    cx, cy, half = (left + right) // 2, (top + bottom) // 2, int(0.9 * (right - left))
    h, w = rgb.shape[:2]
    return np.ascontiguousarray(rgb[max(cy - half, 0) : min(cy + half, h), max(cx - half, 0) : min(cx + half, w)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--models", type=Path, default=Path("exported"))
    parser.add_argument("--sheet", type=Path)
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args()
    unmasker = Unmasker(args.models, workers=1)
    records, rows, labels, total = [], [], [], 0
    for path in track(list(iter_images([args.data])), description="photos"):
        try:
            rgb = read_rgb(path)
        except ImageError:
            continue
        with_check(False)
        before = find_faces(rgb)
        with_check(True)
        after = find_faces(rgb)
        total += len(after)
        changed = [
            (old, new)
            for old, new in zip(before, after, strict=True)
            if old.box == new.box and not np.array_equal(old.landmarks, new.landmarks)
        ]
        if not changed:
            continue
        with_check(False)
        restored_before, results_before = unmasker.restore_photo(rgb)
        with_check(True)
        restored_after, results_after = unmasker.restore_photo(rgb)
        for old, new in changed:
            result_of = lambda results, box: next((r for r in results if r.box == box), None)  # noqa: E731
            was, now = result_of(results_before, old.box), result_of(results_after, new.box)
            records.append(
                {
                    "photo": path.name,
                    "box": list(new.box),
                    "detector": new.detector,
                    "eyes_apart_before": round(faces.eye_disagreement(old.landmarks, new.keypoints), 3),
                    "eyes_apart_after": round(faces.eye_disagreement(new.landmarks, new.keypoints), 3),
                    "in_place_before": was.mask_in_place if was else None,
                    "in_place_after": now.mask_in_place if now else None,
                    "mask_share_before": round(was.mask_fraction, 3) if was else None,
                    "mask_share_after": round(now.mask_fraction, 3) if now else None,
                }
            )
            rows.append(
                [
                    crop_with_dots(rgb, old.landmarks),
                    crop_with_dots(rgb, new.landmarks),
                    around(rgb, new.box),
                    around(restored_before, new.box),
                    around(restored_after, new.box),
                ]
            )
            labels.append(path.stem)
    summary = {
        "data": str(args.data),
        "faces": total,
        "refitted": len(records),
        "in_place_before": sum(bool(r["in_place_before"]) for r in records),
        "in_place_after": sum(bool(r["in_place_after"]) for r in records),
        "faces_changed": records,
    }
    table = Table(title=f"BlazeFace's eyes re-fitted {len(records)} of {total} faces")
    for col in ("photo", "detector", "eyes apart before → after", "in place before → after", "mask share"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r["photo"],
            r["detector"],
            f"{r['eyes_apart_before']:.2f} → {r['eyes_apart_after']:.2f}",
            f"{r['in_place_before']} → {r['in_place_after']}",
            f"{r['mask_share_before']} → {r['mask_share_after']}",
        )
    Console(stderr=True).print(table)
    if args.sheet and rows:
        columns = ["crop, dlib alone", "crop, eyes checked", "photo", "restored before", "restored now"]
        write_atomic(args.sheet, grid(rows, 160, col_labels=columns, row_labels=labels))
    if args.json_file:
        args.json_file.write_text(json.dumps(summary, indent=1) + "\n")
    else:
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
