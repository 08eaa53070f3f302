"""Over-exposed faces: how often `unmask infer` paints over a bare face in bright light, and still finds masks in it.

    python benchmarks/bright_faces.py ../shared/data/celeb_aligned --gates exported/mask_gate.onnx NEW/mask_gate.onnx \
        [--sheet docs/bright_faces_sheet.png] [--json-file benchmarks/results/bright_faces.json]
    python benchmarks/bright_faces.py ../shared/data/celeb_aligned --mask-models exported/mask_g.onnx NEW/mask_g.onnx

On every face of DATA (aligned as `unmask evaluate` aligns them), bare and wearing each built-in style, at several
exposures: the photo's sRGB turned to linear light, multiplied by the gain and turned back, clipped to white (+1,
+1.5 and +2 stops; sun, snow, flash). This is a camera's exposure, not `unmask train --bright-light`'s gamma and
gain, so a check trained with that option is not scored on its own draw. For each presence check, with the shipped
Mask G beside it (`--models`): the share of crops whose restoration `infer` would paste (the rule of
`evaluate.pasted_share`). `--mask-models`: for each Mask G, with the shipped presence check, the IoU of the region
`infer` would replace with the drawn mask, per style and exposure. All models run on the same crops in one process.
`--sheet`: the first 10 bare faces at each exposure, what the first check (top) and the last (bottom) would replace
tinted red.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hands import backend_with, model_comparison_args  # a sibling script (benchmarks/ is on the path when run as above)

from unmask_cli import evaluate, metrics, registry, sheets
from unmask_cli.images import write_atomic

GAINS = (1.0, 2.0, 2.8, 4.0)  # linear-light exposure: 0, +1, +1.5 and +2 stops


def expose(rgb: np.ndarray, gain: float) -> np.ndarray:
    """uint8 sRGB `rgb` with its exposure multiplied by `gain` in linear light, clipped to white."""
    x = rgb.astype(np.float32) / 255
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * gain
    linear = np.clip(linear, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(np.uint8)


def tinted(crop: np.ndarray, region: np.ndarray) -> np.ndarray:
    out = crop.astype(np.float32)
    out[region] = 0.45 * out[region] + 0.55 * np.array([255, 0, 0])
    return out.astype(np.uint8)


def gate_shares(args, exposed: dict) -> dict:
    """Per presence check and exposure: the share of bare and of masked crops `infer` would paint over."""
    results, shown = {}, {}
    for gate in args.gates:
        scores = {}
        with backend_with(args.models, gate=gate) as backend:
            for gain, (crops, masked) in exposed.items():
                scores[f"bare x{gain:g}"] = evaluate.pasted_share(backend, crops, 32)
                scores[f"masked x{gain:g}"] = evaluate.pasted_share(backend, masked, 32)
                if args.sheet and gate in (args.gates[0], args.gates[-1]):
                    regions = evaluate.replaced_regions(backend, crops[:10], 32)
                    shown[(str(gate), gain)] = [tinted(c, r) for c, r in zip(crops[:10], regions, strict=True)]
        results[str(gate)] = scores
    crops, masked = exposed[GAINS[0]]
    print(f"{len(crops)} faces, {len(masked)} masked crops; share that infer would paint over")
    kinds = list(next(iter(results.values())))
    print(f"{'gate':48s} " + " ".join(f"{k:>11s}" for k in kinds))
    for gate, scores in results.items():
        print(f"{gate[-48:]:48s} " + " ".join(f"{scores[k]:11.3f}" for k in kinds))
    if args.sheet:
        rows, labels = [], []
        for gain in GAINS:
            for gate in dict.fromkeys((str(args.gates[0]), str(args.gates[-1]))):
                rows.append(shown[(gate, gain)])
                labels.append(f"x{gain:g} {Path(gate).parent.name or gate}"[:18])
        write_atomic(args.sheet, sheets.grid(rows, 96, row_labels=labels))
    return results


def mask_ious(args, cases, exposed: dict) -> dict:
    """Per Mask G and exposure: the IoU of the region `infer` would replace (largest piece, grown 1 px; empty where
    the shipped presence check finds no mask) with the drawn mask, per style."""
    results = {}
    for model in args.mask_models:
        scores = {}
        with backend_with(args.models, mask=model) as backend:
            for gain, (_, masked) in exposed.items():
                regions = evaluate.replaced_regions(backend, masked, 32)
                per_style: dict[str, list[float]] = {}
                for case, region in zip(cases, regions, strict=True):
                    per_style.setdefault(case.style, []).append(metrics.iou(region, case.mask > 0))
                scores[f"x{gain:g}"] = {style: float(np.mean(v)) for style, v in per_style.items()}
        results[str(model)] = scores
    print(f"{len(cases)} masked crops; region IoU per exposure (mean over styles; lowest style)")
    print(f"{'Mask G':48s} " + " ".join(f"{'x' + format(g, 'g'):>20s}" for g in GAINS))
    for model, scores in results.items():
        cells = []
        for per_style in scores.values():
            low = min(per_style, key=per_style.get)
            cells.append(f"{np.mean(list(per_style.values())):.3f} ({low} {per_style[low]:.3f})")
        print(f"{model[-48:]:48s} " + " ".join(f"{c:>20s}" for c in cells))
    return results


def main() -> None:
    args = model_comparison_args(__doc__, "bare faces at each exposure, replaced region in red")

    styles = registry.names(registry.SYNTHESIZERS)
    cases = evaluate.make_cases(args.data, styles, 128, args.limit)
    bare = list({c.source: c.clean for c in cases}.values())
    # every crop at every exposure, made once for all the models compared (4 × 1,168 crops of 128²: ~230 MB)
    exposed = {gain: ([expose(f, gain) for f in bare], [expose(c.masked, gain) for c in cases]) for gain in GAINS}
    report = {"faces": len(bare), "masked_crops": len(cases), "gains": list(GAINS)}
    if args.gates:
        report["gates"] = gate_shares(args, exposed)
    if args.mask_models:
        report["mask_models"] = mask_ious(args, cases, exposed)
    if args.json_file:
        args.json_file.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
