"""A generator's `get_weights()` as numbered `.npz` files, the format the GPU scripts exchange weights in.

Keys `w000`, `w001`… keep `get_weights()`'s order; each file stays under a size cap, since the device tool returns
files of 16 MiB at most. Needs NumPy alone: the GPU machine has JAX and no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_chunks(arrays: Sequence[np.ndarray], out: Path, chunk_bytes: int = 15 * 2**20) -> list[str]:
    """Write `arrays` as `out/weights_K.npz`, each under `chunk_bytes`, atomically; returns the file names."""
    chunks, current, size = [], [], 0
    for i, a in enumerate(arrays):
        if current and size + a.nbytes > chunk_bytes:
            chunks.append(current)
            current, size = [], 0
        current.append(i)
        size += a.nbytes
    chunks.append(current)
    names = []
    for k, idx in enumerate(chunks):
        path = out / f"weights_{k}.npz"
        tmp = out / f".weights_{k}.tmp.npz"
        np.savez(tmp, **{f"w{i:03d}": arrays[i] for i in idx})
        os.replace(tmp, path)
        names.append(path.name)
    return names


def load_chunks(folder: Path, dtype=None) -> list[np.ndarray]:
    """The arrays `save_chunks` wrote under `folder`, in order; cast to `dtype` when given (fp16 copies → fp32)."""
    arrays: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("weights_*.npz")):
        with np.load(path) as chunk:
            arrays.update({k: chunk[k] if dtype is None else chunk[k].astype(dtype) for k in chunk.files})
    return [arrays[k] for k in sorted(arrays)]
