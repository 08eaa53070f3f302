"""Shared fixtures: real sample faces shipped in the repo, and a corpus of bad inputs."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "clean"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.jpg"))


@pytest.fixture(scope="session")
def face_photos() -> list[Path]:
    paths = sample_paths()
    assert len(paths) >= 3, "sample photos are missing from samples/clean"
    return paths


@pytest.fixture(scope="session")
def aligned_faces(face_photos):
    """(crop, landmarks-in-crop) for every sample face at 128², detected with dlib."""
    from unmask_cli.faces import align, detect_faces, transform_points
    from unmask_cli.images import read_rgb

    out = []
    for path in face_photos:
        rgb = read_rgb(path)
        face = detect_faces(rgb)[0]
        crop, matrix = align(rgb, face.landmarks, 128)
        out.append((crop, transform_points(matrix, face.landmarks)))
    return out


def jpeg_with_orientation(bgr: np.ndarray, orientation: int) -> bytes:
    """A JPEG whose EXIF says how to rotate it for display (APP1 segment with one Orientation entry)."""
    ok, enc = cv2.imencode(".jpg", bgr)
    assert ok
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
    tiff += struct.pack(">H", orientation) + b"\x00\x00" + b"\x00\x00\x00\x00"
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = enc.tobytes()
    return data[:2] + app1 + data[2:]


def make_bad_inputs(folder: Path, face_photo: Path) -> dict[str, Path]:
    """Every kind of awkward input a user folder may hold. Keys name the case; values are the files.

    `*_ok` cases hold a real face and must be processed; the rest must each give one clear skip line.
    """
    folder.mkdir(parents=True, exist_ok=True)
    face = cv2.imread(str(face_photo))
    cases: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        path = folder / name
        path.write_bytes(data)
        cases[name.rsplit(".", 1)[0]] = path

    good = cv2.imencode(".jpg", face)[1].tobytes()
    put("corrupt.jpg", b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8)))
    put("truncated.jpg", good[: len(good) // 3])
    put("empty.png", b"")
    put("not_an_image.jpg", b"this is a text file, not a photo\n" * 20)
    put("no_face.png", cv2.imencode(".png", np.full((200, 200, 3), 127, np.uint8))[1].tobytes())
    put("tiny.png", cv2.imencode(".png", cv2.resize(face, (16, 16)))[1].tobytes())
    # A PNG whose header claims 100000×100000: refused before anything is decoded.
    header = b"IHDR" + struct.pack(">II", 100000, 100000) + b"\x08\x02\x00\x00\x00"
    put(
        "huge_header.png",
        b"\x89PNG\r\n\x1a\n"
        + b"\x00\x00\x00\x0d"
        + header
        + struct.pack(">I", zlib.crc32(header))  # a sound header chunk: refused for its size, not its checksum
        + b"\x00\x00\x00\x00IEND\xaeB`\x82",
    )
    # A link whose target is gone (a moved photo library): listed, and reported as unreadable.
    link = folder / "broken_link.jpg"
    link.symlink_to(folder / "moved_away.jpg")
    cases["broken_link"] = link
    # Real cases that must work.
    put(
        "huge_ok.jpg",
        cv2.imencode(".jpg", cv2.resize(face, (4096, 4096), interpolation=cv2.INTER_CUBIC))[1].tobytes(),
    )
    put("grayscale_ok.png", cv2.imencode(".png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))[1].tobytes())
    rgba = cv2.cvtColor(face, cv2.COLOR_BGR2BGRA)
    rgba[:20, :20, 3] = 0
    put("rgba_ok.png", cv2.imencode(".png", rgba)[1].tobytes())
    put("sixteen_bit_ok.png", cv2.imencode(".png", face.astype(np.uint16) * 257)[1].tobytes())
    # Stored turned 90° counter-clockwise, with EXIF orientation 6 ("turn 90° clockwise to view"): upright again.
    put("exif_rotated_ok.jpg", jpeg_with_orientation(cv2.rotate(face, cv2.ROTATE_90_COUNTERCLOCKWISE), 6))
    put("webp_ok.webp", cv2.imencode(".webp", face)[1].tobytes())
    return cases


@pytest.fixture
def bad_inputs(tmp_path, face_photos) -> dict[str, Path]:
    return make_bad_inputs(tmp_path / "inputs", face_photos[0])


@pytest.fixture
def sample_folder(tmp_path, face_photos) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in face_photos:
        shutil.copy(path, folder / path.name)
    return folder


def one_error_line(result) -> str:
    """A CliRunner result that is exactly one `error ...` line and exit code 2, no traceback; returns the line."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error "), lines
    return lines[0]


class LowerFaceBackend:
    """A stand-in backend: the template's lower face (from just above the nose tip) is the mask, filled with grey
    (zeros in [-1, 1]) — a mask where a mask belongs, and no face comes out of it."""

    value_range, description = (-1.0, 1.0), "lower face filled grey"

    def __init__(self, size: int = 64, name: str = "fixed"):
        self.input_size, self.name = size, name

    def run(self, crops):
        from unmask_cli.faces import CROP_TEMPLATE

        size = self.input_size
        rows = np.arange(size)[:, None, None] * np.ones((1, size, 1))
        lower = ((rows >= CROP_TEMPLATE[30, 1] * size - 2) & (rows < size * 0.95)).astype(np.float32)
        masks = np.repeat(lower[None], len(crops), 0)
        return masks, crops * (1 - masks)


def stand_in_unmasker(monkeypatch, backend):
    """An Unmasker whose detector finds one face at the template's place in a 120² photo and whose backend is
    `backend` (a LowerFaceBackend): fast, and no model files needed."""
    from unmask_cli import pipeline
    from unmask_cli.faces import CROP_TEMPLATE, Face

    face = Face(box=(20, 20, 100, 100), landmarks=(CROP_TEMPLATE * 80 + 20).astype(np.float32), score=1.0)
    monkeypatch.setattr(pipeline, "find_faces", lambda rgb, robust=True: [face])
    monkeypatch.setattr(pipeline.registry, "open_backend", lambda *a, **k: backend)
    return pipeline.Unmasker("unused", backend.name, workers=1)
