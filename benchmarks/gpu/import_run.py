"""Turn a GPU run's output (`train_face_jax.py --out DIR`) into a Face G run folder that `unmask export` reads.

    python benchmarks/gpu/import_run.py /work/.device/.../a --run-dir ../work/runs/face_gpu_a --data ../work/utk128

With --average-with exported/face_g.onnx --weight W, the weights written are W × the run's + (1 − W) × that model's
(a "model soup": both must be the same architecture, and the run must have started from that model).

Writes RUN/face_g.weights.h5 (built with TensorFlow's Keras from the chunked weights) and RUN/run.json (the
training configuration, with the step count, the trainer and the GPU run's log under `extra`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from unmask_cli import models
from unmask_cli.onnx_weights import average_with_onnx
from unmask_cli.training import FACE_WEIGHTS, TrainConfig
from unmask_cli.weight_chunks import load_chunks


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gpu_out", type=Path)
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True, help="the synthesized folder the packs were made from")
    ap.add_argument("--init", type=Path, help="the exported Face G the GPU run started from (goes in the metadata)")
    ap.add_argument("--average-with", type=Path, help="an exported fp32 Face G (.onnx) to average the run with")
    ap.add_argument("--weight", type=float, default=0.5, help="the run's share of the average")
    ap.add_argument("--size", type=int, default=128, help="the crop size the run trained at")
    args = ap.parse_args(argv)

    # a run's ema/ folder holds only weights; its log is the run's
    log_file = next(p for p in (args.gpu_out / "metrics.jsonl", args.gpu_out.parent / "metrics.jsonl") if p.is_file())
    log = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    plan = next((r for r in log if r.get("event") == "plan"), {})
    # the last write of weights: under --save best a run's end may write none ("weights": [])
    saved = [r for r in log if r.get("event") in ("saved", "done") and r.get("weights") != []]
    steps = saved[-1]["step"] if saved else None
    weights = load_chunks(args.gpu_out)
    width = int(weights[0].shape[-1])  # the first convolution's filters: the model's base width
    model = models.face_g(args.size, width)
    extra = {}
    if args.average_with:
        weights, extra["averaged_with"] = average_with_onnx(model, weights, args.average_with, args.weight)
    model.set_weights(weights)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    model.save_weights(args.run_dir / FACE_WEIGHTS)
    config = TrainConfig(
        kind="face",
        data=str(args.data.resolve()),
        size=args.size,
        width=width,
        batch=plan.get("batch", 16),
        mask_source="mask_g",
        init=str(args.init or args.average_with) if (args.init or args.average_with) else None,
        extra={"trainer": "benchmarks/gpu/train_face_jax.py (Keras on JAX, GPU)", "steps": steps, "log": log, **extra},
    )
    (args.run_dir / "run.json").write_text(json.dumps(asdict(config), indent=2))
    print(json.dumps({"run_dir": str(args.run_dir), "width": width, "steps": steps, "arrays": len(weights)}))


if __name__ == "__main__":
    main()
