"""What a perfectly real but wrong lower face scores: each face's mask region filled with another person's.

    python benchmarks/other_face_floor.py ../shared/data/celeb_aligned

Every face of DATA × every built-in style (as `unmask evaluate`); the drawn mask's pixels come from another face of
DATA (the same alignment; colour matched to this face's skin by mean and spread in the region, so only the shape
differs). Printed: PSNR and SSIM in the mask, identity distance — the figures a generator reaches when it paints a
real face that is not the person's, for reading the bars of `unmask evaluate` against.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from unmask_cli import evaluate, metrics, registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    faces = {c.source: c.clean for c in cases}
    names = sorted(faces)
    rng = np.random.default_rng(args.seed)
    rows = {"another face": [], "another face, colour matched": []}
    for case in cases:
        donor = faces[names[(names.index(case.source) + rng.integers(1, len(names))) % len(names)]]
        truth = case.mask > 0
        plain = case.clean.copy()
        plain[truth] = donor[truth]
        own, other = case.clean[truth].astype(np.float32), donor[truth].astype(np.float32)
        matched = case.clean.copy()
        matched[truth] = np.clip((other - other.mean(0)) / (other.std(0) + 1e-6) * own.std(0) + own.mean(0), 0, 255)
        for name, out in (("another face", plain), ("another face, colour matched", matched)):
            rows[name].append(
                (
                    metrics.psnr(out, case.clean, truth),
                    metrics.ssim(out, case.clean, truth),
                    metrics.texture_ratio(out, case.clean, truth),
                    evaluate.identity_distance(out, case),
                )
            )
    for name, values in rows.items():
        t = np.array(values)
        print(
            f"{name:30s} PSNR mask {t[:, 0].mean():.2f}  SSIM mask {t[:, 1].mean():.3f}  "
            f"texture {np.nanmedian(t[:, 2]):.3f}  identity {t[:, 3].mean():.3f}  ({len(t)} cases)"
        )


if __name__ == "__main__":
    main()
