"""`unmask evaluate`: quality on real faces with synthesized masks, the model against the classical baselines.

Every face of DATA is aligned, and every chosen style draws a mask on it with a fixed seed; each backend then
restores the masked crop. Mask G is scored against the drawn mask (IoU, Dice); the restoration against the clean
face on the drawn mask's region and on the whole crop (PSNR, SSIM), for sharpness (texture ratio: Laplacian
variance inside the mask eroded by 5 px, restored over truth, median over faces) and for identity (distance of
dlib's face descriptors between restored and clean face; dlib calls < 0.6 the same person).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from unmask_cli import metrics, registry
from unmask_cli.data import source_bytes
from unmask_cli.faces import Face, align, detect_faces, model_file, transform_points
from unmask_cli.images import ImageError, iter_images, read_rgb
from unmask_cli.restore import MIN_MASK_FRACTION, binarize


@dataclass
class Case:
    source: str
    style: str
    clean: np.ndarray  # S×S×3 uint8
    masked: np.ndarray
    mask: np.ndarray  # S×S 0/1
    landmarks: np.ndarray  # 68×2 in crop pixels
    clean_descriptor: np.ndarray | None = None


@dataclass
class BackendScores:
    backend: str
    description: str
    rows: list[dict[str, float]] = field(default_factory=list)  # one per case
    outputs: list[np.ndarray] = field(default_factory=list)  # restored crops (uint8), for the sheet
    bare_faces_restored: float | None = None  # see bare_faces_restored()

    def summary(self) -> dict[str, float]:
        def col(key):
            return np.array([r[key] for r in self.rows], float)

        return {
            "iou": float(np.nanmean(col("iou"))),
            "dice": float(np.nanmean(col("dice"))),
            "region_iou": float(np.nanmean(col("region_iou"))),
            "region_coverage": float(np.nanmean(col("region_coverage"))),
            "psnr_masked": float(np.nanmean(col("psnr_masked"))),
            "ssim_masked": float(np.nanmean(col("ssim_masked"))),
            "psnr_face": float(np.nanmean(col("psnr_face"))),
            "ssim_face": float(np.nanmean(col("ssim_face"))),
            "texture_ratio": float(np.nanmedian(col("texture_ratio"))),
            "identity_distance": float(np.nanmean(col("identity_distance"))),
            "faces": len(self.rows),
            "bare_faces_restored": self.bare_faces_restored,
        }

    def per_style(self, key: str = "iou") -> dict[str, float]:
        styles = sorted({r["style"] for r in self.rows})
        return {s: float(np.nanmean([r[key] for r in self.rows if r["style"] == s])) for s in styles}


def first_face(path: Path) -> tuple[np.ndarray, Face]:
    """(RGB image, its first face), or raise ImageError with the one-line reason the photo cannot be used."""
    rgb = read_rgb(path)
    try:
        faces = detect_faces(rgb)
    except Exception as exc:  # dlib fails on some shapes (extreme aspect ratios): one line, the rest goes on
        first = next(iter(str(exc).strip().splitlines()), "")
        raise ImageError(f"face detection failed ({type(exc).__name__}: {first})") from exc
    if not faces:
        raise ImageError("no face found")
    return rgb, faces[0]


def style_rng(photo_name: str, style: str) -> np.random.Generator:
    """The mask a style draws on a photo is seeded from the photo's name and the style: the same on every run."""
    return np.random.default_rng([zlib.crc32(source_bytes(photo_name)), zlib.crc32(style.encode())])


def make_cases(
    data: Path,
    styles: Sequence[str],
    size: int,
    limit: int | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Case]:
    """Aligned faces of DATA, each wearing every style (seed from the photo's name: the same on every run).
    A photo that cannot be used is reported through `on_skip(path, reason)` and left out; `on_progress(done,
    total)` follows the photos."""
    cases = []
    paths = list(iter_images([Path(data)]))[:limit] if limit else list(iter_images([Path(data)]))
    for done, path in enumerate(paths):
        if on_progress:
            on_progress(done, len(paths))
        try:
            rgb, face = first_face(path)
        except ImageError as exc:
            if on_skip:
                on_skip(path, str(exc))
            continue
        crop, matrix = align(rgb, face.landmarks, size)
        lm = transform_points(matrix, face.landmarks)
        for style in styles:
            rng = style_rng(path.name, style)
            try:
                masked, mask = registry.load_synthesizer(style)(crop, lm, rng)
                registry.check_style_output(style, crop, masked, mask)
            except registry.PluginError:
                raise
            except Exception as exc:  # a third-party style that fails on this face: said, the others go on
                if on_skip:
                    on_skip(path, f"style '{style}' failed: {type(exc).__name__}: {exc}".splitlines()[0])
                continue
            cases.append(Case(path.name, style, crop, masked, mask, lm))
    return cases


@cache
def _face_descriptor_models():
    import dlib

    return (dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat"))),)


def face_descriptor(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """dlib's 128-D face descriptor of an aligned crop, at the given 68 landmarks."""
    import dlib

    (net,) = _face_descriptor_models()
    pts = [dlib.point(int(x), int(y)) for x, y in np.round(landmarks).astype(int)]
    x0, y0 = np.floor(landmarks.min(0)).astype(int)
    x1, y1 = np.ceil(landmarks.max(0)).astype(int)
    shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), pts)
    return np.array(net.compute_face_descriptor(np.ascontiguousarray(image), shape))


def identity_distance(restored: np.ndarray, case: Case) -> float:
    """Distance between the descriptors of the restored and the clean face (the clean one computed once)."""
    if case.clean_descriptor is None:
        case.clean_descriptor = face_descriptor(case.clean, case.landmarks)
    return float(np.linalg.norm(face_descriptor(restored, case.landmarks) - case.clean_descriptor))


def score(
    cases: list[Case], backend, batch: int = 16, on_progress: Callable[[int, int], None] | None = None
) -> BackendScores:
    low, high = backend.value_range
    rows, outputs = [], []
    for start in range(0, len(cases), batch):
        if on_progress:
            on_progress(start, len(cases))
        chunk = cases[start : start + batch]
        x = np.stack([c.masked for c in chunk]).astype(np.float32) / 255.0 * (high - low) + low
        masks, restored = backend.run(x)
        restored = np.clip((restored - low) / (high - low) * 255.0, 0, 255).round().astype(np.uint8)
        regions = masks[..., 0] > 0.5
        # Mask G is scored on its own segmentation; the region actually replaced is that, cleaned and grown by
        # restore.GROW_PX to cover the rim, and gets its own figure.
        segments = backend.mask_fn(x)[..., 0] > backend.threshold if hasattr(backend, "mask_fn") else regions
        for case, pred, region, out in zip(chunk, segments, regions, restored, strict=True):
            truth = case.mask > 0
            rows.append(
                {
                    "source": case.source,
                    "style": case.style,
                    "iou": metrics.iou(pred, truth),
                    "dice": metrics.dice(pred, truth),
                    "region_iou": metrics.iou(region, truth),
                    "region_coverage": float((region & truth).sum() / max(truth.sum(), 1)),
                    "psnr_masked": metrics.psnr(out, case.clean, truth),
                    "ssim_masked": metrics.ssim(out, case.clean, truth),
                    "psnr_face": metrics.psnr(out, case.clean),
                    "ssim_face": metrics.ssim(out, case.clean),
                    "texture_ratio": metrics.texture_ratio(out, case.clean, truth),
                    "identity_distance": identity_distance(out, case),
                }
            )
            outputs.append(out)
    return BackendScores(backend.name, getattr(backend, "description", backend.name), rows, outputs)


def replaced_regions(backend, crops: list[np.ndarray], batch: int = 16) -> np.ndarray:
    """The region `infer` would replace in each uint8 crop (N×S×S bool): Mask G's mask as binarized, empty where
    the backend's presence check finds no mask."""
    low, high = backend.value_range
    out = []
    for start in range(0, len(crops), batch):
        x = np.stack(crops[start : start + batch]).astype(np.float32) / 255.0 * (high - low) + low
        out.append(binarize(backend.mask_fn(x), backend.threshold)[..., 0] > 0)
    return np.concatenate(out)


def pasted_share(backend, crops: list[np.ndarray], batch: int = 16) -> float:
    """Share of uint8 crops whose replaced region is big enough for `infer` to paste the restoration."""
    regions = replaced_regions(backend, crops, batch)
    return float((regions.reshape(len(crops), -1).mean(1) >= MIN_MASK_FRACTION).mean())


def bare_faces_restored(cases: list[Case], backend, batch: int = 16) -> float | None:
    """Share of the faces, without any mask drawn on them, whose restoration `unmask infer` would paste: Mask G
    must leave a bare face alone (a group photo has bare faces next to masked ones). None without a Mask G."""
    if not hasattr(backend, "mask_fn"):
        return None
    return pasted_share(backend, list({c.source: c.clean for c in cases}.values()), batch)


def evaluate(
    data: Path,
    backends: Sequence[str],
    styles: Sequence[str] | None,
    models_dir: Path,
    limit: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    backend_options: dict | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
) -> tuple[list[Case], list[BackendScores]]:
    """Every backend's scores on DATA's faces wearing every style; `on_progress(stage, done, total)` follows the
    photos ("faces") and then each backend's cases (its name)."""
    if not Path(data).exists():
        raise FileNotFoundError(f"{data}: no such file or folder")
    styles = list(styles or registry.names(registry.SYNTHESIZERS))
    instances = []
    for name in backends:
        instances.append(registry.open_backend(name, models_dir=Path(models_dir), **(backend_options or {})))
    size = instances[0].input_size

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if on_progress is None else lambda done, total: on_progress(name, done, total)

    cases = make_cases(data, styles, size, limit, on_skip, stage("faces"))
    if not cases:
        raise FileNotFoundError(f"{data}: no face found to evaluate on")
    results = []
    for backend in instances:
        scores = score(cases, backend, on_progress=stage(backend.name))
        scores.bare_faces_restored = bare_faces_restored(cases, backend)
        results.append(scores)
    return cases, results


def sheet(cases: list[Case], results: list[BackendScores], count: int = 16) -> np.ndarray:
    """Rows of faces: masked | each backend's restoration | truth."""
    from unmask_cli.sheets import grid

    step = max(1, len(cases) // count)
    picked = list(range(0, len(cases), step))[:count]
    rows = [[cases[i].masked, *(r.outputs[i] for r in results), cases[i].clean] for i in picked]
    return grid(rows, 128, col_labels=["masked", *(r.backend for r in results), "truth"])
