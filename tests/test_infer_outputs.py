"""Where `unmask infer` writes, and what it refuses to overwrite: name clashes, outputs inside inputs, unknown
formats, masks, failed writes, bad --out / --sheet. A stand-in backend and detector keep these fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import LowerFaceBackend, stand_in_unmasker
from unmask_cli import pipeline, workers


@pytest.fixture
def unmasker(monkeypatch):
    return stand_in_unmasker(monkeypatch, LowerFaceBackend(64, "grey"))


def _photo(path: Path, seed: int = 0, ext: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    _, data = cv2.imencode(ext or path.suffix or ".png", image)
    path.write_bytes(data.tobytes())
    return path


def test_two_photos_with_one_output_name_never_overwrite_each_other(unmasker, tmp_path):
    first, second = _photo(tmp_path / "day1" / "IMG.png", 1), _photo(tmp_path / "day2" / "IMG.png", 2)
    results = []
    summary = unmasker.run([first.parent, second.parent], tmp_path / "out", on_result=results.append)
    assert summary.written == 1 and summary.skipped == {"same output name as another photo": 1}
    skipped = {r.source: r.skipped for r in results}
    assert skipped[first] is None and "IMG.png" in skipped[second]
    again = unmasker.run([first.parent, second.parent], tmp_path / "out")
    assert again.already_done == 1 and again.written == 0  # and the clash is said again, not taken as done
    assert again.skipped == {"same output name as another photo": 1}


def test_an_output_folder_inside_the_input_folder_is_not_read_back(unmasker, tmp_path):
    photos = tmp_path / "photos"
    _photo(photos / "a.png", 1), _photo(photos / "sub" / "b.png", 2)
    first = unmasker.run([photos], photos / "restored")
    second = unmasker.run([photos], photos / "restored")
    assert first.photos == second.photos == 2 and first.written == 2
    assert second.already_done == 2 and second.written == 0
    assert not (photos / "restored" / "restored").exists()


def test_a_name_without_a_writable_format_gets_png(unmasker, tmp_path):
    odd = [_photo(tmp_path / "in" / "IMG_0001", 1, ".jpg"), _photo(tmp_path / "in" / "photo.jpg_large", 2, ".jpg")]
    summary = unmasker.run(odd, tmp_path / "out")
    assert summary.written == 2
    for name in ("IMG_0001.png", "photo.jpg_large.png"):
        assert cv2.imread(str(tmp_path / "out" / name)) is not None


def test_masks_of_photos_sharing_a_stem_are_kept_apart_and_filled_in_on_resume(unmasker, tmp_path):
    folder = tmp_path / "in"
    _photo(folder / "a.jpg", 1), _photo(folder / "a.png", 2)
    out = tmp_path / "out"
    assert unmasker.run([folder], out).written == 2  # first without --save-mask
    resumed = unmasker.run([folder], out, save_masks=True)
    assert resumed.written == 2  # a photo without its mask is not done when masks are wanted
    assert (out / "a.jpg.mask.png").exists() and (out / "a.png.mask.png").exists()
    assert unmasker.run([folder], out, save_masks=True).already_done == 2


def test_a_failed_write_is_one_skip_and_the_batch_goes_on(unmasker, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    _photo(folder / "a.png", 1), _photo(folder / "b.png", 2)
    real_write = pipeline.write_atomic

    def full_disk(path, rgb, *a, **k):
        if Path(path).name == "a.png":
            raise OSError(28, "No space left on device")
        return real_write(path, rgb, *a, **k)

    monkeypatch.setattr(pipeline, "write_atomic", full_disk)
    results = []
    summary = unmasker.run([folder], tmp_path / "out", on_result=results.append)
    assert summary.written == 1 and summary.skipped == {"cannot write the output": 1}
    assert "No space left on device" in results[0].skipped
    assert (tmp_path / "out" / "b.png").exists() and not (tmp_path / "out" / "a.png").exists()


def test_an_input_folder_inside_the_output_folder_is_read(unmasker, tmp_path, monkeypatch):
    """`unmask infer new --out .`: the exclusion that keeps outputs from being read back must not drop the input."""
    _photo(tmp_path / "new" / "a.png", 1)
    monkeypatch.chdir(tmp_path)
    summary = unmasker.run([Path("new")], Path("."))
    assert summary.photos == 1 and summary.written == 1 and (tmp_path / "a.png").exists()


def test_overwrite_never_writes_over_another_input_photo(unmasker, tmp_path):
    """`a.gif` is written as `a.gif.png`, which is another photo in the same folder used as --out."""
    from PIL import Image

    folder = tmp_path / "same"
    folder.mkdir()
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(folder / "a.gif")
    other = _photo(folder / "a.gif.png", 2)
    before = other.read_bytes()
    results = []
    summary = unmasker.run([folder], folder, overwrite=True, on_result=results.append)
    assert other.read_bytes() == before
    assert summary.written == 0 and summary.failed == 2
    assert any("overwrite another input photo" in r.skipped for r in results)


def test_a_file_unmask_did_not_write_is_never_overwritten(unmasker, tmp_path):
    """A user's own photo put in an output folder unmask keeps a record in is not taken for an output, not even
    with --overwrite."""
    out = tmp_path / "out"
    assert unmasker.run([_photo(tmp_path / "first" / "a.png", 3)], out).written == 1  # the folder's record begins
    photo = _photo(tmp_path / "in" / "x.png", 1)
    mine = _photo(out / "x.png", 2)
    before = mine.read_bytes()
    for overwrite in (False, True):
        summary = unmasker.run([photo], out, overwrite=overwrite)
        assert summary.already_done == 0 and summary.written == 0 and summary.failed == 1
        assert summary.skipped == {"output exists and is not one unmask wrote there": 1}
    assert mine.read_bytes() == before


def test_files_in_an_output_folder_without_a_record_are_never_taken_for_outputs(unmasker, tmp_path):
    """A folder unmask keeps no record in holds the user's own files: none is taken for an output, skipped as done
    or overwritten, not even with --overwrite; each is one skip line."""
    photo, out = _photo(tmp_path / "in" / "a.png", 1), tmp_path / "out"
    mine = _photo(out / "a.png", 2)
    before = mine.read_bytes()
    for overwrite in (False, True):
        results = []
        summary = unmasker.run([photo], out, overwrite=overwrite, on_result=results.append)
        assert summary.already_done == 0 and summary.written == 0 and summary.failed == 1
        assert summary.skipped == {"output exists and is not one unmask wrote there": 1}
        assert str(out / "a.png") in results[0].skipped
    assert mine.read_bytes() == before


def test_save_mask_never_writes_over_a_mask_file_unmask_did_not_write(unmasker, tmp_path):
    out = tmp_path / "out"
    assert unmasker.run([_photo(tmp_path / "first" / "b.png", 3)], out).written == 1  # the folder's record begins
    photo = _photo(tmp_path / "in" / "a.png", 1)
    mine = out / "a.png.mask.png"
    mine.write_text("my own notes")
    for overwrite in (False, True):
        summary = unmasker.run([photo], out, overwrite=overwrite, save_masks=True)
        assert summary.written == 0 and summary.skipped == {"mask file exists and is not one unmask wrote there": 1}
    assert mine.read_text() == "my own notes" and not (out / "a.png").exists()
    mine.unlink()
    assert unmasker.run([photo], out, save_masks=True).written == 1 and mine.exists()
    # its own mask, there from the last run, is written again on --overwrite
    assert unmasker.run([photo], out, overwrite=True, save_masks=True).written == 1


def test_a_name_too_long_for_its_output_is_one_skip_and_the_batch_goes_on(unmasker, tmp_path):
    """`NAME.gif` is written as `NAME.gif.png`: 4 bytes more than a 255-byte name allows. A name just under the
    limit is written (its temp file does not carry the whole name)."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(folder / ("g" * 250 + ".gif"))
    longest = _photo(folder / ("p" * 251 + ".png"), 1)
    _photo(folder / "ok.png", 2)
    (tmp_path / "out").mkdir()  # (where the folder is missing, the name fails when it is written: one skip too)
    results = []
    summary = unmasker.run([folder], tmp_path / "out", on_result=results.append)
    assert summary.photos == 3 and summary.written == 2 and summary.failed == 1
    (skipped,) = [r.skipped for r in results if r.skipped]
    assert skipped.startswith("cannot use the output name (File name too long") and "\n" not in skipped
    assert (tmp_path / "out" / longest.name).exists() and (tmp_path / "out" / "ok.png").exists()


def test_a_same_named_photo_from_another_run_is_not_taken_for_done(unmasker, tmp_path):
    """Two camera rolls both hold IMG_1.png: the second run into the same folder must not skip its photo as done,
    nor overwrite the first one's output unless told to; the first still resumes as done."""
    first, second = _photo(tmp_path / "roll1" / "IMG_1.png", 1), _photo(tmp_path / "roll2" / "IMG_1.png", 2)
    out = tmp_path / "out"
    assert unmasker.run([first], out).written == 1
    written = (out / "IMG_1.png").read_bytes()
    results = []
    again = unmasker.run([second], out, on_result=results.append)
    assert again.already_done == 0 and again.failed == 1 and "named IMG_1.png" in results[0].skipped
    assert again.skipped == {"output exists, restored from another photo": 1}
    assert (out / "IMG_1.png").read_bytes() == written
    assert unmasker.run([first], out).already_done == 1
    redone = unmasker.run([second], out, overwrite=True)
    assert redone.written == 1 and (out / "IMG_1.png").read_bytes() != written
    assert unmasker.run([second], out).already_done == 1
    moved = tmp_path / "moved"
    (tmp_path / "roll2").rename(moved)  # a moved folder still resumes: photos are known by name, size and time
    assert unmasker.run([moved / "IMG_1.png"], out).already_done == 1


def test_a_copied_photo_with_a_new_time_is_still_done_and_another_of_its_size_is_not(unmasker, tmp_path):
    """A copy without its times (`cp`, a sync, a restore from a backup) is the same photo: its bytes say so. Another
    photo of the same name and size is not taken for it."""
    import os

    photo, out = _photo(tmp_path / "in" / "a.bmp", 1), tmp_path / "out"
    assert unmasker.run([photo], out).written == 1
    os.utime(photo, ns=(0, 10**18))
    assert unmasker.run([photo], out).already_done == 1
    other = _photo(tmp_path / "in" / "a.bmp", 2)  # same dimensions, same BMP size, other pixels, a new time
    os.utime(other, ns=(0, 2 * 10**18))
    summary = unmasker.run([other], out)
    assert summary.already_done == 0 and summary.skipped == {"output exists, restored from another photo": 1}


def test_a_photo_given_twice_is_restored_once(unmasker, tmp_path):
    folder = tmp_path / "in"
    photo = _photo(folder / "a.png", 1)
    (tmp_path / "link.png").symlink_to(photo)
    summary = unmasker.run([folder, photo, tmp_path / "link.png"], tmp_path / "out")
    assert summary.photos == 1 and summary.written == 1 and not summary.skipped


def test_a_folder_without_photos_is_reported(unmasker, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no photos here")
    summary = unmasker.run([tmp_path / "empty", tmp_path / "notes"], tmp_path / "out")
    assert summary.photos == 0 and summary.empty_folders == [tmp_path / "empty", tmp_path / "notes"]


def test_a_photo_without_a_face_is_not_searched_again_with_the_same_settings(unmasker, tmp_path, monkeypatch):
    """The fallback detectors take seconds on a photo with no face: a rerun remembers the answer, unless asked
    again (--overwrite), or the photo or the settings (fast detection, models, version) changed."""
    calls = []

    def no_face(rgb, robust=True):
        calls.append(robust)
        return []

    monkeypatch.setattr(pipeline, "find_faces", no_face)
    photo, out = _photo(tmp_path / "in" / "wall.png", 1), tmp_path / "out"
    first = unmasker.run([photo], out)
    assert first.skipped == {"no face found": 1} and first.failed == 0 and len(calls) == 1
    again = unmasker.run([photo], out)
    assert again.already_answered == 1 and not again.skipped and len(calls) == 1
    assert unmasker.run([photo], out, overwrite=True).skipped == {"no face found": 1} and len(calls) == 2
    _photo(photo, 2)  # the photo changed
    assert unmasker.run([photo], out).skipped == {"no face found": 1} and len(calls) == 3
    unmasker.settings += "; fast detection"
    assert unmasker.run([photo], out).skipped == {"no face found": 1} and len(calls) == 4
    assert not any(p.name == "wall.png" for p in out.iterdir())


def test_a_record_line_torn_by_a_full_disk_does_not_swallow_the_next_one(unmasker, tmp_path):
    """A full disk or a kill can leave the record's last line half written; the next line was appended onto it, and
    the photo it named was refused ever after as "not one unmask wrote there", even with --overwrite."""
    from unmask_cli.written import RECORD_NAME

    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.png", 1), _photo(folder / "b.png", 2)
    assert unmasker.run([folder], out).written == 2
    record = out / RECORD_NAME
    record.write_bytes(record.read_bytes()[:-30])  # b's line torn
    (out / "b.png").unlink()
    assert unmasker.run([folder], out).written == 1
    for overwrite in (False, True):
        again = unmasker.run([folder], out, overwrite=overwrite)
        assert not again.skipped and again.already_done + again.written == 2


def test_overwrite_finding_no_mask_leaves_the_old_output_and_it_stays_ours(unmasker, tmp_path, monkeypatch):
    """A photo restored once and redone with --overwrite, where the new settings find no face, kept its old output
    but lost it from the record: every later run refused the file as not one unmask wrote there."""
    photo, out = _photo(tmp_path / "in" / "a.png", 1), tmp_path / "out"
    assert unmasker.run([photo], out).written == 1
    written = (out / "a.png").read_bytes()
    find_faces = pipeline.find_faces
    monkeypatch.setattr(pipeline, "find_faces", lambda rgb, robust=True: [])
    results = []
    summary = unmasker.run([photo], out, overwrite=True, on_result=results.append)
    assert summary.skipped == {"no face found": 1}
    assert "earlier run" in results[0].skipped and str(out / "a.png") in results[0].skipped
    assert (out / "a.png").read_bytes() == written
    monkeypatch.setattr(pipeline, "find_faces", find_faces)
    assert unmasker.run([photo], out).already_done == 1
    assert unmasker.run([photo], out, overwrite=True).written == 1


def test_folders_without_permission_are_one_skip_each_and_the_batch_goes_on(unmasker, tmp_path, monkeypatch):
    """A folder that cannot be opened (chmod 000) was left out without a word, and a photo in a folder that can be
    listed but not searched (chmod 444) crashed the batch from `Path.is_file`. Permissions are simulated: the tests
    run as root in CI, where chmod stops nothing."""
    import errno
    import os

    folder = tmp_path / "in"
    _photo(folder / "a.png", 1), _photo(folder / "locked" / "b.png", 2), _photo(folder / "listed" / "c.png", 3)
    locked, listed = folder / "locked", folder / "listed"
    scandir, is_file, read_bytes = os.scandir, Path.is_file, Path.read_bytes

    def denied(path) -> OSError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def no_scandir(path="."):
        if Path(path) == locked:
            raise denied(path)
        return scandir(path)

    def no_search(self):
        if self.parent == listed:
            raise denied(self)
        return is_file(self)

    def no_read(self):
        if self.parent == listed:
            raise denied(self)
        return read_bytes(self)

    monkeypatch.setattr(os, "scandir", no_scandir)
    monkeypatch.setattr(Path, "is_file", no_search)
    monkeypatch.setattr(Path, "read_bytes", no_read)
    results = []
    summary = unmasker.run([folder], tmp_path / "out", on_result=results.append)
    skipped = {r.source: r.skipped for r in results if r.skipped}
    assert summary.written == 1 and (tmp_path / "out" / "a.png").exists()
    assert skipped == {
        locked: "cannot open this folder (Permission denied): the photos in it are left out",
        listed / "c.png": "cannot read file (Permission denied)",
    }
    assert summary.failed == 2


def test_a_skip_line_stays_one_line_whatever_the_file_name_holds(tmp_path):
    """A name with a newline split its skip line in two, and one with an escape sequence reached the terminal raw
    (colours, a cleared screen): they are written as escapes."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "two\nlines.jpg").write_bytes(b"not a photo")
    (folder / "red\x1b[31m.jpg").write_bytes(b"not a photo")
    result = _cli("infer", str(folder), "--out", str(tmp_path / "out"), "--fast", "--workers", "1")
    skips = [line for line in result.stderr.splitlines() if line.startswith("skip")]
    assert len(skips) == 2 and "\x1b" not in result.stderr, result.stderr
    assert any("two\\nlines.jpg" in line for line in skips) and any("red\\x1b[31m.jpg" in line for line in skips)


def test_a_temp_file_a_kill_left_is_removed_by_the_rerun_and_nothing_else(unmasker, tmp_path):
    """A kill in the middle of a write left a hidden `.a.png.xxxxxxxx.tmp` beside the output for good. The rerun
    removes those of its own outputs once they are old enough not to be another run's write in progress."""
    import os
    import time

    from unmask_cli.images import STALE_TEMP_SECONDS

    photo, out = _photo(tmp_path / "in" / "a.png", 1), tmp_path / "out"
    out.mkdir()
    old, fresh = out / ".a.png.k2x_9qpz.tmp", out / ".a.png.m3n4p5q6.tmp"
    mine, other = out / ".a.png.notes.tmp", out / ".b.png.k2x_9qpz.tmp"  # not of this pattern; not this output's
    for path in (old, fresh, mine, other):
        path.write_bytes(b"half a png")
    then = time.time() - STALE_TEMP_SECONDS - 60
    for path in (old, mine, other):
        os.utime(path, (then, then))
    assert unmasker.run([photo], out).written == 1
    assert not old.exists() and fresh.exists() and mine.exists() and other.exists()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unmask_cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "case",
    [
        "out_is_a_file",
        "sheet_is_an_input",
        "sheet_not_an_image",
        "sheet_is_a_folder",
        "sheet_is_an_output",
        "sheet_is_a_mask",
        "sheet_over_my_file",
    ],
)
def test_bad_out_or_sheet_is_refused_before_any_work(tmp_path, case):
    """The last three: a --sheet in --out replaced a restored photo (taken for done ever after), its mask, or the
    user's own file there."""
    photo = _photo(tmp_path / "in" / "p.jpg", 1)
    before = photo.read_bytes()
    out, sheet = tmp_path / "out", tmp_path / "sheet.png"
    extra = []
    if case == "sheet_is_an_output":
        sheet = out / "p.jpg"
    elif case == "sheet_is_a_mask":
        sheet, extra = out / "p.jpg.mask.png", ["--save-mask"]
    elif case == "sheet_over_my_file":
        sheet = _photo(out / "mine.png", 3)
    if case == "out_is_a_file":
        out = _photo(tmp_path / "out.jpg", 2)
    elif case == "sheet_is_an_input":
        sheet = photo
    elif case == "sheet_not_an_image":
        sheet = tmp_path / "sheet.txt"
    elif case == "sheet_is_a_folder":
        sheet = tmp_path / "sheets.png"
        sheet.mkdir()
    mine = sheet.read_bytes() if case == "sheet_over_my_file" else None
    result = _cli("infer", str(photo.parent), "--out", str(out), "--sheet", str(sheet), "--models", "nowhere", *extra)
    assert result.returncode == 2, result.stderr
    assert mine is None or sheet.read_bytes() == mine
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error") and "Traceback" not in result.stderr, lines
    assert str(out if case == "out_is_a_file" else sheet) in lines[0]  # refused for it, not for --models nowhere
    assert photo.read_bytes() == before


def test_a_sheet_in_out_is_written_again_by_the_same_command(unmasker, tmp_path):
    from typer.testing import CliRunner

    from unmask_cli.cli import app

    photo, out = _photo(tmp_path / "in" / "p.jpg", 1), tmp_path / "out"
    args = ["infer", str(photo.parent), "--out", str(out), "--sheet", str(out / "sheet.png"), "--workers", "1"]
    for overwrite in ([], ["--overwrite"]):
        result = CliRunner().invoke(app, [*args, *overwrite])
        assert result.exit_code == 0, result.output
        assert cv2.imread(str(out / "sheet.png")) is not None and (out / "p.jpg").exists()


def test_save_mask_never_writes_a_mask_over_another_photos_output(unmasker, tmp_path):
    """A photo named like another's mask (a.jpg.mask.png beside a.jpg): with --save-mask one of the two files was
    lost without a word, and taken for done ever after."""
    folder, out = tmp_path / "in", tmp_path / "out"
    _photo(folder / "a.jpg", 1), _photo(folder / "a.jpg.mask.png", 2)
    results = []
    summary = unmasker.run([folder], out, save_masks=True, on_result=results.append)
    assert summary.written == 1 and summary.skipped == {"same output name as another photo's mask": 1}
    assert cv2.imread(str(out / "a.jpg.mask.png"), cv2.IMREAD_UNCHANGED).ndim == 2  # a.jpg's mask, not a photo
    summary = unmasker.run([folder / "a.jpg.mask.png", folder / "a.jpg"], tmp_path / "out2", save_masks=True)
    assert summary.written == 1
    assert summary.skipped == {"its mask would be written over another photo or its output": 1}
    assert cv2.imread(str(tmp_path / "out2" / "a.jpg.mask.png"), cv2.IMREAD_UNCHANGED).ndim == 3  # the photo


@pytest.mark.parametrize("args", [["--json", "--batch", "0"], ["--json", "--bogus"], ["--batch", "0", "--json"]])
def test_a_refused_command_line_still_prints_json_wherever_json_stands(tmp_path, args):
    """Click refuses a bad option before it reaches a --json after it: no JSON came out then."""
    result = _cli("infer", str(tmp_path), "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["exit_code"] == 2 and report["errors"]


@pytest.mark.parametrize(
    "command",
    [
        ["benchmark", "--json-file", "{m}/mask_g.onnx"],
        ["benchmark", "--plot", "{m}/chart.png"],
        ["evaluate", "{d}", "--json-file", "{m}/face_g.onnx"],
        ["infer", "{d}", "--out", "{d}/out", "--sheet", "{m}/chart.png"],
    ],
)
def test_no_command_writes_over_a_file_of_the_models_it_uses(tmp_path, command):
    """`benchmark --json-file exported/mask_g.onnx` replaced the model it measured with its JSON (exit 0)."""
    from tests.toy_models import write_models

    models, data = write_models(tmp_path / "models"), tmp_path / "photos"
    _photo(data / "p.png", 1)
    chart = _photo(models / "chart.png", 2)
    before = {p.name: p.read_bytes() for p in (models / "mask_g.onnx", models / "face_g.onnx", chart)}
    args = [a.format(m=models, d=data) for a in command]
    result = _cli(*args, "--models", str(models))
    assert result.returncode == 2, result.stderr
    assert "is a file of the models in use" in result.stderr
    assert {p.name: p.read_bytes() for p in (models / "mask_g.onnx", models / "face_g.onnx", chart)} == before


def test_export_into_a_folder_holding_the_users_file_of_an_outputs_name_is_a_bad_out(tmp_path):
    """Exit 1, as a failed export, where infer's bad --out is 2."""
    out = tmp_path / "exported"
    out.mkdir()
    (out / "mask_g.onnx").write_text("my notes")
    result = _cli("export", "--onnx", "--out", str(out), "--checkpoints", str(tmp_path / "runs"), "--json")
    assert result.returncode == 2 and "is not a model unmask exported" in result.stderr, result.stderr
    assert (out / "mask_g.onnx").read_text() == "my notes" and json.loads(result.stdout)["exit_code"] == 2


def test_export_refuses_an_unknown_only_as_a_bad_option_before_loading_tensorflow(tmp_path):
    """It exited 1 (a failed export) after TensorFlow's seconds of import."""
    result = _cli("export", "--onnx", "--only", "both", "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 2 and "--only" in result.stderr and "mask, face, gate, structure" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["--json-file", "."], ["--plot", "chart.txt"], ["--batch", "0,8"], ["--batch", "x"]])
def test_benchmark_refuses_bad_outputs_and_batches_before_timing(tmp_path, args):
    result = _cli("benchmark", *args, "--models", "nowhere")
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error") and "Traceback" not in result.stderr, lines


def test_benchmark_never_writes_its_chart_over_a_photo_it_times(tmp_path):
    photo = _photo(tmp_path / "photos" / "p.jpg", 1)
    before = photo.read_bytes()
    result = _cli("benchmark", "--photos", str(photo.parent), "--plot", str(photo), "--models", "nowhere")
    assert result.returncode == 2 and "is an input photo" in result.stderr, result.stderr
    assert photo.read_bytes() == before


def test_benchmark_with_no_backend_that_starts_fails_without_an_empty_table(tmp_path):
    result = _cli("benchmark", "--backend", "onnxruntime", "--models", str(tmp_path / "nowhere"), "--batch", "1")
    assert result.returncode == 1, result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error backend onnxruntime") and "nowhere" in lines[0], lines
    assert "img/s" not in result.stdout


@pytest.mark.parametrize("command", ["infer", "evaluate", "benchmark"])
def test_help_says_where_the_models_come_from(command):
    from typer.testing import CliRunner

    from unmask_cli.cli import app

    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "default: ./exported, else the shipped ones" in result.output


def test_models_default_to_the_shipped_folder_from_anywhere(tmp_path, monkeypatch):
    from unmask_cli.commands.options import default_models_dir

    monkeypatch.chdir(tmp_path)
    assert default_models_dir() == Path(__file__).resolve().parents[1] / "exported"
    (tmp_path / "exported").mkdir()  # a folder of one's own here wins
    assert default_models_dir() == Path("exported")


def test_benchmark_photos_default_to_the_repos_samples_from_anywhere(tmp_path, monkeypatch):
    """Run from another folder, `unmask benchmark` skipped its end-to-end figure: ./samples/masked was not there."""
    from unmask_cli.commands.options import default_sample_photos

    monkeypatch.chdir(tmp_path)
    assert default_sample_photos() == Path(__file__).resolve().parents[1] / "samples" / "masked"
    (tmp_path / "samples" / "masked").mkdir(parents=True)
    assert default_sample_photos() == Path("samples/masked")


def test_big_photos_are_held_fewer_at_a_time():
    """Photos decoded ahead and photos restored together are bounded by pixels, not only by count: a folder of
    48 MP photos must not hold 2 × batch + workers of them at once."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    def photo(megapixels: float):
        return SimpleNamespace(rgb=np.empty((1000, int(megapixels * 1000), 0), np.uint8))

    # groups: by count for small photos, cut by the pixel budget for big ones, a failed decode weighs nothing
    items = [(i, (photo(48) if i < 5 else photo(2) if i < 20 else None, [], None, 0, 0)) for i in range(24)]
    sizes = [len(g) for g in pipeline._chunks(items, 8, weight=pipeline._pixels, budget=pipeline.GROUP_PIXELS)]
    assert sizes == [3, 4, 8, 8, 1]  # 48+48+48 | 48+48+2+2 | then by count
    # ahead: no more 48 MP photos submitted than the budget holds, also before the first one's size is known
    submitted, taken = [], []

    def decode(i):
        submitted.append(i)
        return photo(48), [], None, 0.0, 0.0

    with ThreadPoolExecutor(2) as pool:
        ahead = workers.ordered_ahead(
            pool, decode, list(range(30)), window=18, pixels=pipeline._photo_pixels, budget=pipeline.AHEAD_PIXELS
        )
        for i, _ in enumerate(ahead):
            taken.append(i)
            assert len(submitted) - len(taken) <= pipeline.AHEAD_PIXELS // 48_000_000
    assert taken == list(range(30))


def _dies_on_three(job: int) -> int:  # run in a worker process: it must be importable
    import os
    import signal

    if job == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return job * 10


def test_a_worker_that_dies_costs_its_photo_not_the_run():
    """multiprocessing.Pool waited forever for a killed worker's photo: the run hung. Now that photo is reported
    and the photos around it are still done, in order."""
    import threading
    import time

    results = []

    def jobs():
        for job in range(10):
            yield job
            if job == 3:
                time.sleep(3)  # the pool breaks before the next photo is handed to it

    def run():
        with pipeline._detector_pool(2, 40) as pool:
            results.extend(workers.ordered_ahead(pool, _dies_on_three, jobs(), window=6, died=lambda j: ("died", j)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=240)
    assert not thread.is_alive(), "hung on the dead worker"
    assert results == [0, 10, 20, ("died", 3), 40, 50, 60, 70, 80, 90]


def test_a_submit_racing_the_pool_breaking_is_taken_for_the_break():
    """CI once failed the test above with OSError("handle is closed"): the executor's manager thread marks the
    pool broken and closes its queues while a submit, past its broken check, spawns a worker. That submit must read
    as a broken pool (the job goes again on a fresh one), and an OSError of an unbroken pool must still surface."""
    from concurrent.futures.process import BrokenProcessPool

    class Racing:
        _broken: str | bool = False

        def submit(self, fn, job):
            self._broken = "A child process terminated abruptly"
            raise OSError("handle is closed")

    class Failing:
        _broken = False

        def submit(self, fn, job):
            raise OSError("too many open files")

    pool = workers.Workers.__new__(workers.Workers)
    pool.executor = Racing()
    with pytest.raises(BrokenProcessPool):
        pool.submit(print, 1).result()
    pool.executor = Failing()
    with pytest.raises(OSError, match="too many open files"):
        pool.submit(print, 1)


def test_a_failed_start_removes_only_the_empty_folder_it_created(tmp_path):
    from unmask_cli.outputs import remove_if_new

    made, kept, full = tmp_path / "made", tmp_path / "kept", tmp_path / "full"
    for folder in (made, kept, full):
        folder.mkdir()
    (full / "a.png").write_bytes(b"x")
    remove_if_new(made, was_there=False)
    remove_if_new(kept, was_there=True)  # the user's folder, empty or not, stays
    remove_if_new(full, was_there=False)  # something was written after all: never removed
    remove_if_new(tmp_path / "gone", was_there=False)  # already gone: no error
    assert not made.exists() and kept.is_dir() and (full / "a.png").read_bytes() == b"x"
