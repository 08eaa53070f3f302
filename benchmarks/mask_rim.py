"""Does a thin line of the mask's edge stay around the restored region? With and without `restore.with_rim`.

    python benchmarks/mask_rim.py ../shared/data/masked_real ../shared/data/celeb_aligned [--limit 40] \
        [--sheet docs/mask_rim_sheet.png] > benchmarks/results/mask_rim.txt

A real mask's edge is soft (JPEG, blur, a small face enlarged to the crop) and can reach past the region Mask G
marks (grown by 1 px). For every face restored, the 1-px ring just outside the region is scored: the share of its
pixels that form a line — darker or lighter by more than 10 grey levels than both the fill just inside (≤ 2.5 px)
and the photo just outside (2.5–4.5 px), each averaged over a 5×5 window. On REAL (photos of masked people, any
faces found) and on CASES (faces with drawn masks, as `unmask evaluate` makes them), where the same ring on the
clean face gives the share that skin and outlines alone give. CASES also gives PSNR in the drawn mask and over the
crop. The same Mask G and noise for both ways. `--sheet`: the real faces with the most line without the rim,
masked | without | with, enlarged 3×.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from unmask_cli import evaluate, metrics, registry
from unmask_cli.faces import align
from unmask_cli.images import ImageError, iter_images, read_rgb, write_atomic
from unmask_cli.pipeline import find_faces
from unmask_cli.restore import (
    MIN_MASK_FRACTION,
    binarize,
    crop_noise,
    face_input,
    grey_where_the_photo_is_grey,
    with_rim,
)

LINE_LEVELS = 10.0
WINDOW = np.ones((5, 5), np.float32)


def line_share(image: np.ndarray, hole: np.ndarray) -> float:
    """Share of the 1-px ring outside `hole` that is a line against both sides (uint8 RGB, bool S×S)."""
    grey = image.astype(np.float32).mean(-1)
    inside_d = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    outside_d = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    ring = ~hole & (outside_d <= 1.0)
    sides = []
    for side in (hole & (inside_d <= 2.5), ~hole & (outside_d >= 2.5) & (outside_d <= 4.5)):
        count = cv2.filter2D(side.astype(np.float32), -1, WINDOW)
        mean = cv2.filter2D(grey * side, -1, WINDOW) / np.maximum(count, 1e-6)
        sides.append((grey - mean, count > 0))
    (to_in, has_in), (to_out, has_out) = sides
    scored = ring & has_in & has_out
    line = scored & (
        ((to_in < -LINE_LEVELS) & (to_out < -LINE_LEVELS)) | ((to_in > LINE_LEVELS) & (to_out > LINE_LEVELS))
    )
    return float(line.sum() / max(scored.sum(), 1))


def restore_both(backend, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(holes, restored without the rim, restored with it) for uint8 crops."""
    x = crops.astype(np.float32) / 127.5 - 1
    holes = binarize(backend.mask_fn(x), backend.threshold)
    generated = grey_where_the_photo_is_grey(backend.face_fn(face_input(x, holes, crop_noise(x))), x, holes)
    rim = with_rim(holes)

    def uint8(a):
        return ((a + 1) * 127.5).clip(0, 255).round().astype(np.uint8)

    return holes[..., 0] > 0, uint8(generated * holes + x * (1 - holes)), uint8(generated * rim + x * (1 - rim))


def real_crops(folder: Path) -> list[np.ndarray]:
    crops = []
    for path in iter_images([folder]):
        try:
            rgb = read_rgb(path)
        except ImageError:
            continue
        crops += [align(rgb, face.landmarks, 128)[0] for face in find_faces(rgb)]
    return crops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("real", type=Path)
    ap.add_argument("cases", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="first N faces of CASES")
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--sheet", type=Path, default=None, help="PNG of the 8 real faces with the most line")
    args = ap.parse_args()
    backend = registry.open_backend("onnxruntime", models_dir=args.models)

    crops = real_crops(args.real)
    shares: dict[str, list[float]] = {"without rim": [], "with rim": []}
    triples = []
    for start in range(0, len(crops), 16):
        chunk = crops[start : start + 16]
        holes, plain, rimmed = restore_both(backend, np.stack(chunk))
        for crop, hole, a, b in zip(chunk, holes, plain, rimmed, strict=True):
            if hole.mean() >= MIN_MASK_FRACTION:
                shares["without rim"].append(line_share(a, hole))
                shares["with rim"].append(line_share(b, hole))
                triples.append(np.concatenate([crop, a, b], 1))
    print(f"{args.real}: {len(shares['with rim'])} faces restored; share of the ring that is a line")
    for name, values in shares.items():
        v = np.array(values)
        print(f"  {name:12s} median {np.median(v):.3f}  p90 {np.percentile(v, 90):.3f}  over 0.2: {(v > 0.2).sum()}")

    if args.sheet:
        worst = np.argsort(shares["without rim"])[::-1][: min(8, len(triples) // 2 * 2)]  # rows of two
        sheet = np.concatenate(
            [np.concatenate([triples[i] for i in worst[k : k + 2]], 1) for k in range(0, len(worst), 2)]
        )
        write_atomic(args.sheet, cv2.resize(sheet, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST))

    cases = evaluate.make_cases(args.cases, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    rows: dict[str, list[tuple[float, float, float]]] = {"without rim": [], "with rim": [], "clean face": []}
    for start in range(0, len(cases), 16):
        chunk = cases[start : start + 16]
        holes, plain, rimmed = restore_both(backend, np.stack([c.masked for c in chunk]))
        for case, hole, a, b in zip(chunk, holes, plain, rimmed, strict=True):
            for name, out in (("without rim", a), ("with rim", b), ("clean face", case.clean)):
                truth = case.mask > 0
                rows[name].append(
                    (metrics.psnr(out, case.clean, truth), metrics.psnr(out, case.clean), line_share(out, hole))
                )
    print(f"{args.cases}: {len(cases)} cases; PSNR in the drawn mask, over the crop; share of the ring that is a line")
    for name, values in rows.items():
        v = np.array(values)
        psnr = "" if name == "clean face" else f"PSNR mask {v[:, 0].mean():.3f}  crop {v[:, 1].mean():.3f}  "
        print(f"  {name:12s} {psnr}line median {np.median(v[:, 2]):.3f}")


if __name__ == "__main__":
    main()
