"""Do dlib's landmarks on a masked face say where the hidden mouth and jaw are?

    python benchmarks/hidden_landmarks.py ../shared/data/celeb_aligned [--limit N] \
        > benchmarks/results/hidden_landmarks.json

Telling Face G where the mouth and jaw lie (a landmark map as one more input) would only help if something at
inference knows. dlib's shape predictor places all 68 points on a masked face, guessing those under the mask. Here
every face of DATA wears every built-in style (as `unmask evaluate` draws them); the masked photo's face is found
as `unmask infer` finds it and aligned on its own visible points (eyes and nose bridge), and its 29 lower-face
points (mouth 48-67, jaw 4-12) are compared with the clean face's points, both in that 128² crop (so the crop's own
drift does not count). Beside them, the template's mean shape: the guess of someone who knows nothing about this
face.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from mask_alignment import make_cases  # a sibling script (benchmarks/ is on the path when run as above)
from rich.progress import track

from unmask_cli import registry
from unmask_cli.faces import CROP_TEMPLATE, alignment_matrix, transform_points
from unmask_cli.pipeline import find_faces

SIZE = 128
LOWER_FACE = np.r_[48:68, 4:13]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    styles = registry.names(registry.SYNTHESIZERS)
    cases = make_cases(args.data, styles, args.limit)
    template = CROP_TEMPLATE[LOWER_FACE] * SIZE
    dlib_error, template_error, missed = [], [], 0
    for case in track(cases, description="faces", transient=True):
        found = find_faces(case.masked)
        if not found:
            missed += 1
            continue
        matrix = alignment_matrix(found[0].landmarks, SIZE)  # the crop `infer` makes
        truth = transform_points(matrix, case.landmarks)[LOWER_FACE]
        guess = transform_points(matrix, found[0].landmarks)[LOWER_FACE]
        dlib_error.append(float(np.linalg.norm(guess - truth, axis=1).mean()))
        template_error.append(float(np.linalg.norm(template - truth, axis=1).mean()))

    def figures(errors: list[float]) -> dict[str, float]:
        return {k: round(float(f(errors)), 2) for k, f in (("mean", np.mean), ("median", np.median))} | {
            "p90": round(float(np.percentile(errors, 90)), 2)
        }

    print(
        json.dumps(
            {
                "data": str(args.data),
                "cases": len(cases),
                "faces_not_found": missed,
                "unit": f"mean distance over the 29 mouth and lower-jaw points, px of a {SIZE}² crop",
                "dlib_on_the_masked_face": figures(dlib_error),
                "template_mean_shape": figures(template_error),
                "dlib_nearer_than_the_template": round(float(np.mean(np.less(dlib_error, template_error))), 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
