"""Reading big PNG/WebP photos: the alpha-keeping second decode only where the header says the file can hold alpha.

    python benchmarks/decode.py [--photo PATH] [--repeats 5]

A 4000×3000 photo (the given one scaled, else the first README sample) is written as RGB PNG, RGB WebP (lossy and
lossless) in a temporary folder; `images.read_photo` reads each with the header check (`images._may_have_alpha`,
session 10) and with the second decode forced (as before), alternating, in this process. Printed: a Rich table of
seconds per read and the ratio (noisy machine: compare the ratio, not the times).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
from rich.console import Console
from rich.table import Table

from unmask_cli import images

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, default=next((ROOT / "samples" / "masked").glob("*.jpg")))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    big = cv2.resize(cv2.imread(str(args.photo)), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    header_check = images._may_have_alpha
    settings = {"header check": header_check, "always decode twice": lambda data: True}
    table = Table(title=f"images.read_photo on {args.photo.name} scaled to 4000×3000 (s per read)")
    for column in ("file", *settings, "ratio"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "RGB PNG": (".png", []),
            "lossy WebP": (".webp", []),
            "lossless WebP": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
        }
        for label, (suffix, params) in files.items():
            path = Path(tmp) / f"{label.replace(' ', '_')}{suffix}"
            cv2.imwrite(str(path), big, params)
            seconds = dict.fromkeys(settings, 0.0)
            for _ in range(args.repeats):
                for name, check in settings.items():
                    images._may_have_alpha = check
                    start = time.perf_counter()
                    images.read_photo(path)
                    seconds[name] += (time.perf_counter() - start) / args.repeats
            images._may_have_alpha = header_check
            ratio = seconds["always decode twice"] / seconds["header check"]
            table.add_row(label, *(f"{s:.3f}" for s in seconds.values()), f"×{ratio:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
