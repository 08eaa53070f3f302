"""Mask G (and Face G) when the crop is aligned the way `unmask infer` aligns it: on landmarks found on the masked face.

`unmask evaluate` draws each mask on a crop aligned with the clean face's landmarks, so Mask G sees the mask where
training put it. At inference dlib places the 68 landmarks on the masked face, guessing nose, mouth and jaw under
the fabric, and the crop drifts. Here every face of DATA (never used in training) wears every style on the whole
photo; then the masked photo's face is found (`detect_faces`), aligned to 128² from those landmarks, and the drawn
mask moved with it. Reported side by side for each model folder: Mask G's IoU on the clean alignment and on the
re-found one (faces the detector misses on the masked photo are left out of both columns' "same faces" figure);
for a folder with Face G too, its PSNR and SSIM in the drawn mask on both (the pipeline's way:
`restore.restore_batch`, against the clean photo's crop), since Face G meets the drift at inference as well; and
how far the re-found alignment moved (the nose-bridge point, where a mask's top edge sits, and the scale), which
sizes the models' training jitter (`pipelines._jitter_alignment`). `--without-eye-check` aligns as before session
14, on dlib's landmarks alone (`faces.EYES_DISAGREE`: BlazeFace's eyes do not check them).

Usage: python benchmarks/mask_alignment.py DATA [--models DIR ...] [--limit N] [--without-eye-check]
                                           [--json-file PATH]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from rich.console import Console
from rich.progress import track
from rich.table import Table

from unmask_cli import faces as face_module
from unmask_cli import registry
from unmask_cli.evaluate import first_face, style_rng
from unmask_cli.faces import CROP_TEMPLATE, align, transform_points
from unmask_cli.images import ImageError, iter_images
from unmask_cli.metrics import psnr, ssim
from unmask_cli.pipeline import find_faces
from unmask_cli.restore import binarize, restore_batch

SIZE = 128
MODEL_FILES = ("mask_g.onnx", "face_g.onnx")


@dataclass
class Case:
    style: str
    masked: np.ndarray  # the whole photo wearing the mask
    mask: np.ndarray  # H×W 0/1
    clean: np.ndarray  # the photo without it
    landmarks: np.ndarray  # the clean face's, in photo pixels


def make_cases(data: Path, styles: list[str], limit: int | None) -> list[Case]:
    """Every style on every photo's first face, seeded from the photo's name as `unmask evaluate` seeds it."""
    cases = []
    for path in list(iter_images([data]))[:limit]:
        try:
            rgb, face = first_face(path)
        except ImageError:
            continue
        for style in styles:
            masked, mask = registry.load_synthesizer(style)(rgb, face.landmarks, style_rng(path.name, style))
            cases.append(Case(style, masked, mask, rgb, face.landmarks))
    return cases


def warp_mask(mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The drawn mask in the crop: a crop pixel the mask touches counts, as the styles count it (`composite`)."""
    return cv2.warpAffine(mask.astype(np.float32), matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR) > 0.2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def crops(cases) -> tuple[dict[str, list], dict[str, list], dict]:
    """For the clean and the re-found alignment, {"crops", "masks" (drawn, in the crop), "truths" (the clean
    photo's crop)} at SIZE (None where the face was not found again), and the drift figures."""
    clean: dict[str, list] = {"crops": [], "masks": [], "truths": []}
    found: dict[str, list] = {"crops": [], "masks": [], "truths": []}
    bridge, scale, missed = [], [], 0
    probe = CROP_TEMPLATE[[28]] * (SIZE - 1)
    for case in track(cases, description="aligning", transient=True):
        crop, truth = align(case.masked, case.landmarks, SIZE)
        clean["crops"].append(crop)
        clean["masks"].append(warp_mask(case.mask, truth))
        clean["truths"].append(align(case.clean, case.landmarks, SIZE)[0])
        faces = find_faces(case.masked)  # as `unmask infer` finds them
        if not faces:
            missed += 1
            for part in found.values():
                part.append(None)
            continue
        crop, matrix = align(case.masked, faces[0].landmarks, SIZE)
        found["crops"].append(crop)
        found["masks"].append(warp_mask(case.mask, matrix))
        found["truths"].append(align(case.clean, faces[0].landmarks, SIZE)[0])
        # where the clean alignment's bridge point lands in the re-found crop, in SIZE pixels
        inverse = cv2.invertAffineTransform(truth)
        moved = transform_points(matrix, transform_points(inverse, probe)) - probe
        bridge.append(moved[0])
        scale.append(float(np.sqrt(abs(np.linalg.det(matrix[:, :2]) / np.linalg.det(truth[:, :2])))))
    bridge = np.array(bridge)

    def pct(x) -> dict[str, float]:
        return {f"p{q}": round(float(np.percentile(x, q)), 3) for q in (50, 90, 99)}

    drift = {
        "faces_found_again": len(bridge),
        "faces_not_found": missed,
        "bridge_point_moved_px": pct(np.hypot(*bridge.T)),
        "bridge_point_moved_vertically_px": pct(np.abs(bridge[:, 1])),
        "scale_change": pct(np.abs(np.log(scale)) * 100),  # percent, either way
    }
    return clean, found, drift


def mask_g(models: Path):
    session = ort.InferenceSession(str(models / "mask_g.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: list[np.ndarray]) -> np.ndarray:
        batch = np.stack(x).astype(np.float32) / 127.5 - 1
        out = np.concatenate([session.run(None, {name: batch[i : i + 32]})[0] for i in range(0, len(batch), 32)])
        return binarize(out)[..., 0] > 0.5

    return run


def face_scores(models: Path, crops: list[np.ndarray], masks: list[np.ndarray], truths: list[np.ndarray]):
    """Face G's (PSNR, SSIM) in each drawn mask, the pipeline's way (`restore.restore_batch`: Mask G's region, noise
    seeded by the crop, the rim), or None when the folder has no face_g.onnx."""
    if not (models / "face_g.onnx").is_file():
        return None
    sessions = [ort.InferenceSession(str(models / f), providers=["CPUExecutionProvider"]) for f in MODEL_FILES]

    def runner(session):
        name = session.get_inputs()[0].name
        return lambda x: np.concatenate([session.run(None, {name: x[i : i + 32]})[0] for i in range(0, len(x), 32)])

    x = np.stack(crops).astype(np.float32) / 127.5 - 1
    _, restored = restore_batch(x, runner(sessions[0]), runner(sessions[1]))
    restored = np.clip((restored + 1) * 127.5, 0, 255).round().astype(np.uint8)
    return np.array(
        [(psnr(r, t, m), ssim(r, t, m)) for r, t, m in zip(restored, truths, masks, strict=True)], np.float64
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--models", type=Path, action="append", help="model folders (default: exported)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--without-eye-check", action="store_true", help="dlib's landmarks alone, as before")
    parser.add_argument("--json-file", type=Path)
    args = parser.parse_args()
    if args.without_eye_check:
        face_module.EYES_DISAGREE = float("inf")
    models = args.models or [Path("exported")]
    styles = registry.names(registry.SYNTHESIZERS)
    cases = make_cases(args.data, styles, args.limit)
    clean, found_, drift = crops(cases)
    found = [i for i, x in enumerate(found_["crops"]) if x is not None]
    result = {"data": str(args.data), "cases": len(cases), "eye_check": not args.without_eye_check, "drift": drift}
    result["models"] = {}
    for folder in models:
        run = mask_g(folder)
        on_clean = run(clean["crops"])
        on_found = run([found_["crops"][i] for i in found])
        clean_iou = np.array([iou(p, t) for p, t in zip(on_clean, clean["masks"], strict=True)])
        found_iou = np.array([iou(p, found_["masks"][i]) for p, i in zip(on_found, found, strict=True)])
        style_of = np.array([c.style for c in cases])
        figures = {
            "iou_clean_alignment": float(clean_iou.mean()),
            "iou_found_alignment": float(found_iou.mean()),
            "iou_found_alignment_p10": float(np.percentile(found_iou, 10)),
            "iou_same_faces_clean_alignment": float(clean_iou[found].mean()),
            "per_style_found": {s: float(found_iou[style_of[found] == s].mean()) for s in styles},
        }
        same = {k: [v[i] for i in found] for k, v in clean.items()}
        on_clean_faces = face_scores(folder, same["crops"], same["masks"], same["truths"])
        if on_clean_faces is not None:
            refound = ([found_[k][i] for i in found] for k in ("crops", "masks", "truths"))
            on_found_faces = face_scores(folder, *refound)
            for key, scores in (("face_g_clean_alignment", on_clean_faces), ("face_g_found_alignment", on_found_faces)):
                psnr_mean, ssim_mean = scores.mean(0).round(3).tolist()
                figures[key] = {"psnr": psnr_mean, "ssim": ssim_mean}
        result["models"][str(folder)] = figures
    table = Table(title=f"Mask G IoU, {len(cases)} cases ({len(found)} found again on the masked face)")
    columns = ("models", "clean alignment", "same faces, clean", "found on masked face", "p10 found")
    for col in (*columns, "Face G PSNR / SSIM clean", "found"):
        table.add_column(col, justify="right" if col != "models" else "left")
    for folder, r in result["models"].items():
        table.add_row(
            folder,
            f"{r['iou_clean_alignment']:.3f}",
            f"{r['iou_same_faces_clean_alignment']:.3f}",
            f"{r['iou_found_alignment']:.3f}",
            f"{r['iou_found_alignment_p10']:.3f}",
            *(
                f"{r[k]['psnr']:.2f} / {r[k]['ssim']:.3f}" if k in r else "-"
                for k in ("face_g_clean_alignment", "face_g_found_alignment")
            ),
        )
    console = Console()
    console.print(table)
    console.print(f"alignment drift: {json.dumps(drift)}")
    if args.json_file:
        args.json_file.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
