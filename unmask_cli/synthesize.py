"""`unmask synthesize`: clean face photos → (clean, masked, mask) training triples, resumable and parallel."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unmask_cli import data, registry
from unmask_cli.faces import align, detect_faces, transform_points
from unmask_cli.images import ImageError, iter_images, read_rgb, resolved, write_atomic, write_bytes_atomic
from unmask_cli.outputs import OutputPathError, check_writable_folder
from unmask_cli.workers import WORKER_DIED, Workers, ordered_ahead

MIN_FACE_FRACTION = 0.25  # a face box narrower than this share of S would be upscaled into mush


class DatasetError(ValueError):
    """OUT cannot take this dataset (not a folder, not writable, unreadable config); one line naming the path."""


class ConfigMismatch(DatasetError):
    """OUT holds a dataset made with other settings."""


@dataclass(frozen=True)
class SynthesisConfig:
    style: str = "random"  # a style name, or "random" for a different installed style per sample
    seed: int = 0
    size: int = 128
    variants: int = 1  # masked versions of every face
    styles: tuple[str, ...] = ()  # styles "random" draws from; filled in by `resolve_styles`


@dataclass
class PhotoResult:
    source: str
    faces: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None  # reason the photo gave nothing
    face_skips: list[str] = field(default_factory=list)  # reasons single faces were dropped
    # a failure that says nothing about the photo (a full disk, a crashed worker or style plugin): not recorded in
    # skipped.jsonl, so the rerun that a user makes after fixing it does the photo
    retry: bool = False
    disk_full: bool = False


@dataclass
class Summary:
    photos: int = 0
    already_done: int = 0
    failed: int = 0  # photos that failed for a reason a rerun may not meet (left out of skipped.jsonl)
    faces: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)


def resolve_styles(style: str) -> tuple[tuple[str, ...], list[str]]:
    """Styles to use and the one-line errors of installed styles that failed to load (left out)."""
    if style != "random":
        registry.load_synthesizer(style)  # raises PluginError naming it
        return (style,), []
    usable, errors = [], []
    for name in registry.names(registry.SYNTHESIZERS):
        try:
            registry.load_synthesizer(name)
            usable.append(name)
        except registry.PluginError as exc:
            errors.append(str(exc))
    if not usable:
        raise registry.PluginError("no usable mask style is installed (group unmask.synthesizers)")
    return tuple(usable), errors


def sample_rng(seed: int, source: str, face_index: int, variant: int) -> np.random.Generator:
    """One generator per sample, from the run seed and the sample's identity: order and workers don't matter."""
    return np.random.default_rng([seed, zlib.crc32(data.source_bytes(source)), face_index, variant])


def process_photo(path: Path, source: str, out: Path, config: SynthesisConfig) -> PhotoResult:
    result = PhotoResult(source=source)
    try:
        rgb = read_rgb(path)
    except ImageError as exc:
        result.skipped = f"unreadable: {exc}"
        # a file the system would not give (no permission, an I/O error, a lost drive) says nothing about the
        # photo: not recorded as skipped for good, the rerun after the cause is fixed reads it (a broken link or a
        # link loop is the file's own fault; a decoder's OSError has no errno)
        cause = exc.__cause__
        result.retry = isinstance(cause, OSError) and cause.errno not in (None, errno.ENOENT, errno.ELOOP)
        return result
    faces = detect_faces(rgb)
    result.faces = len(faces)
    if not faces:
        result.skipped = "no face found"
        return result
    for index, face in enumerate(faces):
        width = face.box[2] - face.box[0]
        if width < MIN_FACE_FRACTION * config.size:
            result.face_skips.append(f"face too small ({width} px wide, need {MIN_FACE_FRACTION * config.size:.0f})")
            continue
        crop, matrix = align(rgb, face.landmarks, config.size)
        landmarks = transform_points(matrix, face.landmarks)
        clean_rel = f"clean/{data.face_key(source, index)}.png"
        write_atomic(out / clean_rel, crop)
        for variant in range(config.variants):
            rng = sample_rng(config.seed, source, index, variant)
            style = config.styles[rng.integers(len(config.styles))] if len(config.styles) > 1 else config.styles[0]
            masked, mask = registry.load_synthesizer(style)(crop, landmarks, rng)
            registry.check_style_output(style, crop, masked, mask)
            key = data.sample_key(source, index, variant)
            write_atomic(out / f"masked/{key}.png", masked)
            write_atomic(out / f"mask/{key}.png", mask * 255)
            result.records.append(
                {
                    "id": key,
                    "source": source,
                    "face": index,
                    "variant": variant,
                    "style": style,
                    "seed": config.seed,
                    "size": config.size,
                    "clean": clean_rel,
                    "masked": f"masked/{key}.png",
                    "mask": f"mask/{key}.png",
                    "landmarks": np.round(landmarks.astype(np.float64), 1).tolist(),
                    "box": list(face.box),
                }
            )
    if not result.records and result.face_skips:
        result.skipped = result.face_skips[0]
    return result


def prepare_out(out: Path) -> None:
    """Create OUT and its image folders, each proven writable, so that a bad OUT is one line before any photo is
    read rather than a traceback in the middle."""
    for folder in (out, *(out / sub for sub in data.OUTPUT_DIRS)):
        try:
            check_writable_folder(folder)
        except OutputPathError as exc:
            raise DatasetError(str(exc)) from exc


def remove_empty_dataset(out: Path) -> None:
    """Remove what `check_config` made in a new OUT (config.json, the empty image folders, OUT itself) when no
    photo came; anything else found there stays."""
    with contextlib.suppress(OSError):
        (out / data.CONFIG).unlink()
        for folder in (*(out / sub for sub in data.OUTPUT_DIRS), out):
            folder.rmdir()  # only if empty: raises (and stops) otherwise


def _read_config(path: Path) -> dict[str, Any]:
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise DatasetError(
            f"{path}: unreadable ({reason}); restore it, or delete it to resume with the same settings"
        ) from exc
    if not isinstance(have, dict):
        raise DatasetError(f"{path}: not a dataset config (a JSON object expected); restore or delete it")
    return have


def check_config(out: Path, config: SynthesisConfig) -> None:
    """A rerun resumes only into a folder made with the same settings, so one dataset never mixes two."""
    out = Path(out)
    path = out / data.CONFIG
    wanted = {k: v for k, v in asdict(config).items() if k != "styles"}
    if not path.exists():
        _check_without_config(out, wanted)
    prepare_out(out)
    if path.exists():
        have = _read_config(path)
        diff = {k: (have.get(k), v) for k, v in wanted.items() if have.get(k) != v}
        if diff:
            said = ", ".join(f"{k}={a} (now {b})" for k, (a, b) in diff.items())
            raise ConfigMismatch(f"{out} was made with {said}; use a new output folder")
    else:
        try:
            write_bytes_atomic(path, json.dumps(wanted, indent=2).encode())
        except OSError as exc:
            raise DatasetError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _check_without_config(out: Path, wanted: dict[str, Any]) -> None:
    """An OUT without config.json may still hold a dataset (its config deleted, as a damaged one's error offers) or
    another tool's files: samples are appended only to a manifest whose samples were made with these settings,
    and never into a folder of someone else's images or manifest."""
    records = list(data.read_jsonl(out / data.MANIFEST))
    samples = [r for r in records if data.is_sample(r)]
    if records and not samples:
        raise DatasetError(
            f"{out / data.MANIFEST}: not an unmask dataset's manifest (no config.json either); use a new output folder"
        )
    if samples:
        made = {
            "seed": {r.get("seed") for r in samples},
            "size": {r.get("size") for r in samples},
            "variants": {max((r["variant"] for r in samples if isinstance(r.get("variant"), int)), default=0) + 1},
        }
        if wanted["style"] != "random":
            made["style"] = {r.get("style") for r in samples}
        diff = {k: sorted(map(str, v)) for k, v in made.items() if v != {wanted[k]}}
        if diff:
            said = ", ".join(f"{k}={'/'.join(v)} (now {wanted[k]})" for k, v in diff.items())
            raise ConfigMismatch(
                f"{out} (its config.json gone) holds samples made with {said}; use a new output folder"
            )
        return
    own = [sub for sub in data.OUTPUT_DIRS if (out / sub).is_dir() and any((out / sub).iterdir())]
    if own:
        raise DatasetError(
            f"{out}: {'/, '.join(own)}/ hold files and there is no config.json or manifest: not an unmask dataset; "
            "use a new output folder"
        )


_WORKER: dict[str, Any] = {}


def _init_worker(out: Path, config: SynthesisConfig) -> None:
    _WORKER.update(out=out, config=config)


def _work(item: tuple[str, str]) -> PhotoResult:
    path, source = item
    try:
        return process_photo(Path(path), source, _WORKER["out"], _WORKER["config"])
    except Exception as exc:  # one bad photo never stops the batch
        reason = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
        # a full disk fails every photo after it alike: the run stops at once (run raises) instead of a line each
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        return PhotoResult(source=source, skipped=reason, retry=True, disk_full=full)


def is_own_output(path: Path, out: Path) -> bool:
    """Whether `path` is an image this dataset wrote: with OUT inside SRC, a rerun must not read them back as
    photos (the whole of OUT is not excluded, so that `synthesize faces faces` still finds the photos)."""
    here = resolved(path)
    return any(here.is_relative_to(resolved(Path(out) / sub)) for sub in data.OUTPUT_DIRS)


def _in_a_dataset(path: Path, src: Path, known: dict[Path, bool]) -> bool:
    """Whether `path` is an image of another unmask dataset under `src` (in the clean/, masked/ or mask/ folder
    beside a config.json and a manifest): a second dataset made inside SRC read the first one's crops as photos,
    duplicate faces on both sides of the validation split and masked faces taken for clean ones. `known` caches
    the verdict per folder."""
    for folder in path.parents:
        if folder == src or not folder.is_relative_to(src):  # SRC itself is what the user asked for
            return False
        if folder.name in data.OUTPUT_DIRS:
            root = folder.parent
            if root not in known:
                known[root] = (root / data.CONFIG).is_file() and (root / data.MANIFEST).is_file()
            if known[root]:
                return True
    return False


def plan(src: Path, out: Path, limit: int | None) -> tuple[list[tuple[str, str]], int]:
    """(photos still to do as (path, source-relative name), count already done by an earlier run)."""
    src = Path(src)
    # (a line of another shape names no photo: its photo, if any, is simply made again)
    done = {r["source"] for r in data.read_jsonl(out / data.MANIFEST) if data.is_sample(r)}
    done |= {
        r["source"]
        for r in data.read_jsonl(out / data.SKIPPED)
        if isinstance(r, dict) and isinstance(r.get("source"), str)
    }
    datasets: dict[Path, bool] = {}
    paths = [p for p in iter_images([src]) if not is_own_output(p, out) and not _in_a_dataset(p, src, datasets)]
    if limit is not None:
        paths = paths[:limit]
    base = src if src.is_dir() else src.parent
    items = [(str(p), p.relative_to(base).as_posix()) for p in paths]
    todo = [it for it in items if it[1] not in done]
    return todo, len(items) - len(todo)


def run(
    src: Path,
    out: Path,
    config: SynthesisConfig,
    limit: int | None = None,
    workers: int | None = None,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[PhotoResult], None] | None = None,
) -> Summary:
    """Synthesize every face under `src` into `out`; photos done by an earlier run are skipped."""
    out = Path(out)
    check_config(out, config)
    todo, already = plan(src, out, limit)
    summary = Summary(photos=len(todo) + already, already_done=already)
    if on_start:
        on_start(len(todo))
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(todo) >= 32:
        # a worker that dies costs its photo (one line), not the run: multiprocessing.Pool waited for it forever
        pool = Workers(workers, "fork", _init_worker, (out, config))
        results = ordered_ahead(
            pool,
            _work,
            todo,
            window=8 * workers,
            died=lambda item: PhotoResult(source=item[1], skipped=WORKER_DIED, retry=True),
        )
    else:
        pool = None
        _init_worker(out, config)
        results = map(_work, todo)
    try:
        for result in results:
            summary.faces += result.faces
            summary.written += len(result.records)
            if result.records:
                data.append_jsonl(out / data.MANIFEST, result.records)
            if result.skipped:
                summary.skipped[result.skipped.split(":")[0].split(" (")[0]] += 1
                summary.failed += result.retry
                if not result.retry:
                    data.append_jsonl(out / data.SKIPPED, [{"source": result.source, "reason": result.skipped}])
                if result.disk_full:  # said once by the command, which tells the user a rerun resumes
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            elif result.face_skips:
                for reason in result.face_skips:
                    summary.skipped[reason.split(" (")[0]] += 1
            if on_result:
                on_result(result)
    finally:
        if pool is not None:
            pool.close()
    return summary
