"""Where Face G's error in the mask region comes from: colour, low frequencies, or noise it could average away.

    python benchmarks/face_error_sources.py ../shared/data/celeb_aligned --limit 40

On every face of DATA × every built-in style (as `unmask evaluate`), with the shipped models, prints PSNR in the
drawn mask and the texture ratio for: the fill as shipped; two oracles that borrow from the truth — its mean colour
in the region, or its low frequencies (Gaussian σ 4 px) under the fill's detail — which bound what colour
correction or a better guess of the face's shape could gain; and fills averaged over a mirror and 4 noise draws.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from unmask_cli import evaluate, metrics, registry
from unmask_cli.restore import binarize, face_input, grey_where_the_photo_is_grey


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--models", type=Path, default=Path("exported"))
    args = ap.parse_args()
    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    backend = registry.open_backend("onnxruntime", models_dir=args.models)
    rng = np.random.default_rng(0)
    scores: dict[str, list[tuple[float, float]]] = {}

    def fill(x, hole, mirror=False):
        if mirror:
            x, hole = x[:, :, ::-1].copy(), hole[:, :, ::-1].copy()
        noise = rng.uniform(-1.0, 1.0, x.shape).astype(np.float32)
        out = grey_where_the_photo_is_grey(backend.face_fn(face_input(x, hole, noise)), x, hole)
        return out[:, :, ::-1] if mirror else out

    def low(image):
        return cv2.GaussianBlur(image, (0, 0), 4)

    for start in range(0, len(cases), 16):
        chunk = cases[start : start + 16]
        x = np.stack([c.masked for c in chunk]).astype(np.float32) / 127.5 - 1
        hole = binarize(backend.mask_fn(x))
        shipped = fill(x, hole)
        variants = {
            "shipped": shipped,
            "mirror average": (shipped + fill(x, hole, mirror=True)) / 2,
            "4 noise x mirror average": np.mean(
                [shipped] + [fill(x, hole) for _ in range(3)] + [fill(x, hole, mirror=True) for _ in range(4)], 0
            ),
        }
        for i, case in enumerate(chunk):
            truth, clean, region = case.mask > 0, case.clean.astype(np.float32) / 255, hole[i, ..., 0] > 0
            outs = {k: np.clip((v[i] * hole[i] + x[i] * (1 - hole[i]) + 1) / 2, 0, 1) for k, v in variants.items()}
            base = outs["shipped"]
            shifted = base.copy()
            shifted[region] += clean[region].mean(0) - base[region].mean(0)
            outs["oracle: truth's mean colour"] = np.clip(shifted, 0, 1)
            swapped = base.copy()
            swapped[region] = (base - low(base) + low(clean))[region]
            outs["oracle: truth's low frequencies"] = np.clip(swapped, 0, 1)
            for name, out in outs.items():
                scores.setdefault(name, []).append(
                    (metrics.psnr(out, clean, truth), metrics.texture_ratio(out, clean, truth))
                )
    for name, rows in scores.items():
        table = np.array(rows)
        print(f"{name:34s} PSNR mask {table[:, 0].mean():6.2f}  texture {np.nanmedian(table[:, 1]):.3f}")


if __name__ == "__main__":
    main()
