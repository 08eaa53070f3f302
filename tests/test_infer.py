"""Export and inference with tiny models trained here: parity, paste-back, bad inputs, providers, no TF import."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SAMPLES, LowerFaceBackend, make_bad_inputs
from unmask_cli import registry
from unmask_cli.images import read_rgb
from unmask_cli.runtime import CPU, CUDA, TENSORRT, ProviderError, choose_providers

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """Mask G and Face G at S = 32, trained for a few hundred steps on the sample faces, exported to ONNX."""
    from unmask_cli import export, training
    from unmask_cli.synthesize import SynthesisConfig, resolve_styles, run

    root = tmp_path_factory.mktemp("models")
    styles, _ = resolve_styles("random")
    run(SAMPLES, root / "data", SynthesisConfig(size=32, variants=8, seed=2, styles=styles), workers=1)
    common = dict(
        data=str(root / "data"),
        size=32,
        batch=8,
        width=8,
        seed=0,
        lr=3e-3,
        checkpoint_every=10_000,
        log_every=100,
        val_fraction=0.0,
        val_samples=8,
    )
    training.trainer(training.TrainConfig(kind="mask", epochs=100, **common), root / "runs" / "mask").fit(max_steps=250)
    training.trainer(training.TrainConfig(kind="face", epochs=100, **common), root / "runs" / "face").fit(max_steps=20)
    report = export.export(
        root / "runs" / "mask",
        root / "runs" / "face",
        root / "exported",
        parity_photos=[SAMPLES],
        int8=True,
        on_line=lambda _: None,
    )
    (root / "report.json").write_text(json.dumps(report.__dict__))
    return root


@pytest.fixture(scope="module")
def masked_photos(tmp_path_factory) -> Path:
    """The sample photos wearing a drawn mask, full resolution, as PNG (lossless: pixels can be compared)."""
    from unmask_cli.faces import detect_faces

    folder = tmp_path_factory.mktemp("masked")
    from unmask_styles.surgical import SurgicalMask

    style = SurgicalMask()  # a fresh one: the registry's instance is shared with other tests
    # At the style's own height: the tests run --fast (HOG and BlazeFace), and HOG misses half the masks pulled up
    # to the eyes that the styles also draw (the full detector chain finds them).
    style.jitter = lambda rng: style.layout
    for i, path in enumerate(sorted(SAMPLES.glob("*.jpg"))):
        rgb = read_rgb(path)
        masked, _ = style(rgb, detect_faces(rgb)[0].landmarks, np.random.default_rng(i))
        cv2.imwrite(str(folder / f"{path.stem}.png"), cv2.cvtColor(masked, cv2.COLOR_RGB2BGR))
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unmask_cli", *args], capture_output=True, text=True, timeout=600)


def _hash(path: Path) -> str:
    if not path.exists():  # a broken link: what it points to
        return f"link to {path.readlink()}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _models_with_structure(tiny_models, tmp_path, structure_run: Path) -> Path:
    """A copy of the tiny models folder with `structure_run` exported beside them as the structure model."""
    import shutil

    from unmask_cli import export

    out = tmp_path / "exported"
    shutil.copytree(tiny_models / "exported", out)
    none = tmp_path / "none"
    export.export(
        none, none, out, parity_photos=[SAMPLES], on_line=lambda _: None, only="structure", structure_run=structure_run
    )
    return out


def test_export_parity_and_metadata(tiny_models):
    import onnxruntime as ort

    from unmask_cli.faces import ALIGNMENT_ID
    from unmask_cli.model_card import parse

    report = json.loads((tiny_models / "report.json").read_text())
    for key in ("mask_g/fp32", "face_g/fp32"):
        assert report["parity"][key]["max_abs_diff"] < 1e-3
    import onnx

    for name in ("mask_g.onnx", "face_g.onnx"):
        ops = [n.op_type for n in onnx.load(tiny_models / "exported" / name).graph.node]
        # GroupNormalization(groups=-1) became InstanceNormalization (parity above still within 1e-3); at S=32
        # the two 1×1 bottleneck groups have no transpose to anchor the pattern and stay as tf2onnx wrote them
        assert ops.count("InstanceNormalization") >= 6 and ops.count("ReduceMean") <= 4
    for name, kind in (("mask_g.onnx", "mask_g"), ("face_g.onnx", "face_g")):
        path = tiny_models / "exported" / name
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        info = parse(path, dict(session.get_modelmeta().custom_metadata_map))
        assert (info.kind, info.input_size, info.colour_order, info.alignment) == (kind, 32, "RGB", ALIGNMENT_ID)
        assert len(info.props["weights_sha256"]) == 64
        assert session.get_inputs()[0].shape[0] in (None, "unk__0") or isinstance(
            session.get_inputs()[0].shape[0], str
        )  # dynamic batch axis


def test_infer_restores_masked_region_and_leaves_the_rest(tiny_models, masked_photos, tmp_path):
    out = tmp_path / "out"
    result = _cli(
        "infer",
        str(masked_photos),
        "--out",
        str(out),
        "--models",
        str(tiny_models / "exported"),
        "--save-mask",
        "--json",
        "--fast",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    inputs = sorted(masked_photos.glob("*.png"))
    assert report["faces"] >= len(inputs) - 1
    assert report["restored"] >= len(inputs) - 1
    # one record per photo: where it went (or why not) and its faces, adding up to the totals
    records = {Path(r["source"]).name: r for r in report["results"]}
    assert set(records) == {p.name for p in inputs}
    assert sum(f["restored"] for r in records.values() for f in r["faces"]) == report["restored"]
    for name, record in records.items():
        assert (record["output"] is not None) == (out / name).exists() == (record["skipped"] is None)
        assert all(f["detector"] in {"hog", "blaze", "blaze-low"} and len(f["box"]) == 4 for f in record["faces"])
    changed_any = 0
    for path in inputs:
        target = out / path.name
        if not target.exists():
            continue
        before, after = read_rgb(path).astype(int), read_rgb(target).astype(int)
        weight = cv2.imread(str(out / f"{path.name}.mask.png"), cv2.IMREAD_GRAYSCALE)
        assert before.shape == after.shape
        outside = weight == 0
        assert np.array_equal(before[outside], after[outside]), "pixels outside the face region changed"
        inside = weight == 255
        assert inside.sum() > 500
        changed = np.abs(before - after).sum(-1)[inside]
        assert (changed > 0).mean() > 0.8, "the masked area was not replaced"
        changed_any += 1
    assert changed_any >= len(inputs) - 1


def test_rerun_skips_done_and_overwrite_redoes(tiny_models, masked_photos, tmp_path):
    args = [
        "infer",
        str(masked_photos),
        "--out",
        str(tmp_path / "o"),
        "--models",
        str(tiny_models / "exported"),
        "--json",
        "--fast",
    ]
    first = json.loads(_cli(*args).stdout)
    second = json.loads(_cli(*args).stdout)
    assert second["already_done"] == first["written"] and second["written"] == 0
    third = json.loads(_cli(*args, "--overwrite").stdout)
    assert third["written"] == first["written"]


def test_bad_inputs_one_line_each_batch_goes_on_inputs_untouched(tiny_models, tmp_path, face_photos):
    cases = make_bad_inputs(tmp_path / "in", face_photos[0])
    before = {p: _hash(p) for p in cases.values()}
    result = _cli(
        "infer",
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "out"),
        "--models",
        str(tiny_models / "exported"),
        "--json",
        "--fast",
    )
    # exit 1: the batch went on, but some photos could not be read; the JSON counts them
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    unreadable = [r for r in report["results"] if r["skipped"] and not r["skipped"].startswith("no face")]
    assert report["failed"] == len(unreadable) > 0
    skip_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("skip ")]
    for name, path in cases.items():
        lines = [ln for ln in skip_lines if path.name in ln]
        if name.endswith("_ok"):
            continue  # a real face: restored, or skipped for having no mask — either way one line at most
        assert len(lines) == 1, (name, skip_lines)
    assert {p: _hash(p) for p in cases.values()} == before


def test_links_named_on_the_command_line_are_skipped_with_their_reason(tiny_models, tmp_path):
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "moved_away.jpg")
    (tmp_path / "loop_a.jpg").symlink_to("loop_b.jpg")
    (tmp_path / "loop_b.jpg").symlink_to("loop_a.jpg")
    names = ["gone.jpg", "loop_a.jpg", "absent.jpg"]
    args = ["infer", *(str(tmp_path / n) for n in names), "--out", str(tmp_path / "out")]
    result = _cli(*args, "--models", str(tiny_models / "exported"), "--fast")
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(("skip ", "error "))]
    assert lines == [
        f"error {tmp_path / 'absent.jpg'}: no such file or folder",
        f"skip {tmp_path / 'gone.jpg'}: broken link (nothing at {tmp_path / 'moved_away.jpg'})",
        f"skip {tmp_path / 'loop_a.jpg'}: link loop (via loop_b.jpg, never reaches a file)",
    ], result.stderr
    assert result.returncode == 1 and "Traceback" not in result.stderr  # the missing photo is an error


def test_output_folder_equal_to_input_never_overwrites(tiny_models, masked_photos, tmp_path):
    import shutil

    folder = tmp_path / "same"
    shutil.copytree(masked_photos, folder)
    before = {p.name: _hash(p) for p in folder.iterdir()}
    result = _cli(
        "infer", str(folder), "--out", str(folder), "--overwrite", "--models", str(tiny_models / "exported"), "--fast"
    )
    assert result.returncode == 1  # every photo refused: nothing the user asked for was done
    assert "overwrite the input" in result.stderr
    assert {p.name: _hash(p) for p in folder.iterdir()} == before


def test_wrong_model_file_is_one_clear_error(tmp_path, face_photos):
    bad = tmp_path / "exported"
    bad.mkdir()
    (bad / "mask_g.onnx").write_bytes(b"not a model at all")
    (bad / "face_g.onnx").write_bytes(b"")
    result = _cli("infer", str(face_photos[0]), "--out", str(tmp_path / "o"), "--models", str(bad))
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "mask_g.onnx" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()  # nothing was done: no empty output folder left behind


def test_infer_never_imports_tensorflow(tiny_models, masked_photos, tmp_path):
    code = (
        "import sys; from typer.testing import CliRunner; from unmask_cli.cli import app; "
        f"r = CliRunner().invoke(app, ['infer', {str(masked_photos)!r}, '--out', {str(tmp_path / 'x')!r}, "
        f"'--models', {str(tiny_models / 'exported')!r}, '--fast']); "
        "assert r.exit_code == 0, r.output; print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _model_input(models_dir: Path, masked_photos: Path):
    """The masked photos' first faces, aligned at the tiny models' 32² and scaled as the models take them."""
    from unmask_cli.faces import align, detect_faces
    from unmask_cli.pipeline import Unmasker

    crops = []
    for path in sorted(masked_photos.glob("*.png")):
        rgb = read_rgb(path)
        crops.append(align(rgb, detect_faces(rgb, robust=True)[0].landmarks, 32)[0])
    return Unmasker(models_dir, "onnxruntime", device="cpu")._to_model(crops)


def test_tensorflow_and_onnxruntime_backends_agree(tiny_models, masked_photos):
    from unmask_cli.pipeline import Unmasker

    ort_unmasker = Unmasker(tiny_models / "exported", "onnxruntime", device="cpu")
    x = _model_input(tiny_models / "exported", masked_photos)
    tf_backend = registry.backend_class("tensorflow")(checkpoints=tiny_models / "runs")
    m1, r1 = ort_unmasker.backend.run(x)
    m2, r2 = tf_backend.run(x)
    assert np.array_equal(m1, m2)
    assert np.abs(r1 - r2).max() < 1e-3


def test_both_backends_blend_a_structure_model_alike(tiny_models, masked_photos, tmp_path):
    import shutil

    from unmask_cli import export

    runs = tmp_path / "runs"
    shutil.copytree(tiny_models / "runs", runs)
    shutil.copytree(runs / "face", runs / "face_structure")
    structure, _ = export.load_run(runs / "face_structure", "face")
    structure.get_layer("rgb").bias.assign(structure.get_layer("rgb").bias + 0.5)  # another fill: paler
    structure.save_weights(runs / "face_structure" / "face_g.weights.h5")
    models_dir = _models_with_structure(tiny_models, tmp_path, runs / "face_structure")
    x = _model_input(models_dir, masked_photos)
    ort_backend = registry.open_backend("onnxruntime", models_dir=models_dir)
    tf_backend = registry.backend_class("tensorflow")(checkpoints=runs)
    plain = registry.open_backend("onnxruntime", models_dir=tiny_models / "exported")
    assert tf_backend.description.endswith("+ structure band")
    (m1, r1), (m2, r2), (m0, r0) = ort_backend.run(x), tf_backend.run(x), plain.run(x)
    assert np.array_equal(m1, m2) and np.array_equal(m1, m0) and m1.any()
    assert np.abs(r1 - r2).max() < 1e-3
    hole = m1[..., 0] > 0.5
    assert (r1 - r0)[hole].mean() > 0.1  # the paler structure model lifted the fill's level


def test_opencv_baseline_changes_only_the_mask(tiny_models, masked_photos):
    backend = registry.backend_class("opencv")(models_dir=tiny_models / "exported")
    rng = np.random.default_rng(0)
    crops = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    masks, restored = backend.run(crops)
    keep = masks[..., 0] == 0
    assert np.abs(restored[keep] - crops[keep]).max() < 1 / 127.5 + 1e-6  # only uint8 rounding


@pytest.mark.parametrize(
    "available, device, explicit, expected",
    [
        ([TENSORRT, CUDA, CPU], "auto", None, [TENSORRT, CUDA, CPU]),
        ([CUDA, CPU], "auto", None, [CUDA, CPU]),
        ([CPU], "auto", None, [CPU]),
        ([TENSORRT, CUDA, CPU], "cpu", None, [CPU]),
        ([TENSORRT, CUDA, CPU], "cuda", None, [CUDA, CPU]),
        ([CUDA, CPU], "auto", [CPU], [CPU]),
    ],
)
def test_provider_selection(available, device, explicit, expected):
    assert choose_providers(available, device, explicit) == expected


@pytest.mark.parametrize(
    "available, device, explicit",
    [([CPU], "cuda", None), ([CPU], "tensorrt", None), ([CPU], "auto", [CUDA]), ([CPU], "gpu", None)],
)
def test_provider_selection_errors(available, device, explicit):
    with pytest.raises(ProviderError):
        choose_providers(available, device, explicit)


def test_fallback_to_cpu_is_reported(monkeypatch, tiny_models):
    import onnxruntime as ort

    from unmask_cli.runtime import create_session

    # onnxruntime-gpu lists CUDA even where CUDA cannot start; the session then quietly runs on CPU.
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    real = ort.InferenceSession

    def fake(source, options=None, providers=None):
        return real(source, options, providers=[CPU])

    monkeypatch.setattr(ort, "InferenceSession", fake)
    _, warning = create_session(tiny_models / "exported" / "mask_g.onnx")
    assert warning and CUDA in warning and CPU in warning


def test_evaluate_compares_model_and_baselines(tiny_models, tmp_path):
    out_json, out_sheet = tmp_path / "eval.json", tmp_path / "eval.png"
    result = _cli(
        "evaluate",
        str(SAMPLES),
        "--models",
        str(tiny_models / "exported"),
        "--styles",
        "surgical",
        "--styles",
        "n95",
        "--json",
        "--json-file",
        str(out_json),
        "--sheet",
        str(out_sheet),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out_json.read_text())
    assert json.loads(result.stdout) == report  # --json: the same figures on stdout, no table around them
    assert report["faces"] == 4 and report["cases"] == 8
    assert set(report["summary"]) == {"onnxruntime", "opencv", "opencv-ns"}
    for scores in report["summary"].values():
        assert 0 <= scores["iou"] <= 1 and 0 < scores["psnr_masked"] < 60
        assert 0 < scores["identity_distance"] < 2
        assert 0 <= scores["bare_faces_restored"] <= 1
    # The baselines fill Mask G's mask with the same pixels around them: identical masks, different fills.
    assert report["summary"]["opencv"]["iou"] == report["summary"]["opencv-ns"]["iou"]
    assert set(report["mask_per_style"]["iou"]) == {"surgical", "n95"}
    for style, covered in report["mask_per_style"]["region_coverage"].items():
        assert 0 <= report["mask_per_style"]["region_iou"][style] <= 1 and 0 <= covered <= 1
    assert cv2.imread(str(out_sheet)) is not None


def test_benchmark_harness_runs_every_backend_once(tiny_models, tmp_path):
    out_json, out_plot = tmp_path / "bench.json", tmp_path / "bench.png"
    result = _cli(
        "benchmark",
        "--models",
        str(tiny_models / "exported"),
        "--checkpoints",
        str(tiny_models / "runs"),
        "--batch",
        "1,2",
        "--seconds",
        "0.05",
        "--backend",
        "onnxruntime",
        "--backend",
        "tensorflow",
        "--backend",
        "opencv",
        "--backend",
        "onnxruntime:int8",
        "--json",
        "--json-file",
        str(out_json),
        "--plot",
        str(out_plot),
        "--photos",
        str(SAMPLES),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out_json.read_text())
    assert json.loads(result.stdout) == report  # --json: the same figures on stdout, no table around them
    seen = {(t["backend"], t["part"], t["batch"]) for t in report["timings"]}
    for backend in ("onnxruntime", "tensorflow", "onnxruntime:int8"):
        for part in ("both", "mask_g", "face_g"):
            assert {(backend, part, 1), (backend, part, 2)} <= seen
    assert ("opencv", "both", 2) in seen
    assert "int8" in report["descriptions"]["onnxruntime:int8"]
    assert all(t["images_per_second"] > 0 and t["p95_ms"] >= t["p50_ms"] > 0 for t in report["timings"])
    assert set(report["end_to_end"]) == {"onnxruntime", "tensorflow", "opencv", "onnxruntime:int8"}
    assert abs(sum(report["end_to_end"]["onnxruntime"]["stage_share"].values()) - 1) < 1e-6
    assert cv2.imread(str(out_plot)) is not None


def test_benchmark_fails_when_a_backend_it_was_asked_for_is_not_timed(tiny_models, tmp_path):
    """Exit 0 used to hide a named backend that failed: a script reading the status took the run for complete."""
    args = ["benchmark", "--models", str(tiny_models / "exported"), "--batch", "1", "--seconds", "0.05"]
    args += ["--photos", "none"]  # no end-to-end figure
    both = ["--backend", "onnxruntime", "--backend", "tensorflow", "--checkpoints", str(tmp_path)]
    result = _cli(*args, *both, "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)  # the backend that ran still has its figures
    assert {t["backend"] for t in report["timings"]} == {"onnxruntime"} and set(report["errors"]) == {"tensorflow"}
    assert "error backend tensorflow" in result.stderr
    assert _cli(*args, "--backend", "onnxruntime").returncode == 0


@pytest.mark.parametrize("region, in_place", [("lower", True), ("upper", False)])
def test_infer_counts_masks_over_nose_and_mouth(monkeypatch, masked_photos, tmp_path, region, in_place):
    """The summary's masks_in_place counts faces whose restored region covers nose tip + mouth, eyes free."""
    from unmask_cli import pipeline
    from unmask_cli.faces import CROP_TEMPLATE

    size = 64
    rows = np.arange(size)[:, None, None] * np.ones((1, size, 1))
    nose_row = CROP_TEMPLATE[30, 1] * (size - 1)
    eye_row = CROP_TEMPLATE[36:48, 1].max() * (size - 1)
    lower = (rows >= nose_row - 1) & (rows < size * 0.97)
    upper = rows <= eye_row + 1

    class FixedMaskBackend:
        name, input_size, value_range, description = "fixed", size, (-1.0, 1.0), "fixed mask"

        def run(self, crops):
            mask = (lower if region == "lower" else upper).astype(np.float32)
            masks = np.repeat(mask[None], len(crops), 0)
            return masks, crops * (1 - masks)

    monkeypatch.setattr(pipeline.registry, "open_backend", lambda *a, **k: FixedMaskBackend())
    summary = pipeline.Unmasker("unused", "fixed", robust_detection=False).run([masked_photos], tmp_path / "out")
    assert summary.restored >= 3
    assert summary.masks_in_place == (summary.restored if in_place else 0)


def test_parallel_detection_gives_the_same_photos(tiny_models, masked_photos, tmp_path):
    """Decoding + detection in worker processes (8+ photos) must not change a single output byte or count,
    and a corrupt file among them is still one skip."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        for path in sorted(masked_photos.glob("*.png")):
            shutil.copy(path, folder / f"{i}_{path.name}")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    reports = {}
    for workers in (1, 2):
        result = _cli(
            "infer", str(folder), "--out", str(tmp_path / f"out{workers}"), "--models",
            str(tiny_models / "exported"), "--workers", str(workers), "--json", "--fast",
        )  # fmt: skip
        assert result.returncode == 1, result.stderr  # the corrupt file: the batch goes on, the exit says so
        reports[workers] = json.loads(result.stdout)
    keys = ("photos", "written", "faces", "restored", "masks_in_place", "skipped")
    assert {k: reports[1][k] for k in keys} == {k: reports[2][k] for k in keys}
    assert reports[2]["written"] >= 6 and sum(reports[2]["skipped"].values()) >= 1
    for path in sorted((tmp_path / "out1").iterdir()):
        assert path.read_bytes() == (tmp_path / "out2" / path.name).read_bytes(), path.name


def test_a_photo_alone_gets_the_same_face_as_in_its_folder(tiny_models, masked_photos, tmp_path):
    """Face G's noise comes from each crop's pixels: neither the other photos of a batch nor --batch change a fill."""
    from unmask_cli import pipeline

    models = tiny_models / "exported"
    together = pipeline.Unmasker(models, batch=8, workers=1, robust_detection=False)
    summary = together.run([masked_photos], tmp_path / "folder")
    photos = sorted(masked_photos.glob("*.png"))
    assert summary.restored == len(photos) >= 3
    for photo in photos[1:3]:  # not the first of the batch: it drew the first noise before as well
        alone = pipeline.Unmasker(models, batch=1, workers=1, robust_detection=False)
        alone.run([photo], tmp_path / photo.stem)
        assert (tmp_path / photo.stem / photo.name).read_bytes() == (tmp_path / "folder" / photo.name).read_bytes()


def test_another_seed_paints_another_face_and_the_cli_passes_it(tiny_models, masked_photos, tmp_path):
    from unmask_cli import pipeline

    photo = sorted(masked_photos.glob("*.png"))[0]
    outputs = {}
    for seed in (0, 1):
        unmasker = pipeline.Unmasker(tiny_models / "exported", workers=1, robust_detection=False, seed=seed)
        unmasker.run([photo], tmp_path / f"api{seed}")
        outputs[seed] = (tmp_path / f"api{seed}" / photo.name).read_bytes()
    assert outputs[0] != outputs[1]
    result = _cli("infer", str(photo), "--out", str(tmp_path / "cli"), "--models", str(tiny_models / "exported"),
                  "--seed", "1", "--fast", "--workers", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / photo.name).read_bytes() == outputs[1]


def test_a_photo_that_breaks_detection_is_one_skip(monkeypatch, tmp_path, masked_photos):
    from unmask_cli import pipeline

    def explode(rgb, robust=True):
        raise RuntimeError("unsupported image layout")

    monkeypatch.setattr(pipeline, "find_faces", explode)
    rgb, faces, error, *_ = pipeline._decode_and_detect((next(masked_photos.glob("*.png")), True))
    assert rgb is None and faces == [] and error == "face detection failed (RuntimeError: unsupported image layout)"


def test_reexport_removes_a_variant_that_no_longer_passes(tiny_models, tmp_path, monkeypatch):
    from unmask_cli import export

    out = tmp_path / "exported"
    runs = tiny_models / "runs"
    export.export(runs / "mask", runs / "face", out, int8=True, parity_photos=[SAMPLES], on_line=lambda _: None)
    assert (out / "face_g.int8.onnx").exists()
    monkeypatch.setitem(export.TOLERANCE, "int8", (0.0, 0.0))  # now no int8 model can pass
    monkeypatch.setattr(export, "INT8_MAX_FLOAT_CONVS", 0)  # and searching for float layers cannot help
    lines: list[str] = []
    report = export.export(runs / "mask", runs / "face", out, int8=True, parity_photos=[SAMPLES], on_line=lines.append)
    assert not (out / "face_g.int8.onnx").exists() and not (out / "mask_g.int8.onnx").exists()
    assert "face_g/int8" not in report.files and any("earlier export" in line for line in lines)


def test_int8_keeps_the_most_fragile_convolutions_float_until_within_tolerance(tiny_models):
    import onnx

    from unmask_cli import export

    fp32 = (tiny_models / "exported" / "face_g.onnx").read_bytes()
    _, x = export.parity_inputs(32, [SAMPLES], 16)
    reference = export._run(export._session(fp32), x)

    def mean_error(blob: bytes) -> float:
        return float(np.abs(export._run(export._session(blob), x) - reference).mean())

    plain = mean_error(export.quantize_int8(fp32, x, "input"))
    quiet = dict(on_line=lambda _: None, max_extra=2)
    blob, kept = export.quantize_int8_within(fp32, x, "input", reference, (10.0, plain / 2), **quiet)
    assert 1 <= len(kept) <= 2 and mean_error(blob) < plain
    model = onnx.load_from_string(blob)
    weights = {i.name for i in model.graph.initializer}
    convs = {n.name: n for n in model.graph.node if n.op_type == "Conv"}
    assert all(convs[name].input[1] in weights for name in kept)  # float weights, no DequantizeLinear
    assert sum(n.input[1] not in weights for n in convs.values()) >= len(convs) - len(kept) - 1  # the rest is int8
    within = export.quantize_int8_within(fp32, x, "input", reference, (10.0, 1.0), **quiet)
    assert within[1] == []  # already within tolerance: nothing extra
    # when the largest error is what fails, the search works on the largest error
    plain_max = float(np.abs(export._run(export._session(export.quantize_int8(fp32, x, "input")), x) - reference).max())
    blob, kept = export.quantize_int8_within(fp32, x, "input", reference, (plain_max / 4, 10.0), **quiet)
    assert kept and float(np.abs(export._run(export._session(blob), x) - reference).max()) < plain_max


def test_export_only_face_keeps_the_mask_model_and_its_report(tiny_models, tmp_path):
    from unmask_cli import export

    out = tmp_path / "exported"
    runs = tiny_models / "runs"
    export.export(runs / "mask", runs / "face", out, parity_photos=[SAMPLES], on_line=lambda _: None)
    mask_before = _hash(out / "mask_g.onnx")
    before = json.loads((out / "export.json").read_text())
    (out / "face_g.onnx").unlink()
    progress: list[tuple[int, int]] = []
    report = export.export(
        tmp_path / "no-mask-run",
        runs / "face",
        out,
        parity_photos=[SAMPLES],
        on_line=lambda _: None,
        only="face",
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(0, 1), (1, 1)]  # one file: Face G at fp32
    assert (out / "face_g.onnx").exists() and _hash(out / "mask_g.onnx") == mask_before
    after = json.loads((out / "export.json").read_text())
    assert after["parity"]["mask_g/fp32"] == before["parity"]["mask_g/fp32"]
    assert set(after["files"]) == set(before["files"]) and report.parity["face_g/fp32"]["written"]
    with pytest.raises(ValueError, match="only"):
        export.export(runs / "mask", runs / "face", out, on_line=lambda _: None, only="both")


def test_a_fresh_export_removes_variants_of_the_earlier_one_and_keeps_the_companions(tiny_models, tmp_path):
    from unmask_cli import export

    runs = tiny_models / "runs"
    out = _models_with_structure(tiny_models, tmp_path, runs / "face")  # fp32 and int8, exported together
    lines: list[str] = []
    export.export(runs / "mask", runs / "face", out, parity_photos=[SAMPLES], on_line=lines.append)  # fp32 only
    # an int8 file of the earlier export beside the new fp32 would run old weights under --precision int8
    assert not list(out.glob("*.int8.onnx"))
    assert sum("removed" in line and ".int8.onnx" in line for line in lines) == 2
    report = json.loads((out / "export.json").read_text())
    assert set(report["files"]) == {"mask_g/fp32", "face_g/fp32", "face_g_structure/fp32"}
    assert any(line.startswith(f"kept {out / 'face_g_structure.onnx'}") for line in lines)
    assert registry.open_backend("onnxruntime", models_dir=out).description.endswith("+ structure band")


def test_an_export_that_fails_changes_nothing_in_its_folder(tiny_models, tmp_path):
    """A Face G run that is missing, or whose weights are damaged, must not leave a new Mask G beside the old
    Face G, nor a variant removed: nothing in --out changes until every model has passed."""
    import shutil

    from unmask_cli import training

    runs = tiny_models / "runs"
    out = _models_with_structure(tiny_models, tmp_path, runs / "face")
    before = {p.name: _hash(p) for p in out.iterdir()}
    broken = tmp_path / "broken_face"
    shutil.copytree(runs / "face", broken)
    (broken / training.FACE_WEIGHTS).write_bytes(b"half a weights file")
    cases = (
        (tmp_path / "missing", "not a finished"),
        (broken, "cannot load these weights"),
        (runs / "mask", "a `unmask train mask` run, not a face run"),  # the two options swapped: said so
    )
    for face_run, words in cases:
        args = ["export", "--onnx", "--mask-run", str(runs / "mask"), "--face-run", str(face_run), "--out", str(out)]
        result = _cli(*args, "--parity-photos", str(SAMPLES))
        assert result.returncode == 1 and words in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert {p.name: _hash(p) for p in out.iterdir()} == before
    result = _cli("export", "--onnx", "--out", str(out / "mask_g.onnx"))
    assert result.returncode == 2 and "exists and is not a folder" in result.stderr


def test_tensorflow_backend_names_damaged_weights_as_a_model_file_error(tiny_models, tmp_path):
    """What evaluate, infer and benchmark turn into one line (evaluate showed a traceback)."""
    import shutil

    from unmask_backends.tensorflow_backend import TensorFlowBackend

    from unmask_cli import training
    from unmask_cli.model_card import ModelFileError

    runs = tmp_path / "runs"
    shutil.copytree(tiny_models / "runs", runs)
    (runs / "face" / training.FACE_WEIGHTS).write_bytes(b"half a weights file")
    with pytest.raises(ModelFileError, match="cannot load these weights"):
        TensorFlowBackend(checkpoints=runs)


@pytest.mark.parametrize("name", ["mask_g.int8.onnx", "face_g.onnx", "export.json"])
def test_export_leaves_a_users_file_of_an_output_name_alone(tiny_models, tmp_path, name):
    """Written over (face_g.onnx, export.json) or removed as a stale variant (an int8 file): only files an export
    wrote are, and a user's own file of that name stops the export before any work."""
    from unmask_cli import export

    runs = tiny_models / "runs"
    out = tmp_path / "exported"
    out.mkdir()
    (out / name).write_text("the user's own notes")
    with pytest.raises(ValueError, match=r"is not (a model unmask exported|an unmask export report)"):
        export.export(runs / "mask", runs / "face", out, parity_photos=[SAMPLES], on_line=lambda _: None)
    assert (out / name).read_text() == "the user's own notes" and [p.name for p in out.iterdir()] == [name]


def test_export_refuses_generators_of_two_sizes_together_or_beside_each_other(tiny_models, tmp_path):
    import shutil

    from tests.toy_models import write_structure
    from unmask_cli import export
    from unmask_cli.model_card import FACE_FILE, MASK_FILE, file_props

    with pytest.raises(ValueError, match="different input sizes"):
        export._check_sizes(tmp_path, [(Path("runs/mask"), 32), (Path("runs/face"), 64)], {MASK_FILE, FACE_FILE})
    out = tmp_path / "exported"
    shutil.copytree(tiny_models / "exported", out)
    size = int(file_props(out / FACE_FILE)["input_size"])
    export._check_sizes(out, [(Path("runs/mask"), size)], {MASK_FILE})  # --only mask of the folder's size
    with pytest.raises(ValueError, match=f"face_g.onnx takes {size}² crops and the run exported now {2 * size}²"):
        export._check_sizes(out, [(Path("runs/mask"), 2 * size)], {MASK_FILE})
    # both generators at another size into a folder holding a structure model of the old one: infer would refuse
    # the folder it wrote
    write_structure(out, size=size)
    with pytest.raises(ValueError, match=f"face_g_structure.onnx takes {size}² crops .* --structure-run"):
        export._check_sizes(out, [(Path("runs/mask"), 2 * size), (Path("runs/face"), 2 * size)], {MASK_FILE, FACE_FILE})


def _export_only_beside(tiny_models, tmp_path, only: str, filename: str, option: str) -> tuple[Path, dict]:
    """Export one optional model (`only`, from the tiny Mask G or Face G run given as `option`) into a copy of the
    tiny models folder; checks that it needs its run and leaves the other files alone. (folder, its metadata)"""
    import shutil

    from unmask_cli import export
    from unmask_cli.model_card import file_props

    out = tmp_path / "exported"
    shutil.copytree(tiny_models / "exported", out)
    before = {name: _hash(out / name) for name in ("mask_g.onnx", "face_g.onnx")}
    runs = tiny_models / "runs"
    with pytest.raises(ValueError, match=option.replace("_", "-")):
        export.export(runs / "mask", runs / "face", out, on_line=lambda _: None, only=only)
    run = runs / ("mask" if only == "gate" else "face")
    none = tmp_path / "none"
    export.export(none, none, out, parity_photos=[SAMPLES], on_line=lambda _: None, only=only, **{option: run})
    assert {name: _hash(out / name) for name in before} == before
    return out, file_props(out / filename)


def test_export_gate_writes_the_presence_check_beside_the_models(tiny_models, tmp_path):
    from unmask_cli.model_card import GATE_FILE

    out, props = _export_only_beside(tiny_models, tmp_path, "gate", GATE_FILE, "gate_run")
    assert props["role"].startswith("presence check") and props["kind"] == "mask_g"
    backend = registry.open_backend("onnxruntime", models_dir=out)
    assert backend.description.endswith("+ presence check")


def test_export_structure_writes_the_second_face_g_beside_the_models(tiny_models, tmp_path):
    from unmask_cli.model_card import STRUCTURE_FILE

    plain = registry.open_backend("onnxruntime", models_dir=tiny_models / "exported")
    out, props = _export_only_beside(tiny_models, tmp_path, "structure", STRUCTURE_FILE, "structure_run")
    assert props["role"].startswith("structure") and props["kind"] == "face_g"
    assert float(props["band_sigma"]) == 3.0 * int(props["input_size"]) / 128
    banded = registry.open_backend("onnxruntime", models_dir=out)
    assert banded.description.endswith("+ structure band") and banded.face_fn.sigma == float(props["band_sigma"])
    x = np.zeros((1, banded.input_size, banded.input_size, 4), np.float32)
    x[0, banded.input_size // 2 :, :, 3] = 1.0  # a lower-face hole
    x[0, ..., :3] = np.random.default_rng(0).uniform(-1, 1, (*x.shape[1:3], 3))
    # the same Face G as its own structure model: the two bands add up to its fill again
    np.testing.assert_allclose(banded.face_fn(x), plain.face_fn(x), atol=1e-5)


def test_metadata_of_a_fine_tuned_run_names_what_it_started_from(tiny_models):
    from unmask_cli import export

    shipped = Path(__file__).resolve().parents[1] / "exported" / "mask_g.onnx"
    run = tiny_models / "runs" / "mask"
    config = json.loads((run / "run.json").read_text()) | {"init": str(shipped)}
    props = export._metadata("mask", config, run / "mask_g.weights.h5", "fp32")
    assert props["unmask.init_from"].startswith("mask_g.onnx: ") and " steps on " in props["unmask.init_from"]
    assert "unmask.init_from" not in export._metadata(
        "mask", json.loads((run / "run.json").read_text()), run / "mask_g.weights.h5", "fp32"
    )
    config["extra"] = {"averaged_with": {"model": str(shipped), "run_weight": 0.2}}
    props = export._metadata("mask", config, run / "mask_g.weights.h5", "fp32")
    assert props["unmask.averaged_with"] == "0.2 x these steps' weights + 0.8 x mask_g.onnx's"


def test_gpu_run_import_averages_with_the_model_it_started_from(tiny_models, tmp_path):
    """benchmarks/gpu/import_run.py --average-with: the shipped Face G is such an average (no JAX needed here)."""
    import importlib.util

    from unmask_cli import export, models
    from unmask_cli.onnx_weights import load_onnx_weights

    spec = importlib.util.spec_from_file_location(
        "import_run", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu" / "import_run.py"
    )
    import_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(import_run)

    start = Path(__file__).resolve().parents[1] / "exported" / "face_g.onnx"  # onnx_weights reads 128² models
    model = models.face_g(128, 32)
    load_onnx_weights(model, start)
    base = model.get_weights()
    gpu_out = tmp_path / "a"  # what train_face_jax.py leaves: chunked get_weights() and its log
    gpu_out.mkdir()
    np.savez(gpu_out / "weights_0.npz", **{f"w{i:03d}": w + 1.0 for i, w in enumerate(base)})
    (gpu_out / "metrics.jsonl").write_text(json.dumps({"event": "done", "step": 7}) + "\n")
    run = tmp_path / "run"
    args = [str(gpu_out), "--run-dir", str(run), "--data", str(tiny_models / "data")]
    import_run.main([*args, "--average-with", str(start), "--weight", "0.25"])
    model.load_weights(run / "face_g.weights.h5")
    for got, want in zip(model.get_weights(), base, strict=True):
        np.testing.assert_allclose(got, want + 0.25, atol=1e-5)
    config = json.loads((run / "run.json").read_text())
    assert config["init"] == str(start) and config["extra"]["steps"] == 7
    props = export._metadata("face", config, run / "face_g.weights.h5", "fp32")
    assert props["unmask.averaged_with"] == "0.25 x these steps' weights + 0.75 x face_g.onnx's"
    assert props["unmask.training_steps"] == "7" and props["unmask.init_from"].startswith("face_g.onnx: ")
    assert " x face_g.onnx's)" in props["unmask.init_from"]  # the shipped Face G is itself an average: said so
    # --save best: the weights are the last ones saved, not the run's end, which wrote none
    log = [{"event": "saved", "step": 5, "weights": ["ema/weights_0.npz"]}, {"event": "done", "step": 9, "weights": []}]
    (gpu_out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    import_run.main([*args, "--init", str(start)])
    assert json.loads((run / "run.json").read_text())["extra"]["steps"] == 5


def test_gpu_pack_carries_each_face_with_its_hole_from_every_draw(tiny_models, tmp_path):
    """benchmarks/gpu/pack_face_data.py --more-draws: one crop per face, one Mask G hole per draw of that face."""
    import importlib.util

    import onnxruntime as ort

    from unmask_cli.synthesize import SynthesisConfig, resolve_styles, run

    spec = importlib.util.spec_from_file_location(
        "pack_face_data", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu" / "pack_face_data.py"
    )
    pack_face_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pack_face_data)

    styles, _ = resolve_styles("random")
    draws = [tmp_path / "draw_a", tmp_path / "draw_b"]
    for seed, folder in enumerate(draws):
        run(SAMPLES, folder, SynthesisConfig(size=32, variants=1, seed=seed, styles=styles), workers=1)
    mask_model = tiny_models / "exported" / "mask_g.onnx"
    argv = [str(draws[0]), str(tmp_path / "pack"), "--more-draws", str(draws[1]), "--mask-model", str(mask_model)]
    pack_face_data.main(["--val", "0", "--val-fraction", "0", *argv])

    pack = np.load(tmp_path / "pack" / "train_0.npz")
    holes = np.unpackbits(pack["holes"], axis=-1, count=32)
    blobs = [pack["webp"][a:b] for a, b in zip(pack["offsets"][:-1], pack["offsets"][1:], strict=True)]
    assert holes.shape == (len(blobs), 2, 32, 32)
    session = ort.InferenceSession(str(mask_model), providers=["CPUExecutionProvider"])
    manifests = [{r["clean"]: r for r in pack_face_data.load_manifest(d)} for d in draws]
    by_crop = {}  # the packed crop tells which face it is (WebP is lossy: the nearest clean crop)
    cleans = {name: read_rgb(draws[0] / name) for name in manifests[0]}
    differs = 0
    for blob, face_holes in zip(blobs, holes, strict=True):
        crop = cv2.cvtColor(cv2.imdecode(blob, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)
        name = min(cleans, key=lambda n: np.abs(cleans[n] - crop).mean())
        by_crop[name] = True
        for draw, manifest, hole in zip(draws, manifests, face_holes, strict=True):
            masked = read_rgb(draw / manifest[name]["masked"])[None]
            np.testing.assert_array_equal(hole, pack_face_data.holes(session, masked)[0])
        differs += int((face_holes[0] != face_holes[1]).any())
    assert len(by_crop) == len(blobs) == len(cleans)  # every face once
    assert differs > 0  # the second draw's masks are not the first's


@pytest.mark.parametrize("detector, restored", [("hog", True), ("hog-eq", False), ("weak", False)])
def test_a_fallback_detection_whose_restoration_is_no_face_is_dropped(monkeypatch, tmp_path, detector, restored):
    """Fallback detectors also fire on walls and text: their hits are restored only if the result is a face.
    Here the "face" is blurred noise (a wall), so only a trusted detector's hit gets painted."""
    from unmask_cli import pipeline
    from unmask_cli.faces import CROP_TEMPLATE, Face

    size = 64
    wall = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8), (0, 0), 2)
    cv2.imwrite(str(tmp_path / "wall.png"), wall)
    landmarks = (CROP_TEMPLATE * 200 + 50).astype(np.float32)
    fake = Face(box=(50, 50, 250, 250), landmarks=landmarks, score=0.0, detector=detector)
    monkeypatch.setattr(pipeline, "find_faces", lambda rgb, robust=True: [fake])

    monkeypatch.setattr(pipeline.registry, "open_backend", lambda *a, **k: LowerFaceBackend(size))
    results = []
    summary = pipeline.Unmasker("unused", "fixed", workers=1).run(
        [tmp_path / "wall.png"], tmp_path / "out", on_result=results.append
    )
    assert summary.restored == int(restored)
    assert (tmp_path / "out" / "wall.png").exists() == restored
    if not restored:
        assert summary.skipped == {"no face found": 1}
        assert results[0].skipped == pipeline.NOT_A_FACE  # the photo's line says why: something was detected


def test_cli_keeps_the_colour_profile_unless_told_to_strip_it(tiny_models, masked_photos, tmp_path):
    from PIL import Image, ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "in" / "phone.jpg"
    source.parent.mkdir()
    Image.open(sorted(masked_photos.glob("*.png"))[0]).convert("RGB").save(source, icc_profile=profile)
    for flag, expected in (("--keep-metadata", profile), ("--strip-metadata", None)):
        out = tmp_path / flag
        args = ["infer", str(source), "--out", str(out), "--models", str(tiny_models / "exported"), "--fast", flag]
        assert _cli(*args).returncode == 0
        with Image.open(out / "phone.jpg") as written:
            assert written.info.get("icc_profile") == expected


def _a_long_run(tiny_models: Path, masked_photos: Path, tmp_path: Path, out: Path) -> list[str]:
    """The command line of an `infer` run of 40 photos on two workers into `out`: long enough to stop halfway."""
    import shutil

    folder = tmp_path / "many"
    folder.mkdir()
    photos = sorted(masked_photos.iterdir())
    for i in range(40):
        shutil.copy(photos[i % len(photos)], folder / f"{i:02d}{photos[i % len(photos)].suffix}")
    return [sys.executable, "-m", "unmask_cli", "infer", str(folder), "--out", str(out), "--models",
            str(tiny_models / "exported"), "--fast", "--workers", "2"]  # fmt: skip


def test_ctrl_c_stops_in_one_line_and_the_same_command_goes_on(tiny_models, masked_photos, tmp_path):
    """Ctrl-C reaches the whole process group: the main process says what is done in one line and exits 130, the
    workers go without a traceback each, no half-written file is left, and the same command finishes the rest."""
    import os
    import signal
    import time

    from unmask_cli.written import RECORD_NAME

    out = tmp_path / "out"
    args = _a_long_run(tiny_models, masked_photos, tmp_path, out)
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # pytest may run with it ignored
    )
    deadline = time.time() + 300

    def finished() -> bool:  # a photo written; not the write probe or a temporary file (both start with '.')
        return out.is_dir() and any(p.name[:2].isdigit() for p in out.iterdir())

    while not finished() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted:" in stderr
    done = {p.name for p in out.iterdir()} - {RECORD_NAME}  # the record of what was written, and from which photo
    assert all(name[:2].isdigit() for name in done), done  # finished photos only, no temporary files
    assert 0 < len(done) < 40
    result = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["already_done"] == len(done)


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from Linux's /proc")
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_workers_end_with_a_main_process_stopped_by_sigterm_or_killed(tiny_models, masked_photos, tmp_path, stop):
    """SIGTERM (`timeout`, `docker stop`) ended the run without a word or its JSON, and SIGKILL left the worker
    processes waiting forever, holding memory and the stdout a pipe was reading. Now SIGTERM is Ctrl-C's one line
    and exit 130, and workers go when their main process does."""
    import os
    import signal
    import time

    out = tmp_path / "out"
    args = [*_a_long_run(tiny_models, masked_photos, tmp_path, out), "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    workers: set[int] = set()
    while proc.poll() is None and time.time() < deadline:
        workers = _children(proc.pid)
        if out.is_dir() and any(p.name[:2].isdigit() for p in out.iterdir()) and len(workers) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None and len(workers) >= 2, "the run ended before its workers could be seen"

    def running(pid: int) -> bool:  # a zombie (state Z) has ended: in a container nobody may reap it
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    try:
        proc.send_signal(getattr(signal, stop))  # the main process alone, as `timeout` and the OOM killer do
        stdout, stderr = proc.communicate(timeout=60)  # (workers left holding its stdout: never ends)
        if stop == "SIGTERM":
            assert proc.returncode == 130 and "interrupted:" in stderr and "Traceback" not in stderr, stderr
            assert json.loads(stdout)["exit_code"] == 130
        deadline = time.time() + 30
        while time.time() < deadline and any(running(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if running(w)], f"workers left running after {stop}"
    finally:
        for w in [w for w in workers if running(w)]:
            os.kill(w, signal.SIGKILL)
