"""Score Face G candidates on an outside face set before exporting any: GPU runs' weights and their averages.

    python benchmarks/gpu/score_face_candidates.py ../shared/data/celeb_aligned shipped RUN RUN@0.2 [--limit 40]

Each candidate is `shipped` (exported/face_g.onnx), a folder of `train_face_jax.py` weights (weights_*.npz), an
`unmask train face` run (its folder or its face_g.weights.h5), or
FOLDER@W: W × the folder's weights + (1 − W) × the shipped model's (a "model soup"; same architecture); several
joined by '+' average several runs with the shipped model; a lone run of another width (a GPU run's weights or a CPU
run, rebuilt from its run.json as `unmask export` does) is scored in a Face G of its own width. Every face
of DATA wears every built-in style (as `unmask evaluate`), the shipped Mask G finds the region, each candidate fills
it with the same noise; printed: PSNR and SSIM in the drawn mask, texture ratio (median), identity distance — the
figures `unmask evaluate` reports, without exporting each candidate first. `--lit`: every case (the face with and
without its mask alike) lit by coloured, dim or one-sided light (`pipelines._harsh_light`, seeded by photo and
style, not training's seeds): does the fill take the photo's light? `--by-pose`: the figures again for the frontal
and the turned faces apart (|head turn| >= pipelines.TURNED, from each face's landmarks). `--wide PX`: every mask
made to stand out PX px past its sides and PX/2 below (as some real masks stand out past the cheeks and jaw), the
new rim in the colour of the nearest fabric 3 px inside the mask; scored in that wider region. `--busy R`: also
the share of fills with more than R × their truth's texture (the median hides such a tail: stubble on smooth skin).
`--by-sex`: the figures again for women and men apart, read from UTKFace's file names (stubble on a woman's fill).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


from unmask_cli import evaluate, export, models, pipelines, registry
from unmask_cli.faces import head_turn
from unmask_cli.onnx_weights import base_width, load_onnx_weights
from unmask_cli.weight_chunks import load_chunks


def ingredient(path: Path, model) -> list[np.ndarray]:
    """A GPU run's folder of weights_*.npz, or a CPU run's face_g.weights.h5 or its run folder (loaded into a copy
    of `model`)."""
    if path.is_dir() and (path / "face_g.weights.h5").is_file():
        path = path / "face_g.weights.h5"
    if path.suffix != ".h5":
        chunks = load_chunks(path)
        if len(chunks) != len(model.get_weights()):
            raise SystemExit(f"{path}: not a Face G of this width (no weights_*.npz or face_g.weights.h5 for it)")
        return chunks
    import keras

    copy = keras.models.clone_model(model)
    copy.load_weights(path)
    return copy.get_weights()


def candidate_weights(spec: str, shipped: list[np.ndarray], model) -> list[np.ndarray]:
    """`shipped`, FOLDER, FOLDER@W, or several joined by '+' (FOLDER@W+FOLDER@W: the shipped model keeps the rest)."""
    if spec == "shipped":
        return shipped
    total = [np.zeros_like(s) for s in shipped]
    left = 1.0
    for part in spec.split("+"):
        folder, _, share = part.partition("@")
        share_f = float(share or 1.0)
        left -= share_f
        total = [t + share_f * w for t, w in zip(total, ingredient(Path(folder), model), strict=True)]
    return [t + left * s for t, s in zip(total, shipped, strict=True)]


def candidate(spec: str, shipped_model, shipped: list[np.ndarray], size: int) -> tuple:
    """The model and weights to score for `spec`: the shipped model's architecture with `candidate_weights`, or, for
    a lone run (a GPU run's weights_*.npz, or a CPU run's folder or its face_g.weights.h5), the run's own weights, in
    a new Face G of its width when that is not the shipped model's (averages need the shipped model's width)."""
    folder = Path(spec)
    run_dir = folder.parent if folder.suffix == ".h5" else folder
    lone = "@" not in spec and "+" not in spec and spec != "shipped"
    model = None
    if lone and list(folder.glob("weights_*.npz")):
        weights = load_chunks(folder)  # loaded once, nothing averaged
    elif lone and (run_dir / "run.json").is_file():
        model, _ = export.load_run(run_dir, "face")  # a Face G of the width its run.json names
        weights = model.get_weights()
    else:
        return shipped_model, candidate_weights(spec, shipped, shipped_model)
    width = int(weights[0].shape[-1])  # the first convolution's filters
    if width == shipped[0].shape[-1]:
        return shipped_model, weights
    return model or models.face_g(size, width), weights


SEXES = ("men", "women")  # UTKFace's gender field: 0, 1


def utkface_sex(name: str) -> str | None:
    """'women' or 'men' from a UTKFace file name (AGE_GENDER_RACE_DATE.jpg), None for any other name: the stubble
    Face G may paint is judged on women's fills, where the truth has none."""
    match = re.match(r"\d+_([01])_", Path(name).name)
    return SEXES[int(match.group(1))] if match else None


def lit(case: evaluate.Case) -> evaluate.Case:
    """`case` with its clean and masked face lit alike by a harsh light drawn from its photo's name and style."""
    import tensorflow as tf

    seed = tf.constant([zlib.crc32(case.source.encode()), zlib.crc32(case.style.encode())], tf.int64)
    masked, clean = (tf.constant(x, tf.float32) / 255.0 for x in (case.masked, case.clean))
    masked, clean = pipelines._harsh_light(masked, clean, seed, 1.0)
    masked, clean = (np.round(t.numpy() * 255).astype(np.uint8) for t in (masked, clean))
    return dataclasses.replace(case, masked=masked, clean=clean, clean_descriptor=None)


def widened(case: evaluate.Case, px: int) -> evaluate.Case:
    """`case` with its mask `px` px wider on each side and `px` // 2 longer, each new pixel in the colour of the
    nearest pixel 3 px inside the drawn mask (fabric carried outward, over its blended edge too), the mask grown to
    match."""
    mask = (case.mask > 0).astype(np.uint8)
    side = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * px + 1, 1)))
    down = np.zeros_like(side)
    down[px // 2 :] = side[: len(side) - px // 2]
    wide = np.maximum(side, down)
    inner = cv2.erode(mask, np.ones((7, 7), np.uint8))  # the drawn mask's edge is blended with the skin
    inner = inner if inner.any() else mask
    _, labels = cv2.distanceTransformWithLabels(1 - inner, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(inner)
    nearest = np.zeros((labels.max() + 1, 2), np.intp)
    nearest[labels[ys, xs]] = np.stack([ys, xs], 1)  # each mask pixel's label → its position
    new = (wide > 0) & (inner == 0)
    masked = case.masked.copy()
    masked[new] = case.masked[tuple(nearest[labels[new]].T)]
    return dataclasses.replace(case, masked=masked, mask=wide)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("candidates", nargs="+")
    ap.add_argument("--limit", type=int, default=None, help="first N photos only")
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--lit", action="store_true", help="light every case harshly (colour cast, dim, one-sided)")
    ap.add_argument("--by-pose", action="store_true", help="also score frontal and turned faces apart")
    ap.add_argument("--wide", type=int, default=0, help="masks standing out PX px past the face's sides")
    ap.add_argument("--busy", type=float, default=0.0, help="also print the share of fills with texture > R × truth's")
    ap.add_argument("--by-sex", action="store_true", help="also score women and men apart (UTKFace file names)")
    args = ap.parse_args()

    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    turned = [abs(head_turn(case.landmarks)) >= pipelines.TURNED for case in cases]
    sexes = [utkface_sex(case.source) for case in cases]
    if args.lit:
        cases = [lit(case) for case in cases]
    if args.wide:
        cases = [widened(case, args.wide) for case in cases]
    # the shipped backend, its Face G swapped for each candidate: `unmask evaluate`'s own restore and scoring
    backend = registry.open_backend("onnxruntime", models_dir=args.models)
    shipped_model = models.face_g(backend.input_size, base_width(args.models / "face_g.onnx"))
    load_onnx_weights(shipped_model, args.models / "face_g.onnx")
    shipped = shipped_model.get_weights()
    for spec in args.candidates:
        model, weights = candidate(spec, shipped_model, shipped, backend.input_size)
        model.set_weights(weights)
        backend.face_fn = lambda x, model=model: model.predict(x, verbose=0)
        scores = evaluate.score(cases, backend)
        groups = {"": scores.rows}
        if args.by_pose:
            groups |= {
                " frontal": [r for r, t in zip(scores.rows, turned, strict=True) if not t],
                " turned": [r for r, t in zip(scores.rows, turned, strict=True) if t],
            }
        if args.by_sex:
            groups |= {f" {sex}": [r for r, x in zip(scores.rows, sexes, strict=True) if x == sex] for sex in SEXES}
        for label, rows in groups.items():
            s = dataclasses.replace(scores, rows=rows).summary()
            # the median texture hides a tail of fills far busier than their truth (stubble on a smooth face)
            ratios = np.array([r["texture_ratio"] for r in rows], float)
            busy = f"  busy>{args.busy:g} {np.mean(ratios[~np.isnan(ratios)] > args.busy):.1%}" if args.busy else ""
            print(
                f"{spec + label:40s} psnr {s['psnr_masked']:.2f}  ssim {s['ssim_masked']:.3f}"
                f"  texture {s['texture_ratio']:.3f}  identity {s['identity_distance']:.3f}{busy}"
                f"  ({s['faces']} cases)",
                flush=True,
            )


if __name__ == "__main__":
    main()
