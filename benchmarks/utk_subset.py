"""Link a reproducible random share of UTKFace's photos into a folder, for `unmask synthesize` to draw masks on.

    python benchmarks/utk_subset.py ../shared/data/utkface WORK/utk_subset --seed 14 --start 0 --count 9000

The photos (*.jpg, sorted by name) are shuffled by `random.Random(SEED)` and files [START, START + COUNT) are linked
(absolute links): the same seed picks the same photos on any machine, and two ranges of one seed share none.
Sessions 14 and 15 drew [0, 9000) and [9000, 18000) of seed 14 (`utk128J`, `utk128K`). Links already there stay.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def pick(photos: Path, seed: int, start: int, count: int) -> list[Path]:
    """Files [start, start + count) of the folder's *.jpg, sorted by name, then shuffled by random.Random(seed)."""
    files = sorted(photos.resolve().glob("*.jpg"))
    random.Random(seed).shuffle(files)
    return files[start : start + count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=9000)
    args = ap.parse_args()
    chosen = pick(args.photos, args.seed, args.start, args.count)
    if not chosen:
        raise SystemExit(f"{args.photos}: no *.jpg photos in range [{args.start}, {args.start + args.count})")
    args.out.mkdir(parents=True, exist_ok=True)
    for photo in chosen:
        link = args.out / photo.name
        if not link.is_symlink():
            link.symlink_to(photo)
    print(f"{len(chosen)} photos linked in {args.out}")


if __name__ == "__main__":
    main()
