"""`unmask evaluate` with bad inputs and bad output paths: one line each, checked before the long work."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import one_error_line
from tests.toy_models import write_models
from unmask_cli import evaluate as ev
from unmask_cli.cli import app

pytest.importorskip("onnx")  # builds the toy models
pytest.importorskip("onnxruntime")

runner = CliRunner()


@pytest.fixture
def models(tmp_path):
    return write_models(tmp_path / "models")


@pytest.fixture
def photos(tmp_path, face_photos):
    """Two real faces and four files that cannot be evaluated on."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in face_photos[:2]:
        shutil.copy(path, folder / path.name)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    cv2.imwrite(str(folder / "no_face.png"), np.full((200, 200, 3), 127, np.uint8))
    cv2.imwrite(str(folder / "tiny.png"), np.full((4, 4, 3), 127, np.uint8))
    return folder


def _evaluate(*args: str):
    return runner.invoke(app, ["evaluate", *args, "--backend", "onnxruntime", "--styles", "surgical"])


def test_every_unusable_photo_is_one_skip_line(photos, models, tmp_path):
    out = tmp_path / "eval.json"
    result = _evaluate(str(photos), "--models", str(models), "--json-file", str(out))
    assert result.exit_code == 0, result.output
    skips = [ln for ln in result.output.splitlines() if ln.startswith("skip ")]
    for name, reason in [
        ("empty.jpg", "empty file"),
        ("corrupt.jpg", "not a decodable image"),
        ("no_face.png", "no face found"),
        ("tiny.png", ""),  # "no face found", or "too small" where images.py checks sizes
    ]:
        assert len([ln for ln in skips if name in ln and reason in ln]) == 1, (name, skips)
    assert len(skips) == 4
    assert json.loads(out.read_text())["faces"] == 2


def test_a_photo_that_breaks_detection_is_one_skip_line(photos, monkeypatch):
    from unmask_cli import evaluate as module

    def explode(rgb):
        raise RuntimeError("\n\nError detected at line 623.\nError detected in file tensor.h.\n")

    monkeypatch.setattr(module, "detect_faces", explode)
    skipped = []
    cases = ev.make_cases(photos, ["surgical"], 32, on_skip=lambda path, reason: skipped.append((path.name, reason)))
    assert cases == [] and len(skipped) == 6
    assert all("\n" not in reason for _, reason in skipped)
    assert ("face detection failed (RuntimeError: Error detected at line 623.)") in dict(skipped).values()


def test_missing_folder_says_it_does_not_exist(models, tmp_path):
    line = one_error_line(_evaluate(str(tmp_path / "nothere"), "--models", str(models)))
    assert "nothere: no such file or folder" in line


@pytest.mark.parametrize(
    "option, target, words",
    [
        ("--sheet", "sheet.txt", "cannot write a '.txt' image"),
        ("--sheet", "sheet", "cannot write a 'sheet' image"),
        ("--sheet", "adir", "is a folder"),
        ("--json-file", "adir", "is a folder"),
        ("--json-file", "afile/eval.json", "afile: exists and is not a folder"),
        ("--sheet", "photos/photo.png", "is an input photo"),
    ],
)
def test_bad_output_path_is_one_error_line_before_the_work(
    photos, models, tmp_path, monkeypatch, option, target, words
):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_bytes(b"x")
    cv2.imwrite(str(photos / "photo.png"), np.zeros((8, 8, 3), np.uint8))
    before = (photos / "photo.png").read_bytes()
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("the evaluation started"))
    line = one_error_line(_evaluate(str(photos), "--models", str(models), option, str(tmp_path / target)))
    assert words in line
    assert (photos / "photo.png").read_bytes() == before


@pytest.mark.parametrize("limit", ["0", "-2"])
def test_limit_below_one_is_refused(photos, models, limit):
    result = _evaluate(str(photos), "--models", str(models), "--limit", limit)
    assert result.exit_code == 2 and "--limit" in result.output


def test_a_write_failure_after_the_work_is_one_error_line(face_photos, models, tmp_path, monkeypatch):
    from unmask_cli import images

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "write_bytes_atomic", full)
    result = _evaluate(str(face_photos[0]), "--models", str(models), "--json-file", str(tmp_path / "e.json"))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "e.json: cannot write (No space left on device)" in result.output


def test_a_style_that_fails_on_a_face_is_said_and_the_others_are_scored(photos, monkeypatch):
    from unmask_cli import registry

    real = registry.load_synthesizer

    def load(name):
        if name == "boom":

            def boom(image, landmarks, rng):
                raise RuntimeError("style exploded")

            return boom
        return real(name)

    monkeypatch.setattr(registry, "load_synthesizer", load)
    skips = []
    cases = ev.make_cases(photos, ["surgical", "boom"], 64, None, lambda path, reason: skips.append(reason))
    assert cases and {c.style for c in cases} == {"surgical"}
    boom = [s for s in skips if "boom" in s]  # (the folder also holds bad files, each skipped with its reason)
    assert len(boom) == len({c.source for c in cases}) and set(boom) == {
        "style 'boom' failed: RuntimeError: style exploded"
    }


def test_a_style_whose_output_does_not_fit_is_a_skip_not_a_crash(photos, monkeypatch):
    from unmask_cli import registry

    real = registry.load_synthesizer

    def load(name):
        return (lambda image, landmarks, rng: (image[:10], np.ones((3, 3), np.uint8))) if name == "bad" else real(name)

    monkeypatch.setattr(registry, "load_synthesizer", load)
    skips = []
    cases = ev.make_cases(photos, ["surgical", "bad"], 64, None, lambda path, reason: skips.append(reason))
    assert {c.style for c in cases} == {"surgical"} and any("style 'bad' returned" in s for s in skips)


def test_progress_follows_the_photos_then_each_backend_to_the_end(face_photos, models):
    """Minutes of work on a full set: the bar needs stages, counts and totals, not a spinner."""
    folder = face_photos[0].parent
    seen: list[tuple[str, int, int]] = []
    backends = ["onnxruntime", "opencv"]
    cases, _ = ev.evaluate(folder, backends, ["surgical"], models, on_progress=lambda *a: seen.append(a))
    photos = len(list(ev.iter_images([folder])))
    assert [s for s in seen if s[0] == "faces"] == [("faces", i, photos) for i in range(photos)]
    for backend in backends:
        steps = [(done, total) for stage, done, total in seen if stage == backend]
        assert steps and steps[0] == (0, len(cases)) and all(total == len(cases) for _, total in steps)
    assert [s[0] for s in seen].index("onnxruntime") > [s[0] for s in seen].index("faces")
