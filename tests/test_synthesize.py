import hashlib
import json
import subprocess
import sys

from typer.testing import CliRunner

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


def test_manifest_records_landmarks_style_and_seed(sample_folder, tmp_path):
    out = tmp_path / "ds"
    runner.invoke(app, ["synthesize", str(sample_folder), str(out), "--style", "n95", "--size", "96"])
    records = load_manifest(out)
    assert len(records) == 4
    for r in records:
        assert r["style"] == "n95" and r["seed"] == 0 and r["size"] == 96 and r["face"] == 0
        assert len(r["landmarks"]) == 68
        assert all(0 <= x < 96 and 0 <= y < 96 for x, y in r["landmarks"][27:48])


def test_append_jsonl_starts_on_a_fresh_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"torn')
    append_jsonl(path, [{"b": 2}])
    assert list(read_jsonl(path)) == [{"a": 1}, {"b": 2}]
