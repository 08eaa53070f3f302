"""Inference, backend-agnostic: photos in, photos out with every masked face restored.

photo → faces (dlib, robust to masks) → aligned S×S crops, batched across photos → backend (Mask G, noise,
Face G, composite) → inverse warp + feathered blend into the full-resolution photo (and a mask strip hanging
below the crop inpainted, see below_crop) → written atomically. Only pixels under a face's restored mask and its
1-px rim change; everything else in the photo is left bit-identical.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from unmask_cli import __version__, below_crop, grain, registry
from unmask_cli.faces import (
    TRUSTED_DETECTORS,
    Box,
    Face,
    align,
    crop_footprint,
    crop_scale,
    detect_faces,
    mask_where_a_mask_belongs,
    restored_is_a_face,
    warp_back,
    weak_candidates,
)
from unmask_cli.images import (
    ImageError,
    Photo,
    as_written,
    is_folder,
    iter_images,
    read_photo,
    remove_stale_temp_files,
    resolved,
    writable_name,
    write_atomic,
)
from unmask_cli.restore import MIN_MASK_FRACTION, with_rim
from unmask_cli.workers import WORKER_DIED, Workers, ordered_ahead
from unmask_cli.written import WrittenRecord, fingerprint, same_photo

FEATHER_PX = 2.0  # blur of the blend mask, in crop pixels: hides the seam without touching pixels beyond it
REGRAIN = True  # the photo's grain on an enlarged, smoother fill (grain.regrain); off only to measure
LOW_PASS_ON_PASTE = True  # low-pass a crop before shrinking it onto a small face (paste_back); off only to measure
STAGES = ("decode", "detect", "align", "model", "blend", "encode")
# the skip reason when something was detected but only by detectors whose hits must restore into a face, and none did
NOT_A_FACE = "no face found (the uncertain detections did not restore into a face)"
NO_FACE = "no face found"
NO_MASK = "no face mask found on the detected face(s)"
NOTHING_TO_RESTORE = frozenset({NO_FACE, NO_MASK, NOT_A_FACE})  # skips that are answers, not failures


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    detector: str
    restored: bool
    mask_fraction: float
    mask_in_place: bool  # the mask covers the template's nose tip and mouth and leaves the eyes free
    filled_below: bool = False  # the mask hung below the crop and that strip was inpainted (below_crop)
    filled_beside: bool = False  # the mask ran on past the crop's side (a turned face's far ear), inpainted too


@dataclass
class PhotoResult:
    source: Path
    output: Path | None = None
    faces: list[FaceResult] = field(default_factory=list)
    skipped: str | None = None  # reason nothing was written
    note: str | None = None  # written, but with something the user should know (only the first frame...)
    before: np.ndarray | None = None  # kept only when a contact sheet is wanted
    after: np.ndarray | None = None

    @property
    def restored(self) -> int:
        return sum(f.restored for f in self.faces)

    @property
    def failed(self) -> bool:
        """Skipped for a reason the user must act on (unreadable, unwritable, refused), not for what it shows."""
        return bool(self.skipped) and self.skipped not in NOTHING_TO_RESTORE


@dataclass
class Summary:
    photos: int = 0
    already_done: int = 0
    already_answered: int = 0  # photos a run with the same settings found no masked face in: not asked again
    written: int = 0
    faces: int = 0
    restored: int = 0
    masks_in_place: int = 0
    filled_below: int = 0
    filled_beside: int = 0
    skipped: Counter = field(default_factory=Counter)
    failed: int = 0  # photos skipped because they could not be read or written, or were refused (not: no face)
    empty_folders: list[Path] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    seconds: float = 0.0


def find_faces(rgb: np.ndarray, robust: bool = True) -> list[Face]:
    """Faces to try: HOG's and BlazeFace's, then (robust) the slow fallbacks, or else faint candidates (kept later
    only if Mask G confirms a mask)."""
    faces = detect_faces(rgb, robust=robust, blaze=True)
    if not faces and robust:
        faces = weak_candidates(rgb)
    return faces


def _decode_and_detect(job: tuple[Path, bool]) -> tuple[Photo | None, list[Face], str | None, float, float]:
    """(photo, faces, error, decode seconds, detect seconds) for one photo; runs in a worker process."""
    source, robust = job
    start = time.perf_counter()
    try:
        photo = read_photo(source)
    except ImageError as exc:
        return None, [], str(exc), time.perf_counter() - start, 0.0
    decoded = time.perf_counter()
    try:
        faces = find_faces(photo.rgb, robust)
    except Exception as exc:  # one odd photo (dlib refusing its size or layout) must not stop the batch
        detail = " ".join(str(exc).split())[:160]  # native libraries raise multi-line essays: keep one line
        return None, [], f"face detection failed ({type(exc).__name__}: {detail})", decoded - start, 0.0
    return photo, faces, None, decoded - start, time.perf_counter() - decoded


@dataclass
class _Pending:
    result: PhotoResult
    rgb: np.ndarray
    faces: list[Face]
    crops: list[np.ndarray]
    matrices: list[np.ndarray]
    mask_union: np.ndarray | None = None  # blend weights of every restored face, for --save-mask
    photo: Photo | None = None  # the decoded file, for what 8-bit RGB loses (alpha, depth) when writing


class Unmasker:
    """Restore masked faces in photos with any installed backend.

    >>> unmasker = Unmasker("exported")                        # onnxruntime, best available provider
    >>> restored_rgb, faces = unmasker.restore_photo(rgb)      # one RGB uint8 photo in memory
    >>> summary = unmasker.run(["photos/"], out="restored/")   # folders and files, resumable
    """

    def __init__(
        self,
        models_dir: Path | str = "exported",
        backend: str = "onnxruntime",
        batch: int = 8,
        robust_detection: bool = True,
        workers: int | None = None,
        **backend_options,
    ):
        self.backend = registry.open_backend(backend, models_dir=Path(models_dir), **backend_options)
        self.size = int(self.backend.input_size)
        self.low, self.high = self.backend.value_range
        self.batch = max(1, batch)
        self.robust = robust_detection
        self.workers = (os.cpu_count() or 1) if workers is None else max(1, workers)
        # what a photo's "no face" or "no mask" answer depends on: a rerun with other settings asks again
        description = getattr(self.backend, "description", backend)
        detection = "all detectors" if robust_detection else "fast detection"
        self.settings = f"unmask {__version__}; {description}; models {resolved(models_dir)}; {detection}"
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)

    # -- one photo in memory -------------------------------------------------------------------------------------
    def restore_photo(self, rgb: np.ndarray) -> tuple[np.ndarray, list[FaceResult]]:
        pending = self._prepare(PhotoResult(source=Path("<memory>")), rgb)
        self._restore([pending])
        return pending.rgb, pending.result.faces

    # -- stages --------------------------------------------------------------------------------------------------
    def _timed(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - start
        return now

    def _prepare(self, result: PhotoResult, rgb: np.ndarray, faces: list[Face] | None = None) -> _Pending:
        t = time.perf_counter()
        if faces is None:
            faces = find_faces(rgb, self.robust)
            t = self._timed("detect", t)
        crops, matrices = [], []
        for face in faces:
            crop, matrix = align(rgb, face.landmarks, self.size)
            crops.append(crop)
            matrices.append(matrix)
        self._timed("align", t)
        return _Pending(result, rgb.copy(), faces, crops, matrices)

    def _to_model(self, crops: list[np.ndarray]) -> np.ndarray:
        x = np.stack(crops).astype(np.float32) / 255.0
        return x * (self.high - self.low) + self.low

    def _from_model(self, x: np.ndarray) -> np.ndarray:
        x = (x - self.low) / (self.high - self.low)
        return np.clip(x * 255.0, 0, 255).round().astype(np.uint8)

    def _restore(self, group: list[_Pending]) -> None:
        """Run the backend on every face of `group` in batches, then blend each result into its photo."""
        items = [(p, i) for p in group for i in range(len(p.crops))]
        for start in range(0, len(items), self.batch):
            chunk = items[start : start + self.batch]
            t = time.perf_counter()
            masks, restored = self.backend.run(self._to_model([p.crops[i] for p, i in chunk]))
            t = self._timed("model", t)
            for (pending, i), mask, crop in zip(chunk, masks, restored, strict=True):
                face = pending.faces[i]
                fraction = float(mask.mean())
                in_place = mask_where_a_mask_belongs(mask[..., 0])
                if face.detector == "weak" and not in_place:
                    continue  # an unconfirmed faint detection: not a face
                restored_crop = self._from_model(crop)
                if face.detector not in TRUSTED_DETECTORS and not restored_is_a_face(restored_crop):
                    continue  # a fallback detector's hit whose restoration is no face: a wall, text, fabric
                done = fraction >= MIN_MASK_FRACTION
                below = beside = None
                if done:
                    # found on the photo as it was: GrabCut learns the mask's colours from the crop
                    below = below_crop.region_below(pending.rgb, mask[..., 0], pending.matrices[i])
                    beside = below_crop.region_beside(pending.rgb, mask[..., 0], pending.matrices[i])
                    weight, box = paste_back(pending.rgb, restored_crop, mask[..., 0], pending.matrices[i])
                    if pending.mask_union is None:  # zeros: the pages of the photo no face touches stay unwritten
                        pending.mask_union = np.zeros(pending.rgb.shape[:2], np.float32)
                    np.maximum(pending.mask_union[box], weight, out=pending.mask_union[box])
                    for outside in (below, beside):
                        if outside is not None:
                            below_crop.fill(pending.rgb, outside)
                            x, y, w, h = cv2.boundingRect(outside)  # the union over the strip's box, not the photo
                            strip = (slice(y, y + h), slice(x, x + w))
                            np.maximum(pending.mask_union[strip], outside[strip], out=pending.mask_union[strip])
                pending.result.faces.append(
                    FaceResult(
                        face.box,
                        face.detector,
                        done,
                        fraction,
                        in_place,
                        filled_below=below is not None,
                        filled_beside=beside is not None,
                    )
                )
            self._timed("blend", t)

    # -- folders -------------------------------------------------------------------------------------------------
    def run(
        self,
        inputs: Iterable[Path | str],
        out: Path | str,
        overwrite: bool = False,
        keep_images: bool = False,
        save_masks: bool = False,
        on_start: Callable[[int], None] | None = None,
        on_result: Callable[[PhotoResult], None] | None = None,
        keep_metadata: bool = True,
    ) -> Summary:
        """Restore every photo under `inputs` into `out` (same relative names and formats; with the photo's ICC
        profile and EXIF unless not `keep_metadata`)."""
        out = Path(out)
        started = time.perf_counter()
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)
        summary = Summary()
        jobs = list(plan_outputs(inputs, out, summary.empty_folders))
        real = [resolved(source) for source, _ in jobs]  # links followed, once per photo
        sources = set(real)
        record = WrittenRecord(out)
        todo, claimed, seen, refused = [], {}, set(), 0
        masks: dict[Path, Path] = {}  # with --save-mask: each photo's mask path → the photo
        for (source, target), real_source in zip(jobs, real, strict=True):
            if real_source in seen:
                continue  # the same photo given twice (as a file and in its folder, or by a link): once is enough
            seen.add(real_source)
            summary.photos += 1
            reason = None
            key = resolved(target)
            mask_key = resolved(mask_path(target)) if save_masks else None
            if key == real_source:
                reason = "output would overwrite the input"
            elif key in sources:
                reason = f"output would overwrite another input photo ({target}; use different --out)"
            elif key in claimed:
                reason = f"same output name as another photo ({claimed[key]} → {target}; use different --out)"
            elif key in masks:  # a photo named like another's mask (a.jpg.mask.png beside a.jpg)
                reason = f"same output name as another photo's mask ({masks[key]} → {target}; use different --out)"
            elif mask_key is not None and (mask_key in claimed or mask_key in sources):  # (no set built per photo)
                reason = f"its mask would be written over another photo or its output ({mask_path(target)})"
            claimed.setdefault(key, source)
            if mask_key is not None and reason is None:
                masks[mask_key] = source
            try:
                taken = reason is None and target.exists()
                if taken:
                    reason, done = _existing_output(record, source, target, overwrite, save_masks)
                    if done:
                        summary.already_done += 1
                        continue
                elif reason is None and save_masks:
                    reason = _foreign_mask(record, target)
                if reason is None and not taken and not overwrite and _answered(record, source, target, self.settings):
                    summary.already_answered += 1  # no face or no mask last time, with these settings
                    continue
            except OSError as exc:  # a name the file system refuses (too long): this photo's problem, not the batch's
                reason = f"cannot use the output name ({exc.strerror or exc}: {target})"
            if reason is not None:
                refused += 1
                self._finish(PhotoResult(source, skipped=reason), summary, on_result)
            else:
                todo.append((source, target))
        # what a kill in the middle of a write left beside the outputs this run writes (a stopped run's rerun)
        remove_stale_temp_files([t for _, t in todo] + ([mask_path(t) for _, t in todo] if save_masks else []))
        if on_start:
            on_start(len(todo) + refused)  # the refused ones have been reported (on_result) already
        with _detector_pool(self.workers, len(todo)) as pool:
            self._run_groups(todo, pool, summary, keep_images, save_masks, on_result, keep_metadata, record)
        summary.stage_seconds = dict(self.stage_seconds)
        summary.seconds = time.perf_counter() - started
        return summary

    def _run_groups(self, todo, pool, summary, keep_images, save_masks, on_result, keep_metadata, record) -> None:
        jobs = [(source, self.robust) for source, _ in todo]
        # decoding and detection (~90% of the time) run ahead in worker processes when there are several photos;
        # the models, blending and writing stay here, in order
        if pool:
            detections = ordered_ahead(
                pool,
                _decode_and_detect,
                jobs,
                window=2 * self.batch + self.workers,
                pixels=_photo_pixels,
                budget=AHEAD_PIXELS,
                died=lambda job: (None, [], WORKER_DIED, 0.0, 0.0),
            )
        else:
            detections = map(_decode_and_detect, jobs)
        for group in _chunks(zip(todo, detections, strict=True), self.batch, weight=_pixels, budget=GROUP_PIXELS):
            pending = []
            for (source, target), (photo, faces, error, decode_s, detect_s) in group:
                result = PhotoResult(source=source, output=target)
                self.stage_seconds["decode"] += decode_s
                self.stage_seconds["detect"] += detect_s
                if error is not None:
                    result.skipped = error
                    self._finish(result, summary, on_result)
                    continue
                item = self._prepare(result, photo.rgb, faces)
                item.photo = photo
                if not item.faces:
                    result.skipped = NO_FACE
                    self._record_answer(record, result)
                    self._finish(result, summary, on_result)
                    continue
                if keep_images:
                    result.before = photo.rgb
                pending.append(item)
            self._restore(pending)
            for item in pending:
                result = item.result
                t = time.perf_counter()
                if result.restored:
                    before = record.photo_of(result.output)
                    try:
                        pixels = as_written(item.photo, item.rgb, result.output.suffix)
                        metadata = item.photo.metadata if keep_metadata else None
                        # recorded first: a kill between the two leaves a line without its output (redone on
                        # the rerun), never an output the rerun would take for someone else's file
                        record.add(result.output, fingerprint(result.source, digest=True))
                        write_atomic(result.output, pixels, metadata=metadata, lossless=item.photo.lossless)
                        if item.photo.frames > 1:
                            result.note = f"only the first of {item.photo.frames} frames/pages restored"
                        if save_masks:
                            write_atomic(mask_path(result.output), photo_mask(item))
                    except (OSError, ImageError) as exc:  # a full disk or a lost folder: say so, go on
                        reason = getattr(exc, "strerror", None) or exc
                        result.skipped = f"cannot write the output ({result.output}: {reason})"
                        with contextlib.suppress(OSError):  # the file there is what it was before
                            if record.photo_of(result.output) != before:
                                record.add(result.output, before)
                elif result.faces:
                    result.skipped = NO_MASK
                    self._record_answer(record, result)
                else:  # every detection was a fallback's false alarm (see _restore): say so, the user may see a face
                    result.skipped = NOT_A_FACE
                    self._record_answer(record, result)
                self._timed("encode", t)
                if keep_images:
                    result.after = item.rgb
                self._finish(result, summary, on_result)

    def _record_answer(self, record: WrittenRecord, result: PhotoResult) -> None:
        """A photo left without an output for what it shows: a rerun with the same settings need not ask again."""
        with contextlib.suppress(OSError):
            if record.photo_of(result.output) is not None and result.output.exists():  # --overwrite found none
                result.skipped += f" (the output an earlier run wrote is left as it is: {result.output})"
        with contextlib.suppress(OSError):  # the record is a shortcut: without it the photo is simply tried again
            record.add(
                result.output, fingerprint(result.source, digest=True), answer=result.skipped, settings=self.settings
            )

    @staticmethod
    def _finish(result: PhotoResult, summary: Summary, on_result) -> None:
        summary.faces += len(result.faces)
        summary.restored += result.restored
        summary.masks_in_place += sum(f.mask_in_place for f in result.faces)
        summary.filled_below += sum(f.filled_below for f in result.faces)
        summary.filled_beside += sum(f.filled_beside for f in result.faces)
        if result.skipped:
            summary.skipped[result.skipped.split(" (")[0]] += 1
            summary.failed += result.failed
        else:
            summary.written += 1  # a photo is written exactly when one of its faces was restored
        if on_result:
            on_result(result)


# Worker processes pay ~1 s to start and load dlib's models: only worth it for a few photos per worker.
MIN_PHOTOS_PER_WORKER = 4


@contextlib.contextmanager
def _detector_pool(workers: int, photos: int):
    """Worker processes for decoding + detection (`workers.Workers`), or None when one process is as fast (few
    photos, one core)."""
    workers = min(workers, photos // MIN_PHOTOS_PER_WORKER)
    if workers < 2:
        yield None
        return
    pool = Workers(workers)  # spawn, not fork: this process already runs onnxruntime's and OpenCV's threads
    try:
        yield pool
    finally:
        pool.close()  # no orphaned workers


# Decoded photos held at once, in pixels: the photos decoded ahead and the group being restored (its photos and
# their copies). By count alone (2 × batch + workers ahead, batch in a group) a folder of 48 MP photos peaked at
# 5.7 GB; photos of a few MP are never held back by it.
AHEAD_PIXELS = 200_000_000
GROUP_PIXELS = 100_000_000


def _photo_pixels(detection) -> int:
    """Pixels of a `_decode_and_detect` result's decoded photo (0 for one that failed to decode)."""
    photo = detection[0]
    return 0 if photo is None else int(photo.rgb.shape[0] * photo.rgb.shape[1])


def _pixels(item) -> int:
    """Pixels of a (job, detection) pair's decoded photo."""
    return _photo_pixels(item[1])


def _chunks(items: Iterable, n: int, weight: Callable[[object], int] | None = None, budget: int = 0) -> Iterator[list]:
    """Lists of up to n items, lazily (the detections behind `items` are computed as the chunks are taken); with
    `weight`, a list also ends once its items weigh `budget` or more together."""
    iterator = iter(items)
    while True:
        chunk, total = [], 0
        for item in iterator:
            chunk.append(item)
            total += weight(item) if weight else 0
            if len(chunk) == n or (weight and total >= budget):
                break
        if not chunk:
            return
        yield chunk


def _answered(record: WrittenRecord, source: Path, target: Path, settings: str) -> bool:
    try:
        return record.answered(target, fingerprint(source), settings, source)
    except OSError:
        return False  # unreadable now: tried again, and then skipped with the reason


def _existing_output(
    record: WrittenRecord, source: Path, target: Path, overwrite: bool, save_masks: bool
) -> tuple[str | None, bool]:
    """(reason to refuse, already done) for a photo whose output path is taken. Only a file this folder's record
    says was restored from this very photo counts as done; one restored from another photo (a same-named photo
    from another run) is redone only with --overwrite; one never written by unmask is never touched."""
    # an output of this very photo is done unless redone on purpose, or its mask is asked for and missing
    done = not overwrite and (not save_masks or mask_path(target).exists())
    written_from = record.photo_of(target)
    if written_from is None:
        return f"output exists and is not one unmask wrote there (left as it is: {target}; use different --out)", False
    try:
        this = fingerprint(source)
    except OSError:
        this = None  # unreadable now: redone, and then skipped with the reason
    if same_photo(written_from, this, source):
        return None, done
    if overwrite:
        return None, False
    name = written_from.get("name")
    return (
        f"output exists, restored from another photo (named {name}; {target}; use different --out or --overwrite)",
        False,
    )


def _foreign_mask(record: WrittenRecord, target: Path) -> str | None:
    """Why `--save-mask` must not write `target`'s mask: a file is there, and the record holds no restoration at
    `target` whose mask it could be (a user's own file)."""
    mask = mask_path(target)
    if mask.exists() and record.photo_of(target) is None:
        return f"mask file exists and is not one unmask wrote there (left as it is: {mask}; use different --out)"
    return None


def plan_outputs(
    inputs: Iterable[Path | str], out: Path, empty_folders: list[Path] | None = None
) -> Iterator[tuple[Path, Path]]:
    """(photo, output path) pairs: folders keep their relative layout under `out`, files go to `out/name`
    (+ ".png" when the name has no image format OpenCV can write). An output folder inside an input folder is not
    read back as input; an input folder inside the output folder is read as usual. A folder holding no photo is
    added to `empty_folders`."""
    for item in inputs:
        item = Path(item)
        base = item if is_folder(item) else item.parent
        # (--out equal to an input folder is no exclusion: each of its photos is then refused one by one)
        inside = resolved(out) != resolved(item) and resolved(out).is_relative_to(resolved(item))
        found = False
        for path in iter_images([item], exclude=out if inside else None):
            found = True
            yield path, writable_name(out / path.relative_to(base))
        if not found and is_folder(item) and empty_folders is not None:
            empty_folders.append(item)


def mask_path(output: Path) -> Path:
    """NAME.EXT.mask.png: `a.jpg` and `a.png` in one folder get different masks, and no photo's output is a mask."""
    return output.with_name(f"{output.name}.mask.png")


def photo_mask(item: _Pending) -> np.ndarray:
    """Where the photo was changed and how much (the blend weights of every restored face), 0–255."""
    if item.mask_union is None:
        return np.zeros(item.rgb.shape[:2], np.uint8)
    return (item.mask_union * 255).round().astype(np.uint8)


def blend_weights(mask: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, Box]:
    """Per-pixel blend weight in the photo: the crop's mask and its rim (`restore.with_rim`), feathered, warped back;
    over the box it lies in (`faces.crop_footprint`), exactly 0 outside it. Returns (weights over the box, the box)."""
    replaced = with_rim(mask).astype(np.float32)
    soft = cv2.GaussianBlur(replaced, (0, 0), FEATHER_PX)
    soft = np.maximum(soft, replaced)  # feather outward only: the mask and its rim are fully replaced
    box = crop_footprint(matrix, mask.shape[0], shape)
    weight = warp_back(soft, matrix, box)
    weight[weight < 1.0 / 255] = 0.0
    return weight, box


def _moved(values: np.ndarray, box: Box, target: Box) -> np.ndarray:
    """`values` over the photo box `box`, taken over the photo box `target` instead (0 where they have none)."""
    out = np.zeros((target[0].stop - target[0].start, target[1].stop - target[1].start), values.dtype)
    (r0, r1), (c0, c1) = ((max(b.start, t.start), min(b.stop, t.stop)) for b, t in zip(box, target, strict=True))
    if r0 < r1 and c0 < c1:
        out[r0 - target[0].start : r1 - target[0].start, c0 - target[1].start : c1 - target[1].start] = values[
            r0 - box[0].start : r1 - box[0].start, c0 - box[1].start : c1 - box[1].start
        ]
    return out


def paste_back(photo: np.ndarray, crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, Box]:
    """Blend a restored S×S crop into `photo` (in place) under its mask; returns the weights used and the box of
    the photo they cover (0 outside it)."""
    scale = crop_scale(matrix)
    if LOW_PASS_ON_PASTE and scale > 1.0:
        # a small face's crop is shrunk by `scale` here, and warpAffine does not low-pass: Face G's stubble and grain
        # would alias into speckle. A Gaussian for that factor, less the blur the crop got from being enlarged.
        crop = cv2.GaussianBlur(crop, (0, 0), 0.5 * np.sqrt(scale**2 - 1.0))
    h, w = photo.shape[:2]
    weight, (rows, cols) = blend_weights(mask, matrix, (h, w))
    ys, xs = np.nonzero(weight)
    if not len(ys):
        return weight, (rows, cols)
    ys, xs = ys + rows.start, xs + cols.start
    # Warp only the bounding box of the region, with a margin where the photo's grain is measured (`grain.regrain`).
    regrain = REGRAIN and scale * grain.FROM_ENLARGEMENT <= 1.0
    pad = grain.ring_width(max(np.ptp(ys), np.ptp(xs))) + 1 if regrain else 0
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + 1 + pad, h)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + 1 + pad, w)
    patch = warp_back(crop, matrix, (slice(y0, y1), slice(x0, x1)), cv2.INTER_CUBIC, cv2.BORDER_REPLICATE)
    a = _moved(weight, (rows, cols), (slice(y0, y1), slice(x0, x1)))  # the grain's margin can reach past the box
    if regrain:
        patch = grain.regrain(patch, photo[y0:y1, x0:x1], a, seed_from=crop)
    a = a[..., None]
    region = photo[y0:y1, x0:x1].astype(np.float32)
    blended = region * (1 - a) + patch.astype(np.float32) * a
    photo[y0:y1, x0:x1] = np.where(a > 0, np.clip(blended, 0, 255).round(), region).astype(np.uint8)
    return weight, (rows, cols)


def stage_shares(summary: Summary) -> dict[str, float]:
    total = sum(summary.stage_seconds.values()) or 1.0
    return {k: v / total for k, v in summary.stage_seconds.items()}
