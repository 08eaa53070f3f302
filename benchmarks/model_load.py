"""What the test crop each model file runs at load costs (`onnxruntime_backend.check_finite_output`, session 27).

    python benchmarks/model_load.py [--models exported] [--rounds 7] > benchmarks/results/model_load.json

Opens the onnxruntime backend on the models folder with the check and with it switched off, in alternating rounds
in one process after a warm-up load, and reports the median of each and their ratio (these machines are noisy;
absolute times only mean something on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from unmask_backends import onnxruntime_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("exported"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    check = onnxruntime_backend.check_finite_output
    variants = {"with the test crop": check, "without": lambda session, info: None}
    onnxruntime_backend.OnnxRuntimeBackend(args.models)  # warm-up: imports, the files in the page cache
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in list(variants)[:: 1 if r % 2 == 0 else -1]:
            onnxruntime_backend.check_finite_output = variants[name]
            start = time.perf_counter()
            backend = onnxruntime_backend.OnnxRuntimeBackend(args.models)
            seconds[name].append(time.perf_counter() - start)
    onnxruntime_backend.check_finite_output = check
    median = {name: float(np.median(values)) for name, values in seconds.items()}
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor()},
        "models": str(args.models),
        "backend": backend.description,
        "rounds": args.rounds,
        "median_seconds": median,
        "ratio": median["with the test crop"] / median["without"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
