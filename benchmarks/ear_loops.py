"""Thin ear loops: how much of them the region `unmask infer` replaces takes in, per Mask G.

    python benchmarks/ear_loops.py ../shared/data/celeb_aligned --mask-models exported/mask_g.onnx NEW/mask_g.onnx \
        [--sheet loops.png] [--json-file benchmarks/results/ear_loops.json]

On every face of DATA wearing every built-in style (aligned as `unmask evaluate` aligns them), thin loops are drawn
from the mask's sides to the ears (`unmask_cli.ear_loops.draw_loops`, seeded by the photo's name and style, so not a
draw the training saw). For each Mask G, with the shipped presence check (`--models`): the share of the loops'
pixels (those outside the style's own mask) inside the region `infer` would replace; the region's IoU with mask and
loops together; the share of the crop outside both that it marks; and, on the same faces without the loops, the
region's IoU with the style's mask (what `unmask evaluate` scores). All Mask Gs run on the same crops in one
process. The loops are drawn, not photographed: real ones are only in the real photos (`benchmarks/real_masks.sh`).
"""

from __future__ import annotations

import json

import numpy as np
from bright_faces import tinted  # sibling scripts (benchmarks/ is on the path when run as above)
from hands import backend_with, model_comparison_args

from unmask_cli import evaluate, metrics, registry, sheets
from unmask_cli.ear_loops import draw_loops
from unmask_cli.images import write_atomic


def looped_cases(cases) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(crops with loops drawn, their targets: mask and loops, the loops alone outside the style's mask)."""
    crops, targets = [], []
    for case in cases:
        image, target = draw_loops(
            case.masked.astype(np.float32) / 255,
            case.mask.astype(np.float32),
            evaluate.style_rng(case.source, f"{case.style}:loops"),
        )
        crops.append(np.round(image * 255).astype(np.uint8))
        targets.append(target > 0)
    targets = np.stack(targets)
    loops = targets & ~np.stack([c.mask > 0 for c in cases])
    return crops, targets, loops


def main() -> None:
    args = model_comparison_args(__doc__, "the first 8 looped crops, each Mask G's region tinted red (PNG)")
    if args.gates:  # the shared command line takes them; loops are Mask G's job, with the shipped check beside it
        raise SystemExit("ear_loops.py compares Mask Gs (--mask-models), not presence checks (--gates)")
    cases = evaluate.make_cases(args.data, registry.names(registry.SYNTHESIZERS), 128, args.limit)
    crops, targets, loops = looped_cases(cases)
    plain_truth = [c.mask > 0 for c in cases]
    report: dict = {"faces": len({c.source for c in cases}), "crops": len(cases), "loop_pixels": int(loops.sum())}
    rows, labels = [], []
    for model in args.mask_models:
        with backend_with(args.models, mask=model) as backend:
            regions = evaluate.replaced_regions(backend, crops, 32)
            plain = evaluate.replaced_regions(backend, [c.masked for c in cases], 32)
        outside = ~targets
        report[str(model)] = {
            "loop_pixels_replaced": float((regions & loops).sum() / max(1, loops.sum())),
            "iou_with_loops": float(np.mean([metrics.iou(r, t) for r, t in zip(regions, targets, strict=True)])),
            "marked_outside": float((regions & outside).sum() / max(1, outside.sum())),
            "iou_without_loops": float(np.mean([metrics.iou(r, t) for r, t in zip(plain, plain_truth, strict=True)])),
        }
        rows.append([tinted(c, r) for c, r in zip(crops[:8], regions[:8], strict=True)])
        labels.append(model.parent.name or str(model))
    print(f"{len(cases)} crops, {int(loops.sum())} loop pixels")
    print(f"{'Mask G':48s} {'loops replaced':>15s} {'IoU with loops':>15s} {'marked outside':>15s} {'IoU plain':>10s}")
    for model in args.mask_models:
        r = report[str(model)]
        print(
            f"{str(model)[-48:]:48s} {r['loop_pixels_replaced']:15.3f} {r['iou_with_loops']:15.3f} "
            f"{r['marked_outside']:15.4f} {r['iou_without_loops']:10.3f}"
        )
    if args.sheet and rows:
        write_atomic(args.sheet, sheets.grid(rows, 128, row_labels=labels))
    if args.json_file:
        args.json_file.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
