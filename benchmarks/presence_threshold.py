"""How much of a crop the presence check (mask_gate.onnx) must mark before a face counts as masked.

    python benchmarks/presence_threshold.py ../work/utk128L --count 2000 \
        --bare ../shared/data/celeba_small --masked ../shared/data/masked_real

1. A `unmask synthesize` folder, ideally a fresh draw (the shipped check was trained on every UTKFace face, bare
   and masked, so on UTKFace only the drawn masks are new): the share the check marks on each drawn-mask crop and
   on its bare twin (the same face, clean). A threshold should keep every drawn mask and pass few bare faces.
2. Photo folders (optional), through `infer`'s own detection and alignment: --bare holds faces without masks,
   --masked real masked photos. Per threshold, how many detected faces the check passes.
Writes benchmarks/results/presence_threshold.json; the rule in force is restore.GATE_MIN_FRACTION.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from unmask_cli.faces import align
from unmask_cli.images import IMAGE_SUFFIXES, ImageError, read_rgb
from unmask_cli.pipeline import Unmasker, find_faces
from unmask_cli.restore import GATE_MIN_FRACTION, region_shares

THRESHOLDS = (0.01, 0.02, 0.03, 0.05, 0.08)


def synthesized_shares(unmasker: Unmasker, data: Path, count: int, batch: int = 32) -> dict[str, list[float]]:
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines() if line.strip()][:count]
    mask_fn = unmasker.backend.mask_fn
    shares: dict[str, list[float]] = {"masked": [], "bare": []}
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        for kind, key in (("masked", "masked"), ("bare", "clean")):
            crops = [cv2.cvtColor(cv2.imread(str(data / r[key])), cv2.COLOR_BGR2RGB) for r in chunk]
            shares[kind] += region_shares(mask_fn.gate(unmasker._to_model(crops)), mask_fn.info.threshold).tolist()
    return shares


def photo_shares(unmasker: Unmasker, folder: Path) -> list[dict]:
    mask_fn = unmasker.backend.mask_fn
    faces = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            rgb = read_rgb(path)  # as `infer` decodes it
        except ImageError:
            continue
        for face in find_faces(rgb, unmasker.robust):
            crop, _ = align(rgb, face.landmarks, unmasker.size)
            share = region_shares(mask_fn.gate(unmasker._to_model([crop])), mask_fn.info.threshold)[0]
            faces.append({"photo": path.name, "box": list(map(int, face.box)), "share": round(float(share), 4)})
    return faces


def passed(shares, t: float) -> int:
    return int(np.sum(np.asarray(shares) >= t))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("synthesized", type=Path, help="an `unmask synthesize` folder (a fresh draw)")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--bare", type=Path, help="a folder of photos of faces without masks")
    ap.add_argument("--masked", type=Path, help="a folder of photos of people wearing masks")
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/presence_threshold.json"))
    args = ap.parse_args(argv)
    unmasker = Unmasker(args.models)
    if unmasker.backend.mask_fn.gate is None:
        raise SystemExit(f"{args.models}: no mask_gate.onnx, so there is no presence check to measure")
    synth = synthesized_shares(unmasker, args.synthesized, args.count)
    folders = {name: folder for name, folder in (("bare", args.bare), ("masked", args.masked)) if folder}
    photos = {name: photo_shares(unmasker, folder) for name, folder in folders.items()}
    table = Table(title=f"presence check: share of the crop it must mark (in force: {GATE_MIN_FRACTION})")
    table.add_column("threshold", justify="right")
    n = len(synth["masked"])
    table.add_column(f"drawn masks kept (of {n})", justify="right")
    table.add_column(f"bare twins passed (of {n})", justify="right")
    for name, faces in photos.items():
        table.add_column(f"{name} photos: faces passed (of {len(faces)})", justify="right")
    rows = []
    for t in THRESHOLDS:
        row = {
            "threshold": t,
            "drawn_masks_kept": passed(synth["masked"], t),
            "bare_twins_passed": passed(synth["bare"], t),
            **{f"{name}_photo_faces_passed": passed([f["share"] for f in faces], t) for name, faces in photos.items()},
        }
        rows.append(row)
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
    masked = np.asarray(synth["masked"])
    report = {
        "synthesized": str(args.synthesized),
        "crops": n,
        "drawn_mask_share_quantiles": {q: round(float(np.quantile(masked, q)), 4) for q in (0.0, 0.001, 0.01, 0.5)},
        "rows": rows,
        "photos": {name: {"folder": str(folders[name]), "faces": faces} for name, faces in photos.items()},
        "in_force": GATE_MIN_FRACTION,
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
