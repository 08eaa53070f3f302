"""Average a `unmask train face` run's Face G with the exported Face G it started from, into a new run folder.

    python benchmarks/average_face_g.py ../work/runs/face_ft5 --with exported/face_g.onnx --weight 0.5 \
        --out ../work/runs/face_ft5_avg
    unmask export --onnx --only face --face-run ../work/runs/face_ft5_avg --int8

Writes OUT/face_g.weights.h5 = W × the run's weights + (1 − W) × the exported model's, and OUT/run.json (the run's
configuration, its step count and the average under `extra`, which `unmask export` writes into the metadata).
The GPU runs have their own importer (benchmarks/gpu/import_run.py --average-with).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unmask_cli import models
from unmask_cli.onnx_weights import average_with_onnx
from unmask_cli.training import FACE_WEIGHTS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a `unmask train face` run folder")
    ap.add_argument("--with", dest="other", type=Path, required=True, help="an exported fp32 Face G (.onnx)")
    ap.add_argument("--weight", type=float, default=0.5, help="the run's share of the average")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    config = json.loads((args.run / "run.json").read_text())
    width = config.get("width") or 32
    model = models.face_g(config["size"], width)
    model.load_weights(args.run / FACE_WEIGHTS)
    averaged, record = average_with_onnx(model, model.get_weights(), args.other, args.weight)
    model.set_weights(averaged)
    steps = max((json.loads(line).get("step", 0) for line in (args.run / "metrics.jsonl").open()), default=0)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.out / FACE_WEIGHTS)
    config.setdefault("extra", {}).update({"steps": steps, "averaged_with": record, "run": str(args.run)})
    (args.out / "run.json").write_text(json.dumps(config, indent=2))
    print(json.dumps({"out": str(args.out), "steps": steps, "run_weight": args.weight}))


if __name__ == "__main__":
    main()
