"""Cold start: `unmask infer` on one photo, process start to file written, per backend, interleaved.

Also times the floor every backend shares: a Python process that only imports dlib and loads its two models
(HOG detector + 68-point shape predictor), which `infer` needs before any network runs.

Usage: python benchmarks/cold_start.py [PHOTO] [--repeats N] [--checkpoints RUNS]
       → benchmarks/results/cold_start-<host>.json
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "dlib models only (floor)"
DLIB_FLOOR = "from unmask_cli.faces import _frontal_detector, _shape_predictor; _frontal_detector(); _shape_predictor()"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=next((ROOT / "samples" / "masked").glob("*.jpg")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoints", type=Path, default=ROOT / "runs")
    parser.add_argument("--backends", default="onnxruntime,tensorflow")
    args = parser.parse_args()
    unmask = [sys.executable, "-m", "unmask_cli"]
    commands = {FLOOR: [sys.executable, "-c", DLIB_FLOOR]}
    for backend in args.backends.split(","):
        commands[backend] = [*unmask, "infer", str(args.photo), "--backend", backend]
        if backend == "tensorflow":
            commands[backend] += ["--checkpoints", str(args.checkpoints)]
    times: dict[str, list[float]] = {name: [] for name in commands}
    timed(commands[FLOOR])  # warm the page cache: measure start-up, not the disk
    for _ in range(args.repeats):
        for name, command in commands.items():  # interleaved, so load drift hits every backend alike
            with tempfile.TemporaryDirectory() as out:
                extra = ["--out", out] if name != FLOOR else []
                times[name].append(timed(command + extra))
    best = {name: min(t) for name, t in times.items()}
    result = {
        "machine": f"{socket.gethostname()} ({platform.processor() or platform.machine()}, CPU)",
        "photo": str(args.photo),
        "seconds": times,
        "best_seconds": best,
        "ratio_vs_tensorflow": {
            name: best["tensorflow"] / s for name, s in best.items() if "tensorflow" in best and name != "tensorflow"
        },
    }
    out = ROOT / "benchmarks" / "results" / f"cold_start-{socket.gethostname().split('.')[0]}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, s in best.items():
        ratio = result["ratio_vs_tensorflow"].get(name)
        runs = [round(t, 2) for t in times[name]]
        print(f"{name:28s} best {s:5.2f} s  runs {runs}" + (f"  ×{ratio:.2f} faster than tensorflow" if ratio else ""))
    print(f"→ {out}")


if __name__ == "__main__":
    main()
