"""Model files are checked when they load: metadata that the graph or the backends cannot honour, and precisions
without files, are one line naming the file, never a crash in the middle of a batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from unmask_backends.onnxruntime_backend import OnnxRuntimeBackend
from unmask_backends.opencv_backend import OpenCVTelea

from tests.conftest import ROOT, SAMPLES
from tests.toy_models import write_models
from unmask_cli.cli import app
from unmask_cli.model_card import ModelFileError, variant_file

pytest.importorskip("onnx")  # builds the toy models
pytest.importorskip("onnxruntime")

SHIPPED = ROOT / "exported"


def _error_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_toy_models_load(tmp_path):
    backend = OnnxRuntimeBackend(write_models(tmp_path / "m"))
    assert (backend.input_size, backend.threshold) == (32, 0.5)


@pytest.mark.parametrize(
    "props, words",
    [
        ({"threshold": "abc"}, "threshold 'abc' is not a number"),
        ({"threshold": "nan"}, "threshold 'nan'"),
        ({"threshold": "1.5"}, "between 0 and 1"),
        ({"layout": "NCHW"}, "layout NCHW is not supported"),
        ({"value_range": "0,255"}, "value range 0,255 is not supported"),
    ],
)
def test_metadata_the_backends_cannot_honour_is_refused(tmp_path, props, words):
    models = write_models(tmp_path / "m", mask_props=props)
    for backend in (OnnxRuntimeBackend, OpenCVTelea):
        with pytest.raises(ModelFileError) as exc:
            backend(models)
        assert words in _error_line(exc) and "mask_g.onnx" in str(exc.value)


def test_input_size_that_the_graph_does_not_take_is_refused_at_load(tmp_path):
    models = write_models(tmp_path / "m", size=96, graph_size=32)
    with pytest.raises(ModelFileError) as exc:
        OnnxRuntimeBackend(models)
    assert "mask_g.onnx" in _error_line(exc) and "96×96" in str(exc.value) and "N×32×32×3" in str(exc.value)


def test_threshold_from_the_metadata_is_used(tmp_path):
    backend = OnnxRuntimeBackend(write_models(tmp_path / "m", mask_props={"threshold": "0.7"}))
    assert backend.threshold == 0.7


@pytest.mark.parametrize("precision", ["fp8", "FP16", "int4", ""])
def test_unknown_precision_is_named_as_such(tmp_path, precision):
    models = write_models(tmp_path / "m")
    with pytest.raises(ModelFileError) as exc:
        OnnxRuntimeBackend(models, precision=precision)
    assert f"unknown precision '{precision}'" in _error_line(exc) and "fp32, fp16, int8" in str(exc.value)
    with pytest.raises(ModelFileError):
        variant_file("mask_g.onnx", precision)


def test_precision_without_files_says_which_and_how_to_export(tmp_path):
    models = write_models(tmp_path / "m")
    with pytest.raises(ModelFileError) as exc:
        OnnxRuntimeBackend(models, precision="fp16")
    assert "no fp16 model files in" in _error_line(exc) and "--fp16" in str(exc.value)
    write_models(models, precision="fp16")  # once exported, the variant loads
    assert OnnxRuntimeBackend(models, precision="fp16").input_size == 32


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_shipped_models_pass_the_checks(precision):
    if not (SHIPPED / variant_file("mask_g.onnx", precision)).is_file():
        pytest.skip(f"no shipped {precision} models")
    backend = OnnxRuntimeBackend(SHIPPED, precision=precision)
    assert backend.input_size == 128 and 0 < backend.threshold < 1


def test_cli_refuses_a_bad_model_in_one_line(tmp_path):
    models = write_models(tmp_path / "m", mask_props={"threshold": "abc"})
    code = (
        "from typer.testing import CliRunner; from unmask_cli.cli import app; import sys; "
        f"r = CliRunner().invoke(app, ['infer', {str(SAMPLES)!r}, '--out', {str(tmp_path / 'o')!r}, "
        f"'--models', {str(models)!r}]); sys.stderr.write(r.output); sys.exit(r.exit_code)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "threshold" in lines[0] and "Traceback" not in result.stderr


def test_json_is_still_json_when_a_bad_model_stops_the_command(tmp_path):
    """`--json` promises a machine-readable stdout: a command stopped before its summary says why in JSON."""
    import json

    models = write_models(tmp_path / "m", mask_props={"threshold": "abc"})
    args = ["infer", str(SAMPLES), "--out", str(tmp_path / "o"), "--models", str(models), "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "unmask_cli", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["exit_code"] == 2 and len(report["errors"]) == 1 and "mask_g.onnx" in report["errors"][0]
    assert "threshold" in report["errors"][0] and not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", [["--backend", "onnxruntime"], ["--backend", "onnxruntime:fp8"]])
def test_evaluate_refuses_a_bad_model_in_one_line(tmp_path, option):
    models = write_models(tmp_path / "m", size=64, graph_size=32)
    result = CliRunner().invoke(app, ["evaluate", str(SAMPLES), "--models", str(models), *option])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert ("metadata says 64×64" in result.output) or ("unknown precision 'fp8'" in result.output)


def test_benchmark_reports_a_bad_model_and_goes_on(tmp_path):
    from unmask_cli.benchmark import bench_models

    good, bad = write_models(tmp_path / "good"), write_models(tmp_path / "bad", mask_props={"threshold": "x"})
    report = bench_models(["onnxruntime"], [1], 0.01, bad)
    assert "threshold 'x'" in report.errors["onnxruntime"] and not report.timings
    report = bench_models(["onnxruntime", "onnxruntime:fp8"], [1], 0.01, Path(good))
    assert report.timings and "unknown precision" in report.errors["onnxruntime:fp8"]


@pytest.mark.parametrize("backend", ["onnxruntime", "opencv"])
def test_the_presence_check_keeps_or_drops_whole_masks(tmp_path, backend):
    from tests.toy_models import write_gate
    from unmask_cli import registry

    folder = write_models(tmp_path / "m")
    crops = np.linspace(-1, 1, 2 * 32 * 32 * 3, dtype=np.float32).reshape(2, 32, 32, 3)  # Mask G marks half
    plain = registry.open_backend(backend, models_dir=folder)
    write_gate(folder, present=True)
    kept = registry.open_backend(backend, models_dir=folder)
    write_gate(folder, present=False)
    dropped = registry.open_backend(backend, models_dir=folder)
    assert plain.mask_fn(crops).max() > 0.5
    np.testing.assert_array_equal(kept.mask_fn(crops), plain.mask_fn(crops))
    assert dropped.mask_fn(crops).max() == 0.0
    masks, restored = dropped.run(crops)
    assert masks.max() == 0 and np.allclose(restored, crops, atol=1 / 127)  # nothing replaced (8-bit aside)


def _outside_the_rim(masks: np.ndarray) -> np.ndarray:
    from unmask_cli.restore import with_rim

    return with_rim(masks)[..., 0] == 0


def test_a_structure_model_gives_the_fill_its_low_frequencies_and_face_g_its_grain(tmp_path):
    from tests.toy_models import write_structure
    from unmask_cli import registry

    folder = write_models(tmp_path / "m")
    rng = np.random.default_rng(0)
    crops = rng.uniform(-0.6, -0.2, (2, 32, 32, 3)).astype(np.float32)
    crops[:, 12:, 4:28] = 0.9  # a bright mask over the lower face: the toy Mask G marks it
    plain = registry.open_backend("onnxruntime", models_dir=folder)
    write_structure(folder, value=0.5, band_sigma="2")
    banded = registry.open_backend("onnxruntime", models_dir=folder)
    assert banded.description.endswith("+ structure band") and "structure" not in plain.description
    (masks, before), (same, after) = plain.run(crops), banded.run(crops)
    np.testing.assert_array_equal(masks, same)
    inner = np.zeros((32, 32), bool)
    inner[18:26, 10:22] = True  # 3 sigma inside the mask
    assert masks[:, inner].min() == 1
    # the toy Face G paints its noise (mean 0); the structure model's 0.5 becomes the fill's level
    assert abs(before[:, inner].mean()) < 0.1 and abs(after[:, inner].mean() - 0.5) < 0.1
    # and the grain is still Face G's noise
    assert after[:, inner].std() > 0.5 * before[:, inner].std()
    outside = _outside_the_rim(masks)
    np.testing.assert_array_equal(after[outside], before[outside])


@pytest.mark.parametrize(
    ("props", "size", "reason"),
    [
        ({"band_sigma": "-1"}, 32, "band_sigma '-1' is not a number of pixels between 0 and 32"),
        ({"band_sigma": "wide"}, 32, "band_sigma 'wide'"),
        ({"mask_g": "copy"}, 32, "not a Face G of input size 32"),
        ({}, 64, "not a Face G of input size 32"),
        ({"face_g": "copy"}, 32, r"the same weights as face_g.onnx \(a copy\?\), not a structure model"),
        ({"role": "presence check: a gate"}, 32, "holds a presence check model, not the structure model"),
    ],
)
def test_a_structure_model_that_does_not_fit_is_refused_naming_it(tmp_path, props, size, reason):
    """The last two load and run, and would blend Face G with itself or with a mask: refused by role or hash."""
    import shutil

    from tests.toy_models import write_structure
    from unmask_cli import registry
    from unmask_cli.model_card import ModelFileError

    folder = write_models(tmp_path / "m")
    props = dict(props)
    copied = [name for name in ("mask_g", "face_g") if props.pop(name, None)]
    path = write_structure(folder, size=size, **props)
    for name in copied:  # another model's file under the structure model's name
        shutil.copy(folder / f"{name}.onnx", path)
    with pytest.raises(ModelFileError, match=reason) as caught:
        registry.open_backend("onnxruntime", models_dir=folder)
    assert str(path) in str(caught.value)


def test_a_presence_check_in_mask_gs_place_is_refused_naming_it(tmp_path):
    """mask_gate.onnx copied over mask_g.onnx loaded: Mask G's masks would come from the presence check."""
    import shutil

    from tests.toy_models import write_gate
    from unmask_cli import registry
    from unmask_cli.model_card import ModelFileError

    folder = write_models(tmp_path / "m")
    shutil.copy(write_gate(folder), folder / "mask_g.onnx")
    with pytest.raises(ModelFileError, match=r"holds a presence check model, not mask_g\.onnx's") as caught:
        registry.open_backend("onnxruntime", models_dir=folder)
    assert str(folder / "mask_g.onnx") in str(caught.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_model_that_gives_nan_or_infinity_is_refused_at_load_naming_it(tmp_path, value):
    """Damaged weights load like good ones; without the test crop every fill would be black, with exit 0."""
    from tests.toy_models import write_structure

    folder = write_models(tmp_path / "m")
    path = write_structure(folder, value=value)
    with pytest.raises(ModelFileError) as caught:
        OnnxRuntimeBackend(folder)
    assert str(path) in _error_line(caught) and "NaN or infinite" in str(caught.value)
    write_structure(folder, value=0.25)  # the same file with finite weights loads
    assert OnnxRuntimeBackend(folder).input_size == 32


def test_models_naming_a_file_says_it_takes_the_folder(tmp_path):
    folder = write_models(tmp_path / "m")
    with pytest.raises(ModelFileError, match="is a file; --models takes the folder"):
        OnnxRuntimeBackend(folder / "face_g.onnx")


def test_tensorflow_backend_without_runs_fails_in_one_line_before_importing_tensorflow(tmp_path):
    code = (
        "import sys; from unmask_backends.tensorflow_backend import TensorFlowBackend\n"
        f"try:\n    TensorFlowBackend(checkpoints={str(tmp_path)!r})\n"
        "except FileNotFoundError as exc:\n    print(exc, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == f"{tmp_path / 'mask'}: not a finished `unmask train mask` run (no run.json) False"
    assert result.stderr == ""


def test_an_interrupted_command_says_so_and_json_says_so_too(monkeypatch, capsys):
    """Ctrl-C in a command with no interrupt line of its own (export, evaluate, benchmark) printed nothing."""
    import json

    from unmask_cli import cli, ui

    def interrupted():
        ui.request_json(True)
        raise SystemExit(130)

    monkeypatch.setattr(cli, "app", interrupted)
    monkeypatch.setattr(ui, "_json", {"requested": False, "emitted": False, "errors": []})
    with pytest.raises(SystemExit):
        cli.main()
    assert json.loads(capsys.readouterr().out) == {"errors": ["interrupted"], "exit_code": 130}
