"""Score Face G candidates on an outside face set before exporting any: GPU runs' weights and their averages.

    python benchmarks/gpu/score_face_candidates.py ../shared/data/celeb_aligned shipped RUN RUN@0.2 [--limit 40]

Each candidate is `shipped` (exported/face_g.onnx), a folder of `train_face_jax.py` weights (weights_*.npz) or a
`unmask train face` run's face_g.weights.h5, or
FOLDER@W: W × the folder's weights + (1 − W) × the shipped model's (a "model soup"; same architecture); several
joined by '+' average several runs with the shipped model. Every face
of DATA wears every built-in style (as `unmask evaluate`), the shipped Mask G finds the region, each candidate fills
it with the same noise; printed: PSNR and SSIM in the drawn mask, texture ratio (median), identity distance — the
figures `unmask evaluate` reports, without exporting each candidate first.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from import_run import load_chunks

from unmask_cli import evaluate, metrics, models, registry
from unmask_cli.onnx_weights import load_onnx_weights
from unmask_cli.restore import binarize


def ingredient(path: Path, model) -> list[np.ndarray]:
    """A GPU run's folder of weights_*.npz, or a CPU run's face_g.weights.h5 (loaded into a copy of `model`)."""
    if path.suffix != ".h5":
        return load_chunks(path)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("candidates", nargs="+")
    ap.add_argument("--limit", type=int, default=None, help="first N photos only")
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--width", type=int, default=32, help="Face G's base width (the shipped model's: 32)")
    args = ap.parse_args()

    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    backend = registry.open_backend("onnxruntime", models_dir=args.models)  # its Mask G finds every hole
    shipped_model = models.face_g(backend.input_size, args.width)
    load_onnx_weights(shipped_model, args.models / "face_g.onnx")
    shipped = shipped_model.get_weights()
    batches = []
    for start in range(0, len(cases), 16):
        x = np.stack([c.masked for c in cases[start : start + 16]]).astype(np.float32) / 127.5 - 1
        batches.append((x, binarize(backend.mask_fn(x))))
    for spec in args.candidates:
        shipped_model.set_weights(candidate_weights(spec, shipped, shipped_model))
        rng = np.random.default_rng(0)
        rows, k = [], 0
        for x, hole in batches:
            noise = rng.uniform(-1, 1, x.shape).astype(np.float32)
            raw = shipped_model.predict(np.concatenate([x * (1 - hole) + noise * hole, hole], -1), verbose=0)
            out = np.clip((raw * hole + x * (1 - hole) + 1) * 127.5, 0, 255).round().astype(np.uint8)
            for restored in out:
                case, truth = cases[k], cases[k].mask > 0
                k += 1
                rows.append(
                    (
                        metrics.psnr(restored, case.clean, truth),
                        metrics.ssim(restored, case.clean, truth),
                        metrics.texture_ratio(restored, case.clean, truth),
                        evaluate.identity_distance(restored, case),
                    )
                )
        t = np.array(rows)
        print(
            f"{spec:40s} psnr {t[:, 0].mean():.2f}  ssim {t[:, 1].mean():.3f}  texture {np.nanmedian(t[:, 2]):.3f}"
            f"  identity {t[:, 3].mean():.3f}  ({len(rows)} cases)",
            flush=True,
        )


if __name__ == "__main__":
    main()
