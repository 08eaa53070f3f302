"""Where Face G's error in the mask region comes from: colour, low frequencies, or noise it could average away.

    python benchmarks/face_error_sources.py ../shared/data/celeb_aligned --limit 40
    python benchmarks/face_error_sources.py ../shared/data/celeba_small --limit 40 --sigma 3 --exposure 1.5

On every face of DATA × every built-in style (as `unmask evaluate`), with the shipped models, prints PSNR in the
drawn mask and the texture ratio for: the fill as shipped; three oracles that borrow from the truth — its mean
colour in the region, its low frequencies (Gaussian σ `--sigma` px) under the fill's detail, or its detail over the
fill's low frequencies — which bound what colour correction, a better guess of the face's shape, or better detail
could gain; and fills averaged over a mirror and 4 noise draws. `--exposure STOPS` first over-exposes every masked
crop and its truth alike, as `bright_faces.py` does (linear light, clipped), to see where a bright face's loss sits;
a control then scores the fill of the photo as it was, exposed afterwards: the same mistakes, seen in brighter light.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from bright_faces import expose  # a sibling script (benchmarks/ is on the path when run as above)

from unmask_cli import evaluate, metrics, registry
from unmask_cli.restore import binarize, face_input, grey_where_the_photo_is_grey


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--sigma", type=float, default=4.0, help="the low band's Gaussian, px at 128² (default 4)")
    ap.add_argument("--exposure", type=float, default=0.0, help="stops of over-exposure for every crop (default 0)")
    args = ap.parse_args()
    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    gain = 2.0**args.exposure
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
        return cv2.GaussianBlur(image, (0, 0), args.sigma)

    for start in range(0, len(cases), 16):
        chunk = cases[start : start + 16]
        x = np.stack([expose(c.masked, gain) for c in chunk]).astype(np.float32) / 127.5 - 1
        hole = binarize(backend.mask_fn(x))
        shipped = fill(x, hole)
        variants = {
            "shipped": shipped,
            "mirror average": (shipped + fill(x, hole, mirror=True)) / 2,
            "4 noise x mirror average": np.mean(
                [shipped] + [fill(x, hole) for _ in range(3)] + [fill(x, hole, mirror=True) for _ in range(4)], 0
            ),
        }
        if gain != 1.0:  # control: the fill of the photo as it was, exposed afterwards with the rest of the photo
            x0 = np.stack([c.masked for c in chunk]).astype(np.float32) / 127.5 - 1
            hole0 = binarize(backend.mask_fn(x0))
            as_was = np.clip((fill(x0, hole0) * hole0 + x0 * (1 - hole0) + 1) * 127.5, 0, 255).round().astype(np.uint8)
        for i, case in enumerate(chunk):
            clean = expose(case.clean, gain).astype(np.float32) / 255
            truth, region = case.mask > 0, hole[i, ..., 0] > 0
            outs = {k: np.clip((v[i] * hole[i] + x[i] * (1 - hole[i]) + 1) / 2, 0, 1) for k, v in variants.items()}
            base = outs["shipped"]
            shifted = base.copy()
            shifted[region] += clean[region].mean(0) - base[region].mean(0)
            outs["oracle: truth's mean colour"] = np.clip(shifted, 0, 1)
            swapped = base.copy()
            swapped[region] = (base - low(base) + low(clean))[region]
            outs["oracle: truth's low frequencies"] = np.clip(swapped, 0, 1)
            detailed = base.copy()
            detailed[region] = (low(base) + clean - low(clean))[region]
            outs["oracle: truth's detail"] = np.clip(detailed, 0, 1)
            if gain != 1.0:
                outs["control: fill as it was, exposed"] = expose(as_was[i], gain).astype(np.float32) / 255
            for name, out in outs.items():
                scores.setdefault(name, []).append(
                    (metrics.psnr(out, clean, truth), metrics.texture_ratio(out, clean, truth))
                )
    for name, rows in scores.items():
        table = np.array(rows)
        print(f"{name:34s} PSNR mask {table[:, 0].mean():6.2f}  texture {np.nanmedian(table[:, 1]):.3f}")


if __name__ == "__main__":
    main()
