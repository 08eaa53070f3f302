"""Does the restored region carry the photo's grain? With and without `grain.regrain` (pipeline.REGRAIN).

    python benchmarks/grain.py ../shared/data/celeb_aligned [--limit 20] [--scales 1 2 4] [--noise 4] \
        [--sheet docs/grain_sheet.png] > benchmarks/results/grain.json

Every face of DATA wears every built-in style (as `unmask evaluate` draws them); the masked and the clean photo
are enlarged `scale` times (a bigger face than the 128² crop, as from a phone camera), given the same sensor noise
(luminance sigma `--noise` grey levels, plus a third of it per channel) and saved as JPEG at quality 90, as a camera
would. `unmask infer`'s pipeline restores the masked photo both ways. Inside the drawn mask (eroded by 2% of the
photo's side, away from the blend): the grain (robust sigma of the detail finer than 1 px, `grain.grain_level`) of
the output over the clean photo's — 1.0 is the photo's own grain — and PSNR against the clean photo. `--sheet`:
the worst-matched faces at the largest scale, clean | without | with, around the mask's top edge.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from unmask_cli import grain, metrics, pipeline, registry
from unmask_cli.evaluate import first_face, style_rng
from unmask_cli.images import ImageError, iter_images, write_atomic
from unmask_cli.pipeline import Unmasker
from unmask_cli.sheets import grid


def photographed(rgb: np.ndarray, scale: int, noise: float, seed: int) -> np.ndarray:
    """`rgb` enlarged `scale` times, with sensor noise, through a JPEG at quality 90."""
    big = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    rng = np.random.default_rng(seed)
    big += rng.normal(0, noise, big.shape[:2])[..., None] + rng.normal(0, noise / 3, big.shape)
    big = np.clip(big, 0, 255).round().astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--models", type=Path, default=Path("exported"))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--noise", type=float, default=4.0)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    unmasker = Unmasker(args.models, workers=1)
    styles = registry.names(registry.SYNTHESIZERS)
    faces = []
    for path in list(iter_images([args.data]))[: args.limit]:
        try:
            faces.append((path, *first_face(path)))
        except ImageError:
            continue
    result = {"data": str(args.data), "faces": len(faces), "styles": styles, "noise": args.noise, "scales": {}}
    sheet_rows = []
    for scale in args.scales:
        figures = {False: {"grain": [], "psnr": []}, True: {"grain": [], "psnr": []}}
        worst = []
        for k, (path, rgb, face) in enumerate(track(faces, description=f"×{scale}", transient=True)):
            for style in styles:
                masked, mask = registry.load_synthesizer(style)(rgb, face.landmarks, style_rng(path.name, style))
                seed = k * 100 + styles.index(style)
                clean_big = photographed(rgb, scale, args.noise, seed)
                masked_big = photographed(masked, scale, args.noise, seed)
                region = cv2.resize(mask.astype(np.uint8), clean_big.shape[1::-1], interpolation=cv2.INTER_NEAREST)
                erode = max(1, round(0.02 * clean_big.shape[0]))
                region = cv2.erode(region, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)) > 0
                truth_grain = grain.grain_level(cv2.cvtColor(clean_big.astype(np.float32), cv2.COLOR_RGB2GRAY), region)
                outputs = {}
                for on in (False, True):
                    pipeline.REGRAIN = on
                    out, _ = unmasker.restore_photo(masked_big)
                    outputs[on] = out
                    out_grain = grain.grain_level(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_RGB2GRAY), region)
                    figures[on]["grain"].append(out_grain / truth_grain)
                    figures[on]["psnr"].append(metrics.psnr(out, clean_big, region))
                worst.append((figures[False]["grain"][-1], clean_big, outputs, region))
        pipeline.REGRAIN = True
        result["scales"][str(scale)] = {
            ("with" if on else "without"): {
                "grain_ratio_median": round(float(np.median(f["grain"])), 3),
                "grain_ratio_p10": round(float(np.percentile(f["grain"], 10)), 3),
                "psnr_mask": round(float(np.mean(f["psnr"])), 3),
            }
            for on, f in figures.items()
        }
        if scale == max(args.scales):
            for _, clean, outputs, region in sorted(worst, key=lambda w: w[0])[:6]:
                ys, xs = np.nonzero(region)
                top, cx, half = int(ys.min()), int(xs.mean()), clean.shape[0] // 8
                y0, x0 = max(top - half, 0), max(cx - half, 0)
                box = (slice(y0, y0 + 2 * half), slice(x0, x0 + 2 * half))
                sheet_rows.append([clean[box], outputs[False][box], outputs[True][box]])
    if args.sheet and sheet_rows:
        write_atomic(args.sheet, grid(sheet_rows, 256, col_labels=["clean photo", "without grain", "with grain"]))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
