import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import one_error_line
from unmask_cli.cli import app
from unmask_cli.data import MANIFEST, append_jsonl, load_manifest, read_jsonl

runner = CliRunner()


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_bad_inputs_each_give_one_line_and_the_batch_goes_on(bad_inputs, tmp_path):
    folder = next(iter(bad_inputs.values())).parent
    before = _hashes(folder)
    out = tmp_path / "ds"
    result = subprocess.run(
        [sys.executable, "-m", "unmask_cli", "synthesize", str(folder), str(out), "--json", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    skip_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("skip ")]
    bad = [name for name in bad_inputs if not name.endswith("_ok")]
    good = [name for name in bad_inputs if name.endswith("_ok")]
    for name in bad:
        lines = [ln for ln in skip_lines if bad_inputs[name].name in ln]
        assert len(lines) == 1, (name, skip_lines)
    assert len(skip_lines) == len(bad)
    assert "Traceback" not in result.stderr
    written_sources = {r["source"] for r in load_manifest(out)}
    assert written_sources == {bad_inputs[name].name for name in good}
    assert summary["written"] == len(good)
    assert _hashes(folder) == before  # inputs untouched


def test_rerun_resumes_and_same_seed_gives_same_files(sample_folder, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = runner.invoke(app, ["synthesize", str(sample_folder), str(a), "--seed", "5", "--variants", "2", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["written"] == 8
    again = runner.invoke(app, ["synthesize", str(sample_folder), str(a), "--seed", "5", "--variants", "2", "--json"])
    report = json.loads(again.stdout)
    assert (report["already_done"], report["written"]) == (4, 0)
    runner.invoke(app, ["synthesize", str(sample_folder), str(b), "--seed", "5", "--variants", "2"])
    assert _hashes(a / "masked") == _hashes(b / "masked")
    assert _hashes(a / "mask") == _hashes(b / "mask")
    other = runner.invoke(app, ["synthesize", str(sample_folder), str(a), "--seed", "6"])
    assert other.exit_code == 2 and "seed=5" in other.output


def test_torn_manifest_line_from_a_kill_is_survived(sample_folder, tmp_path):
    out = tmp_path / "ds"
    runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--limit", "2"])
    with (out / MANIFEST).open("a") as fh:
        fh.write('{"id": "half-writ')  # what a kill -9 mid-write leaves
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["written"] == 2
    records = list(read_jsonl(out / MANIFEST))
    assert len(records) == 4 and len({r["source"] for r in records}) == 4


def test_manifest_lines_of_another_shape_and_samples_missing_a_file_are_left_out_and_counted(sample_folder, tmp_path):
    out = tmp_path / "ds"
    runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--limit", "2"])
    first = load_manifest(out)
    (out / first[0]["masked"]).unlink()  # a sample whose file was deleted
    with (out / MANIFEST).open("a") as fh:
        fh.write('{"id": "broken"}\n42\n{"id": "x", "source": "y", "clean": null, "masked": "m", "mask": "k"}\n')
    left_out: dict[str, int] = {}
    assert load_manifest(out, left_out) == first[1:]
    assert left_out == {"not_samples": 3, "files_missing": 1}
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--json"])  # a rerun goes on
    assert result.exit_code == 0, result.output


def test_manifest_records_landmarks_style_and_seed(sample_folder, tmp_path):
    out = tmp_path / "ds"
    runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--style", "n95", "--size", "96"])
    records = load_manifest(out)
    assert len(records) == 4
    for r in records:
        assert r["style"] == "n95" and r["seed"] == 0 and r["size"] == 96 and r["face"] == 0
        assert len(r["landmarks"]) == 68
        assert all(0 <= x < 96 and 0 <= y < 96 for x, y in r["landmarks"][27:48])


def test_manifest_loads_in_one_order_whatever_order_the_workers_wrote_it(sample_folder, tmp_path):
    """Workers append samples as they finish: the same draw made twice must train and pack the same list."""
    out = tmp_path / "ds"
    runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--variants", "2"])
    lines = (out / MANIFEST).read_text().splitlines()
    first = load_manifest(out)
    (out / MANIFEST).write_text("\n".join(reversed(lines)) + "\n")
    assert len(first) == 8 and load_manifest(out) == first
    assert [r["id"] for r in first] == sorted(r["id"] for r in first)


def test_append_jsonl_starts_on_a_fresh_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"torn')
    append_jsonl(path, [{"b": 2}])
    assert list(read_jsonl(path)) == [{"a": 1}, {"b": 2}]


def test_face_keys_differ_for_names_that_slug_alike():
    from unmask_cli.data import face_key

    names = ["é.jpg", "ü.jpg", "a b.jpg", "a_b.jpg", "张三.jpg", "李四.jpg", "A.jpg", "a.jpg", "x/y.jpg", "x_y.jpg"]
    keys = [face_key(name, 0) for name in names]
    assert len({k.lower() for k in keys}) == len(names)  # unique even on a case-insensitive file system
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", k) for k in keys)
    assert face_key("a b.jpg", 0).startswith("a_b_jpg_")  # still readable
    long_key = face_key("/".join(["folder" * 20] * 10) + "/photo.jpg", 3)
    assert len(long_key) < 120 and long_key.endswith("_f3") and "photo_jpg" in long_key
    assert face_key("caf\udce9.jpg", 0) != face_key("caf\udce8.jpg", 0)  # names that are not UTF-8


def test_photos_whose_names_slug_alike_each_keep_their_samples(face_photos, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    names = ["é.jpg", "ü.jpg", "a b.jpg", "a_b.jpg"]
    for name, photo in zip(names, face_photos, strict=False):
        shutil.copy(photo, src / name)
    out = tmp_path / "ds"
    result = runner.invoke(app, ["synthesize", str(src), str(out), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    records = load_manifest(out)
    assert sorted(r["source"] for r in records) == sorted(names)
    for field in ("id", "clean", "masked", "mask"):
        assert len({r[field] for r in records}) == 4, field
    assert len(list((out / "clean").glob("*.png"))) == 4
    # every clean face still matches its own photo's face (no photo wrote over another's files)
    from unmask_cli.faces import align, detect_faces
    from unmask_cli.images import read_rgb

    for r in records:
        rgb = read_rgb(src / r["source"])
        crop, _ = align(rgb, detect_faces(rgb)[0].landmarks, 128)
        assert np.abs(read_rgb(out / r["clean"]).astype(int) - crop).mean() < 1


def test_dataset_written_before_hashed_keys_still_resumes(sample_folder, tmp_path, monkeypatch):
    from unmask_cli import data

    def old_face_key(source, face_index):  # the key of datasets made before the hash was added
        return f"{re.sub(r'[^A-Za-z0-9_-]+', '_', source).strip('_')}_f{face_index}"

    out = tmp_path / "ds"
    with monkeypatch.context() as patch:
        patch.setattr(data, "face_key", old_face_key)
        first = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--limit", "2"])
    assert first.exit_code == 0, first.output
    old_ids = {r["id"] for r in load_manifest(out)}
    again = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--json"])
    report = json.loads(again.stdout)
    assert (report["already_done"], report["written"]) == (2, 2)
    records = load_manifest(out)  # only samples whose three files exist
    assert len(records) == 4 and old_ids <= {r["id"] for r in records}


@pytest.mark.parametrize("inside", ["data", "."])
def test_output_inside_the_source_is_not_read_back(sample_folder, inside):
    out = sample_folder / inside
    for _ in range(2):
        result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--json", "--workers", "1"])
        assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["photos"], report["already_done"], report["written"]) == (4, 4, 0)
    assert len(load_manifest(out)) == 4


def test_a_run_on_worker_processes_ends_without_a_word_from_them(sample_folder, tmp_path):
    """Forked workers inherited the CLI's SIGTERM handler, and the pool stops its workers with SIGTERM: each printed a
    traceback at the end of every run of 32 photos or more (the pool's threshold)."""
    import shutil

    folder = tmp_path / "many"
    folder.mkdir()
    photos = sorted(p for p in Path(sample_folder).iterdir() if p.is_file())
    for i in range(32):
        shutil.copy(photos[i % len(photos)], folder / f"{i:02d}_{photos[i % len(photos)].name}")
    args = ["synthesize", str(folder), str(tmp_path / "ds"), "--size", "32", "--workers", "2", "--style", "surgical"]
    result = subprocess.run([sys.executable, "-m", "unmask_cli", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Process" not in result.stderr, result.stderr


def test_a_second_dataset_inside_the_source_does_not_read_the_first_one(sample_folder):
    """The size-mismatch error says "use a new output folder": one inside SRC read the first dataset's clean and
    masked crops as photos (duplicate faces, masked faces as clean truth)."""
    first = runner.invoke(app, ["synthesize", str(sample_folder), str(sample_folder / "ds"), "--json", "--size", "64"])
    assert first.exit_code == 0, first.output
    args = ["synthesize", str(sample_folder), str(sample_folder / "ds128"), "--json", "--size", "128"]
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["photos"] == json.loads(first.stdout)["photos"] == 4
    crops = sample_folder / "ds" / "clean"  # named as SRC itself, a dataset's crops are what the user asked for
    third = runner.invoke(app, ["synthesize", str(crops), str(sample_folder.parent / "ds3"), "--json", "--size", "64"])
    assert json.loads(third.stdout)["photos"] == len(list(crops.iterdir())) > 0, third.output


@pytest.mark.parametrize(
    "case, words",
    [
        ("user_manifest", "not an unmask dataset's manifest"),
        ("user_images", "hold files and there is no config.json or manifest"),
        ("config_deleted_other_size", "its config.json gone) holds samples made with size=64 (now 128)"),
    ],
)
def test_a_folder_without_config_json_is_refused_unless_its_samples_match(sample_folder, tmp_path, case, words):
    """Deleting a damaged config.json (as its error offers) let a rerun with other settings mix two datasets, and a
    folder of the user's own manifest.jsonl and clean/ images was written into."""
    import shutil

    out = tmp_path / "ds"
    if case == "user_manifest":
        out.mkdir()
        (out / "manifest.jsonl").write_text('{"file": "a.jpg", "label": "cat"}\n')
    elif case == "user_images":
        (out / "clean").mkdir(parents=True)
        shutil.copy(next(p for p in Path(sample_folder).iterdir() if p.is_file()), out / "clean" / "mine.jpg")
    else:
        made = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--size", "64", "--limit", "2"])
        assert made.exit_code == 0, made.output
        (out / "config.json").unlink()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--size", "128"])
    assert result.exit_code == 2 and words in result.output, result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    if case == "config_deleted_other_size":  # the same settings resume, as the damaged config's error says
        result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--size", "64", "--json"])
        assert result.exit_code == 0 and json.loads(result.stdout)["already_done"] == 2, result.output


@pytest.mark.parametrize(
    "case, words",
    [
        ("file", "not a folder"),
        ("under_file", "cannot write there"),
        ("torn_config", "config.json: unreadable"),
        ("list_config", "not a dataset config"),
        ("config_folder", "config.json: unreadable"),
    ],
)
def test_bad_output_folder_is_one_error_line(sample_folder, tmp_path, case, words):
    out = tmp_path / "ds"
    if case == "file":
        out.write_bytes(b"x")
    elif case == "under_file":
        (tmp_path / "afile.jpg").write_bytes(b"x")
        out = tmp_path / "afile.jpg" / "ds"
    else:
        out.mkdir()
        config = out / "config.json"
        if case == "config_folder":
            config.mkdir()
        else:
            config.write_text('{"style": "ran\x01' if case == "torn_config" else "[]")
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(out)])
    assert words in one_error_line(result)


def test_unwritable_output_folder_is_one_error_line_before_any_photo(sample_folder, tmp_path, monkeypatch):
    from unmask_cli import outputs, synthesize

    def refuse(*args, **kwargs):  # what a read-only folder does (root ignores chmod, so it is simulated)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(synthesize, "process_photo", lambda *a: pytest.fail("work started"))
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(tmp_path / "ds")])
    assert "cannot write there (Permission denied)" in one_error_line(result)


def test_write_failure_during_the_run_is_one_error_line(sample_folder, tmp_path, monkeypatch):
    from unmask_cli import synthesize

    def full(path, records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synthesize.data, "append_jsonl", full)
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(tmp_path / "ds"), "--limit", "1"])
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_limit_below_one_is_refused(sample_folder, tmp_path, limit):
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(tmp_path / "ds"), "--limit", limit])
    assert result.exit_code == 2 and "--limit" in result.output
    assert not (tmp_path / "ds").exists()


def test_utk_subset_links_the_same_photos_every_time_and_two_ranges_share_none(tmp_path):
    """benchmarks/utk_subset.py: the draws the GPU packs are made from can be remade on a fresh machine."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "utk_subset.py"
    photos = tmp_path / "utkface"
    photos.mkdir()
    for i in range(40):
        (photos / f"{i}_{i % 2}_0_2017.jpg").write_bytes(b"x")
    (photos / "notes.txt").write_text("not a photo")

    def draw(out, start, count):
        args = [sys.executable, str(script), str(photos), str(tmp_path / out), "--start", str(start)]
        subprocess.run([*args, "--count", str(count)], check=True, capture_output=True)
        return sorted(p.name for p in (tmp_path / out).iterdir())

    first, second = draw("a", 0, 25), draw("b", 25, 25)
    assert len(first) == 25 and len(second) == 15  # the second range runs past the 40 photos
    assert not set(first) & set(second) and len(set(first) | set(second)) == 40
    assert draw("a_again", 0, 25) == first  # the same seed picks the same photos
    assert first != sorted(p.name for p in sorted(photos.glob("*.jpg"))[:25])  # shuffled, not the first by name
    assert all((tmp_path / "a" / name).resolve() == (photos / name).resolve() for name in first)
    assert draw("a", 0, 25) == first  # a rerun leaves the links it finds


@pytest.mark.parametrize("code, exit_code", [(28, 2), (5, 1)])
def test_a_write_error_on_one_photo_is_retried_by_the_rerun(sample_folder, tmp_path, monkeypatch, code, exit_code):
    """A write error says nothing about the photo: it is not recorded as skipped for good. A full disk (errno 28)
    stops the run at once, in one line; another error (EIO) is a line per photo and the batch goes on."""
    import os

    from unmask_cli import synthesize

    real = synthesize.write_atomic

    def failing(path, *a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(synthesize, "write_atomic", failing)
    out = tmp_path / "ds"
    args = ["synthesize", str(sample_folder), str(out), "--limit", "2", "--style", "surgical"]
    result = runner.invoke(app, args)
    assert result.exit_code == exit_code and os.strerror(code) in result.output, result.output
    assert result.output.count(os.strerror(code)) == (1 if code == 28 else 2)
    assert not list(read_jsonl(out / "skipped.jsonl"))
    monkeypatch.setattr(synthesize, "write_atomic", real)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["already_done"] == 0 and report["written"] > 0 and report["failed"] == 0


def test_a_photo_the_system_would_not_read_is_retried_by_the_rerun(sample_folder, tmp_path, monkeypatch):
    """A permission or I/O error says nothing about the photo: it was recorded as skipped for good, and the rerun
    after `chmod` never read it. It is a failure (exit 1), and the rerun does it."""
    import errno
    import os

    photo = sorted(p for p in Path(sample_folder).iterdir() if p.is_file())[0]
    read_bytes = Path.read_bytes

    def denied(self):
        if self == photo:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    out = tmp_path / "ds"
    args = ["synthesize", str(sample_folder), str(out), "--style", "surgical", "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Permission denied" in result.output, result.output
    assert not list(read_jsonl(out / "skipped.jsonl"))
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert report["already_done"] == len([p for p in Path(sample_folder).iterdir() if p.is_file()]) - 1
    assert report["written"] > 0 and report["failed"] == 0


def test_a_style_whose_output_does_not_fit_the_crop_writes_nothing(sample_folder, tmp_path, monkeypatch):
    from unmask_cli import registry

    def squashed(image, landmarks, rng):
        return image[:10], np.ones((3, 3), np.uint8)

    monkeypatch.setattr(registry, "load_synthesizer", lambda name: squashed)
    out = tmp_path / "ds"
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--limit", "1", "--style", "surgical"])
    assert result.exit_code == 1 and "style 'surgical' returned" in result.output, result.output
    assert not load_manifest(out) and not list((out / "masked").iterdir())


def test_a_negative_seed_is_refused(sample_folder, tmp_path):
    result = runner.invoke(app, ["synthesize", str(sample_folder), str(tmp_path / "ds"), "--seed", "-1"])
    assert result.exit_code == 2 and "--seed" in result.output


def test_a_folder_without_photos_is_said_and_fails(tmp_path):
    """Nothing to make training data from is not a success: a skip line naming the folder, exit 1."""
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["synthesize", str(tmp_path / "empty"), str(tmp_path / "out"), "--json"])
    assert result.exit_code == 1 and "no photos in this folder" in result.output
    assert not (tmp_path / "out").exists()  # a config.json there would fix the settings of a dataset never made
    assert (
        runner.invoke(app, ["synthesize", str(tmp_path / "empty"), str(tmp_path / "o2"), "--workers", "0"]).exit_code
        == 2
    )
