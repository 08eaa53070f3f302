"""Contact sheet of every installed mask style on the same faces: docs/styles.png.

Usage: python scripts/style_sheet.py ../shared/data/celeb_aligned --faces 6 --out docs/styles.png
"""

import argparse
from pathlib import Path

import numpy as np

from unmask_cli import registry
from unmask_cli.faces import align, detect_faces, transform_points
from unmask_cli.images import iter_images, read_rgb, write_atomic
from unmask_cli.sheets import grid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("--faces", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", type=Path, default=Path("docs/styles.png"))
    args = ap.parse_args()
    faces = []
    for path in iter_images([args.src]):
        rgb = read_rgb(path)
        found = detect_faces(rgb)
        if found:
            crop, matrix = align(rgb, found[0].landmarks, args.size)
            faces.append((crop, transform_points(matrix, found[0].landmarks)))
        if len(faces) == args.faces:
            break
    names = registry.names(registry.SYNTHESIZERS)
    rows = [[crop for crop, _ in faces]]
    for name in names:
        style = registry.load_synthesizer(name)
        rows.append([style(crop, lm, np.random.default_rng([i, 1]))[0] for i, (crop, lm) in enumerate(faces)])
    write_atomic(args.out, grid(rows, args.size, row_labels=["clean", *names]))
    print(args.out)


if __name__ == "__main__":
    main()
