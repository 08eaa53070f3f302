"""Pasting a restored crop back onto a small face: as warped (bicubic) or low-passed first, against the truth.

    python benchmarks/small_face_paste.py ../shared/data/celeb_aligned --limit 40 [--widths 24 32 48 96]

A face a few dozen pixels wide is enlarged to the 128² crop, and the restored crop is shrunk back by the same
factor when it is pasted: warped without a low-pass filter first, its stubble and grain alias into speckle. Each
face of DATA wears a drawn mask (surgical and cloth, seeded by name) on the full photo; the masked and the clean
photo are shrunk so that the face's box is W px wide; `unmask infer`'s pipeline restores the masked one (the same
crops, masks and fills for both ways) and the result is scored against the shrunk clean photo inside the shrunk
drawn mask: PSNR and texture ratio (restored / truth Laplacian variance; 1 = as sharp as the photo around it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from unmask_cli import metrics, pipeline, registry
from unmask_cli.evaluate import first_face, style_rng
from unmask_cli.images import ImageError, iter_images

STYLES = ("surgical", "cloth")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--widths", type=int, nargs="+", default=[24, 32, 48, 96])
    ap.add_argument("--models", type=Path, default=Path("exported"))
    args = ap.parse_args()
    unmasker = pipeline.Unmasker(args.models, workers=1)
    ways = {"warped as is": False, "low-passed first": True}
    scores: dict[tuple[int, str], list[tuple[float, float]]] = {}
    missed = dict.fromkeys(args.widths, 0)
    for path in list(iter_images([args.data]))[: args.limit]:
        try:
            rgb, face = first_face(path)
        except ImageError:
            continue
        width = face.box[2] - face.box[0]
        for style in STYLES:
            masked, mask = registry.load_synthesizer(style)(rgb, face.landmarks, style_rng(path.name, style))
            for target in args.widths:
                f = target / width
                small = [cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) for im in (masked, rgb)]
                region = cv2.resize(mask.astype(np.float32), None, fx=f, fy=f, interpolation=cv2.INTER_AREA) > 0.5
                for name, low_pass in ways.items():
                    pipeline.LOW_PASS_ON_PASTE = low_pass
                    out, faces = unmasker.restore_photo(small[0])
                    if not any(r.restored for r in faces):
                        if not low_pass:  # counted once per case: detection does not depend on the paste
                            missed[target] += 1
                        continue
                    truth = small[1]
                    scores.setdefault((target, name), []).append(
                        (metrics.psnr(out, truth, region), metrics.texture_ratio(out, truth, region, erode=1))
                    )
    pipeline.LOW_PASS_ON_PASTE = True
    print("face width | paste | cases | PSNR in the mask | texture ratio (median)")
    for (target, name), rows in sorted(scores.items()):
        table = np.array(rows)
        print(
            f"{target:4d} px | {name:16s} | {len(rows):4d} | {table[:, 0].mean():6.2f} | "
            f"{np.nanmedian(table[:, 1]):.3f}   (no restored face: {missed[target]})"
        )


if __name__ == "__main__":
    main()
