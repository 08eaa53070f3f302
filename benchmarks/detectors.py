"""Face detection on real masked photos with and without BlazeFace, side by side in one process.

    python benchmarks/detectors.py ../shared/data/masked_real > benchmarks/results/detectors.json

For every photo, `detect_faces(robust=True)` (what `unmask infer` runs before its faint-candidate fallback) once
with BlazeFace in the chain and once without (dlib only: HOG, CNN, lowered HOG, equalized, rotated), alternating
photo by photo so machine noise hits both alike. Printed (JSON): photos with a face, faces, which detector found
them, and the time ratio. Detection only: whether a face is then restored is `benchmarks/real_masks.sh`'s job.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from unmask_cli import blazeface
from unmask_cli.faces import detect_faces
from unmask_cli.images import ImageError, iter_images, read_rgb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    args = ap.parse_args()
    if not blazeface.available():
        raise SystemExit("BlazeFace needs onnxruntime: install the [cpu] or [gpu] extra")
    real_available = blazeface.available
    chains = {"dlib only": lambda: False, "with BlazeFace": real_available}
    report = {name: {"photos_with_a_face": 0, "faces": 0, "by_detector": Counter(), "seconds": 0.0} for name in chains}
    photos = 0
    for path in iter_images([args.data]):
        try:
            rgb = read_rgb(path)
        except ImageError:
            continue
        photos += 1
        for name, available in chains.items():
            blazeface.available = available
            start = time.perf_counter()
            found = detect_faces(rgb, robust=True)
            entry = report[name]
            entry["seconds"] += time.perf_counter() - start
            entry["photos_with_a_face"] += bool(found)
            entry["faces"] += len(found)
            entry["by_detector"].update(f.detector for f in found)
    blazeface.available = real_available
    base, new = report["dlib only"], report["with BlazeFace"]
    print(
        json.dumps(
            {
                "photos": photos,
                **report,
                "speed_ratio_with_blazeface": round(base["seconds"] / max(new["seconds"], 1e-9), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
