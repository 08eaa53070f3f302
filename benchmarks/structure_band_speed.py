"""What the structure model (face_g_structure.onnx) costs: the restore step with and without it, side by side.

    python benchmarks/structure_band_speed.py [--models exported] [--batch 1 8] [--rounds 7] \
        > benchmarks/results/structure_band_speed.json

Two onnxruntime backends in one process on the same real face crops (samples/clean, a drawn mask each): the models
folder as it is, and a copy of it without the structure model. Timed in alternating rounds, the median of each
reported, and their ratio (these machines are noisy; absolute times only mean something on a quiet machine).
"Face G" times the fill alone (both Face Gs and the band blend when the structure model is there); "restore" is
Mask G, the presence check and the fill together, the model part of `infer`.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from unmask_cli import registry
from unmask_cli.export import parity_inputs
from unmask_cli.model_card import STRUCTURE_FILE


def _without_structure(models: Path, into: Path) -> Path:
    """`models`' files linked into `into`, the structure model's (any precision) left out."""
    stem = Path(STRUCTURE_FILE).stem
    for path in models.iterdir():
        if path.is_file() and not path.name.startswith(stem):
            (into / path.name).symlink_to(path.resolve())
    return into


def _seconds(fn, x: np.ndarray) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--photos", type=Path, default=Path("samples/clean"))
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if not (args.models / STRUCTURE_FILE).is_file():
        raise SystemExit(f"{args.models}: no {STRUCTURE_FILE} to compare against")
    with tempfile.TemporaryDirectory() as tmp:
        banded = registry.open_backend("onnxruntime", models_dir=args.models, threads=args.threads)
        plain = registry.open_backend(
            "onnxruntime", models_dir=_without_structure(args.models, Path(tmp)), threads=args.threads
        )
        crops, face_inputs = parity_inputs(banded.input_size, [args.photos], max(args.batch))
        rows = []
        for batch in args.batch:
            parts = {"face_g": face_inputs[:batch], "restore": crops[:batch]}
            for part, x in parts.items():
                times = {"without": [], "with": []}
                for backend in (plain, banded):  # warm-up: first runs allocate
                    (backend.face_fn if part == "face_g" else backend.run)(x)
                for _ in range(args.rounds):
                    for name, backend in (("without", plain), ("with", banded)):
                        times[name].append(_seconds(backend.face_fn if part == "face_g" else backend.run, x))
                without, with_ = np.median(times["without"]), np.median(times["with"])
                rows.append(
                    {
                        "part": part,
                        "batch": batch,
                        "ms_per_face_without": 1000 * without / batch,
                        "ms_per_face_with": 1000 * with_ / batch,
                        "with_over_without": with_ / without,
                    }
                )
    print(
        json.dumps(
            {
                "models": str(args.models),
                "machine": f"{platform.processor() or platform.machine()}, CPU, {banded.description}",
                "rounds": args.rounds,
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
