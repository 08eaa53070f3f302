"""Hands held to the mouth: how often `unmask infer` paints over one, and whether it paints over fingers in front of
a mask.

    python benchmarks/hands.py ../shared/data/celeb_aligned --gates exported/mask_gate.onnx NEW/mask_gate.onnx
    python benchmarks/hands.py ../shared/data/celeb_aligned --mask-models exported/mask_g.onnx NEW/mask_g.onnx

On every face of DATA (aligned as `unmask evaluate` aligns them), drawn hands (`unmask_cli.occluders.draw_hand`,
seeded by the photo's name and style, so not a draw the training saw). `--gates`: for each presence check, with
the shipped Mask G beside it (`--models`), the share of bare crops, of bare crops with a hand over the mouth and of
crops wearing each built-in style whose restoration `infer` would paste (the rule of
`evaluate.pasted_share`). `--mask-models`: for each Mask G, with the shipped presence check, on every face
wearing every style with a hand drawn in front of the mask: the share restored, and among those the share of the
fingers over the mask that would be painted over and of the mask around them that would be replaced; and Mask G's
IoU on the same faces without the hand. All candidates run on the same crops in one process. The hands are drawn,
not photographed: real hands are only in the real photos (`benchmarks/real_masks.sh`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from unmask_cli import evaluate, metrics, occluders, registry, sheets
from unmask_cli.export import FACE_FILE, GATE_FILE, MASK_FILE
from unmask_cli.images import write_atomic
from unmask_cli.restore import MIN_MASK_FRACTION


@contextlib.contextmanager
def backend_with(models: Path, mask: Path | None = None, gate: Path | None = None):
    """The onnxruntime backend over a copy of `models` with its Mask G or presence check swapped."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, swap in ((MASK_FILE, mask), (FACE_FILE, None), (GATE_FILE, gate)):
            shutil.copy(swap or models / name, Path(tmp) / name)
        yield registry.open_backend("onnxruntime", models_dir=Path(tmp))


def gate_shares(args, cases, styles) -> dict:
    clean = {c.source: c.clean for c in cases}
    handed = [
        occluders.draw_hand(face.astype(np.float32) / 255, evaluate.style_rng(name, "hand"))[0] * 255
        for name, face in clean.items()
    ]
    handed = [np.round(h).astype(np.uint8) for h in handed]
    if args.sheet:
        write_atomic(args.sheet, sheets.grid([handed[i : i + 8] for i in range(0, 24, 8)]))
    kinds = {"bare": list(clean.values()), "hand": handed}
    kinds.update({f"mask:{s}": [c.masked for c in cases if c.style == s] for s in styles})
    results = {}
    for gate in args.gates:
        with backend_with(args.models, gate=gate) as backend:
            results[str(gate)] = {kind: evaluate.pasted_share(backend, crops, 32) for kind, crops in kinds.items()}
    print(f"{len(clean)} faces; share that infer would paint over")
    print(f"{'gate':60s} {'bare':>6s} {'hand':>6s} {'masked (lowest style)':>22s}")
    for gate, shares in results.items():
        masked = {k: v for k, v in shares.items() if k.startswith("mask:")}
        low = min(masked, key=masked.get)
        print(
            f"{gate[-60:]:60s} {shares['bare']:6.3f} {shares['hand']:6.3f} "
            f"{np.mean(list(masked.values())):6.3f} ({low[5:]} {masked[low]:.3f})"
        )
    return results


def hand_in_front_scores(args, cases) -> dict:
    drawn = [
        occluders.draw_hand(
            c.masked.astype(np.float32) / 255,
            evaluate.style_rng(c.source, f"hand in front of {c.style}"),
            skin_from=c.clean.astype(np.float32) / 255,
        )
        for c in cases
    ]
    crops = [np.round(image * 255).astype(np.uint8) for image, _ in drawn]
    fingers = [(cover > 0.5) & (c.mask > 0) for (_, cover), c in zip(drawn, cases, strict=True)]
    around = [(cover <= 0.5) & (c.mask > 0) for (_, cover), c in zip(drawn, cases, strict=True)]
    results = {}
    for model in args.mask_models:
        with backend_with(args.models, mask=model) as backend:
            with_hand = evaluate.replaced_regions(backend, crops, 32)
            plain = evaluate.replaced_regions(backend, [c.masked for c in cases], 32)
        restored = with_hand.reshape(len(cases), -1).mean(1) >= MIN_MASK_FRACTION
        painted = [r[f].mean() for r, f, ok in zip(with_hand, fingers, restored, strict=True) if ok and f.any()]
        replaced = [r[a].mean() for r, a, ok in zip(with_hand, around, restored, strict=True) if ok and a.any()]
        iou = [metrics.iou(r, c.mask > 0) for r, c in zip(plain, cases, strict=True)]
        results[str(model)] = {
            "restored": float(restored.mean()),
            "fingers_painted": float(np.mean(painted)),
            "mask_around_replaced": float(np.mean(replaced)),
            "region_iou_without_hand": float(np.mean(iou)),
        }
    print(f"{len(cases)} masked faces with a hand in front of the mask")
    print(f"{'Mask G':60s} {'restored':>9s} {'fingers painted':>16s} {'mask replaced':>14s} {'IoU, no hand':>13s}")
    for model, r in results.items():
        print(
            f"{model[-60:]:60s} {r['restored']:9.3f} {r['fingers_painted']:16.3f} "
            f"{r['mask_around_replaced']:14.3f} {r['region_iou_without_hand']:13.3f}"
        )
    return results


def model_comparison_args(description: str, sheet_help: str) -> argparse.Namespace:
    """The command line of a script that compares presence checks and Mask Gs on drawn cases (this one and
    bright_faces.py): DATA, --gates, --mask-models, --models, --limit, --json-file, --sheet."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--gates", type=Path, nargs="*", default=[], help="presence checks (mask_gate.onnx files)")
    ap.add_argument("--mask-models", type=Path, nargs="*", default=[], help="Mask Gs (mask_g.onnx files)")
    ap.add_argument("--models", type=Path, default=Path("exported"), help="the shipped models beside them")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json-file", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help=sheet_help)
    return ap.parse_args()


def main() -> None:
    args = model_comparison_args(__doc__, "a sheet of the first 24 drawn hands (PNG)")

    styles = registry.names(registry.SYNTHESIZERS)
    cases = evaluate.make_cases(args.data, styles, 128, args.limit)
    report = {"faces": len({c.source for c in cases})}
    if args.gates:
        report["gates"] = gate_shares(args, cases, styles)
    if args.mask_models:
        report["mask_models"] = hand_in_front_scores(args, cases)
    if args.json_file:
        args.json_file.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
