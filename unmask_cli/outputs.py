"""Checks on the files and folders a command is going to write, made before its long work starts: a bad path is
one line at once rather than a traceback after the whole run."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from unmask_cli.images import IMAGE_SUFFIXES, is_folder, resolved


class OutputPathError(ValueError):
    """An output path that cannot be written; `str()` is one line naming it and why."""


def check_writable_folder(folder: Path) -> None:
    """Create `folder` if needed and prove it writable with a real file (as root, or with ACLs, os.access says
    yes to folders that refuse the write)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".unmask-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(f"{folder}: cannot write there ({exc.strerror or exc})") from exc


def remove_if_new(folder: Path, was_there: bool) -> None:
    """Remove `folder` when this command created it and it is still empty: a start that fails leaves nothing."""
    if not was_there:
        with contextlib.suppress(OSError):  # not empty after all, or gone: leave it
            Path(folder).rmdir()


def _overwrites_input(path: Path, inputs: Sequence[Path]) -> bool:
    """Whether writing `path` would replace one of the input photos (an input file, or an image inside an input
    folder)."""
    if not path.is_file():
        return False
    target = resolved(path)
    for item in map(Path, inputs):
        if target == resolved(item):
            return True
        if is_folder(item) and target.is_relative_to(resolved(item)) and path.suffix.lower() in IMAGE_SUFFIXES:
            return True
    return False


def check_output_file(
    path: Path, image: bool = False, inputs: Sequence[Path] = (), models: Sequence[Path] = ()
) -> None:
    """`path` can be written: not a folder, not an input photo, not a file already in one of the `models` folders
    (`--json-file exported/face_g.onnx` replaced the model being measured), an image format OpenCV writes when
    `image`, and a writable parent folder (created if missing)."""
    import cv2

    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path}: is a folder, a file name is needed")
    if image and not cv2.haveImageWriter(str(path)):
        raise OutputPathError(f"{path}: cannot write a '{path.suffix or path.name}' image (use .png or .jpg)")
    if _overwrites_input(path, inputs):
        raise OutputPathError(f"{path}: is an input photo; it is never overwritten")
    if path.exists() and any(resolved(path).is_relative_to(resolved(folder)) for folder in models):
        raise OutputPathError(f"{path}: is a file of the models in use; it is never overwritten")
    check_writable_folder(path.parent)
