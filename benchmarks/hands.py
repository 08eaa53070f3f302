"""How often `unmask infer` would paint over a hand held to the mouth, against how often it restores a masked face.

    python benchmarks/hands.py ../shared/data/celeb_aligned --gates exported/mask_gate.onnx NEW/mask_gate.onnx

On every face of DATA (aligned as `unmask evaluate` aligns them), three kinds of crop: the bare face; the bare face
with a hand drawn over its mouth (`unmask_cli.occluders.draw_hand`, seeded by the photo's name, so not a draw the
training saw); the face wearing each built-in style (`evaluate.make_cases`). For each presence check given
(`--gates`, ONNX files), with the shipped Mask G beside it (`--models`), the share of each kind whose restoration
`infer` would paste (the rule of `evaluate.bare_faces_restored`). All checks run on the same crops in one process.
The hands are drawn, not photographed: a real hand held to the mouth is only in the real photos
(`benchmarks/real_masks.sh`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from unmask_cli import evaluate, occluders, registry, sheets
from unmask_cli.export import FACE_FILE, GATE_FILE, MASK_FILE
from unmask_cli.images import write_atomic
from unmask_cli.restore import MIN_MASK_FRACTION, binarize


def pasted_share(backend, crops: list[np.ndarray], batch: int = 32) -> float:
    """Share of uint8 crops whose mask region, after the presence check, is big enough to be pasted."""
    low, high = backend.value_range
    pasted = 0
    for start in range(0, len(crops), batch):
        x = np.stack(crops[start : start + batch]).astype(np.float32) / 255.0 * (high - low) + low
        regions = binarize(backend.mask_fn(x), backend.threshold)
        pasted += int((regions.reshape(len(x), -1).mean(1) >= MIN_MASK_FRACTION).sum())
    return pasted / len(crops)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--gates", type=Path, nargs="+", required=True, help="presence checks (mask_gate.onnx files)")
    ap.add_argument("--models", type=Path, default=Path("exported"), help="the Mask G and Face G beside them")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json-file", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="a sheet of the first 24 drawn hands (PNG)")
    args = ap.parse_args()

    styles = registry.names(registry.SYNTHESIZERS)
    cases = evaluate.make_cases(args.data, styles, 128, args.limit)
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
        with tempfile.TemporaryDirectory() as tmp:
            for name in (MASK_FILE, FACE_FILE):
                shutil.copy(args.models / name, Path(tmp) / name)
            shutil.copy(gate, Path(tmp) / GATE_FILE)
            backend = registry.open_backend("onnxruntime", models_dir=Path(tmp))
            results[str(gate)] = {kind: pasted_share(backend, crops) for kind, crops in kinds.items()}

    print(f"{len(clean)} faces; share that infer would paint over")
    print(f"{'gate':60s} {'bare':>6s} {'hand':>6s} {'masked (lowest style)':>22s}")
    for gate, shares in results.items():
        masked = {k: v for k, v in shares.items() if k.startswith("mask:")}
        low = min(masked, key=masked.get)
        print(
            f"{gate[-60:]:60s} {shares['bare']:6.3f} {shares['hand']:6.3f} "
            f"{np.mean(list(masked.values())):6.3f} ({low[5:]} {masked[low]:.3f})"
        )
    if args.json_file:
        args.json_file.write_text(json.dumps({"faces": len(clean), "gates": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
