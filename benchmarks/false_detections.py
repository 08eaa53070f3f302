"""How often `unmask infer` paints a face where there is none: photos cut away from their faces.

    python benchmarks/false_detections.py ../shared/data/masked_real --sheet docs/false_detections_sheet.png \
        > benchmarks/results/false_detections.json

From every photo of DATA with a face, the half of the photo away from the (first) face is cut out — background,
clothes, text, shop signs, other people — and `unmask infer` runs on the cut-outs. Printed (JSON): photos, how many
got a face restored, by detector. Some cut-outs hold real faces (crowds, a face cut by the edge); the sheet shows
which restorations are false.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import cv2

from unmask_cli.faces import detect_faces
from unmask_cli.images import iter_images, read_rgb, write_atomic
from unmask_cli.pipeline import Unmasker
from unmask_cli.sheets import before_after


def cut_away(rgb):
    """The quarter-to-half of the photo farthest from its first face, or None (no face, or too small a cut)."""
    faces = detect_faces(rgb)
    if not faces:
        return None
    h, w = rgb.shape[:2]
    left, top, right, bottom = faces[0].box
    cut = rgb[:, : w // 2] if (left + right) / 2 > w / 2 else rgb[:, w // 2 :]
    cut = cut[int(h * 0.55) :] if (top + bottom) / 2 < h / 2 else cut[: int(h * 0.45)]
    return cut if min(cut.shape[:2]) >= 48 else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--models", type=Path, default=Path("exported"))
    ap.add_argument("--sheet", type=Path, help="before/after sheet of the cut-outs that got a face painted")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        cuts = Path(tmp) / "cuts"
        cuts.mkdir()
        for path in iter_images([args.data]):
            cut = cut_away(read_rgb(path))
            if cut is not None:
                cv2.imwrite(str(cuts / f"{path.stem}.png"), cv2.cvtColor(cut, cv2.COLOR_RGB2BGR))
        results = []
        unmasker = Unmasker(args.models, workers=1)
        summary = unmasker.run([cuts], Path(tmp) / "out", keep_images=True, on_result=results.append)
    detectors = Counter(f.detector for r in results for f in r.faces if f.restored)
    changed = [r for r in results if r.restored]
    if args.sheet and changed:
        write_atomic(args.sheet, before_after([(r.before, r.after) for r in changed[:24]]))
    print(
        json.dumps(
            {
                "cut_outs": summary.photos,
                "with_a_face_restored": summary.written,
                "faces_restored": summary.restored,
                "by_detector": dict(detectors),
                "changed": [r.source.name for r in changed],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
