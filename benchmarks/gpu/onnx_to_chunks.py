"""An exported Face G's weights as fp16 `weights_*.npz` chunks, the start a GPU call carries (`.gpu/init48`).

    python benchmarks/gpu/onnx_to_chunks.py exported/face_g_structure.onnx .gpu/init48 --width 48

The fp32 ONNX file does not fit a call's 64 MiB beside the packs; fp16 chunks take half as much, and
`train_face_jax.py --init FOLDER` casts them back to fp32 (fp16 rounds a weight by at most 2^-11 of itself).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from unmask_cli import models
from unmask_cli.onnx_weights import load_onnx_weights
from unmask_cli.weight_chunks import save_chunks


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx", type=Path, help="an exported fp32 Face G")
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=32, help="the model's width (48 for the structure model)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--chunk-mb", type=float, default=15.0)
    args = ap.parse_args(argv)
    model = models.face_g(args.size, args.width)
    load_onnx_weights(model, args.onnx)
    arrays = [a.astype(np.float16) for a in model.get_weights()]
    args.out.mkdir(parents=True, exist_ok=True)
    names = save_chunks(arrays, args.out, int(args.chunk_mb * 2**20))
    print(f"{len(arrays)} arrays in {len(names)} files under {args.out}")


if __name__ == "__main__":
    main()
