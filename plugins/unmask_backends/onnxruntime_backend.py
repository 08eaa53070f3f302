"""The default backend: the exported ONNX models through onnxruntime (TensorRT → CUDA → CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unmask_cli.model_card import (
    FACE_FILE,
    GATE_FILE,
    INPUT_CHANNELS,
    MASK_FILE,
    STRUCTURE_FILE,
    ModelFileError,
    check_input_shape,
    parse,
    variant_file,
)
from unmask_cli.restore import band_sigma, gate_masks, restore_batch, two_band
from unmask_cli.runtime import ProviderError, create_session
from unmask_cli.ui import first_line


def model_path(models_dir: Path, filename: str, precision: str) -> Path:
    """The file of one model at one precision; an unknown precision, or one whose files were never exported next
    to the fp32 model, is a ModelFileError saying so (rather than a plain "not found")."""
    path = Path(models_dir) / variant_file(filename, precision)
    if precision != "fp32" and not path.is_file() and (Path(models_dir) / filename).is_file():
        raise ModelFileError(
            f"no {precision} model files in {models_dir} ({path.name} is missing; export them with "
            f"`unmask export --onnx --{precision}`, or use fp32)"
        )
    return path


def open_model(path: Path, device: str, providers, threads):
    """(session, ModelInfo, warning). Any unusable file becomes a ModelFileError naming it, including one whose
    graph does not take the input its metadata states."""
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found (run `unmask export --onnx`, or reinstall)")
    try:
        session, warning = create_session(path, device, providers, threads)
    except ProviderError:
        raise  # the user's provider choice is wrong, not the file
    except Exception as exc:
        raise ModelFileError(f"{path}: not a loadable ONNX model ({first_line(exc)[:160]})") from exc
    info = parse(path, dict(session.get_modelmeta().custom_metadata_map))
    check_input_shape(info, session.get_inputs()[0].shape)
    check_finite_output(session, info)
    return session, info, warning


def check_finite_output(session, info) -> None:
    """One crop through the model before any photo: a file whose weights hold NaN or infinity (a damaged copy, or
    an export of a run that diverged) loads like any other and would paint black over every face, or find no mask
    anywhere, with no error."""
    channels = INPUT_CHANNELS.get(info.kind)
    if channels is None:
        return  # not a model of ours: the backend names what it holds
    size = info.input_size
    low, high = info.value_range
    ramp = np.linspace(0.0, 1.0, size * size * channels, dtype=np.float32)
    probe = (low + (high - low) * ramp).reshape(1, size, size, channels)
    try:
        out = _runner(session)(probe)
    except Exception as exc:
        raise ModelFileError(f"{info.path}: fails on a test crop ({first_line(exc)[:160]})") from exc
    if not np.isfinite(out).all():
        raise ModelFileError(
            f"{info.path}: gives NaN or infinite values on a test crop (damaged weights, or exported from a "
            "training run that diverged)"
        )


def _runner(session):
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0]


class MaskRunner:
    """Mask G's probabilities for a batch of crops, through the presence check when the models folder has one
    (`mask_gate.onnx`, at the same precision if exported so, else fp32)."""

    def __init__(self, models_dir: Path, device: str, providers, threads, precision: str):
        self.session, self.info, warning = _open_main(models_dir, MASK_FILE, precision, device, providers, threads)
        self.warnings = [warning] if warning else []
        self.gate = None
        gate = _open_companion(models_dir, GATE_FILE, precision, self.info, device, providers, threads)
        if gate is not None:
            self.gate, _, warnings = gate
            self.warnings += warnings
        else:  # worth a line: without it every bare face beside a masked one is painted over
            self.warnings.append(f"no {GATE_FILE} in {models_dir}: no presence check, bare faces are painted too")
        self._mask = _runner(self.session)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        prob = self._mask(x)
        return prob if self.gate is None else gate_masks(prob, self.gate(x), self.info.threshold)


def _optional_file(models_dir: Path, filename: str, precision: str) -> Path:
    """An optional model's file at `precision` when exported so, else its fp32 file (which may not exist)."""
    path = Path(models_dir) / variant_file(filename, precision)
    return path if path.is_file() else Path(models_dir) / filename


# what `export` writes in a companion model's `role` metadata, before its colon
ROLES = {GATE_FILE: "presence check", STRUCTURE_FILE: "structure"}


def _role(info) -> str:
    return info.props.get("role", "").split(":")[0]


def _open_main(models_dir: Path, filename: str, precision: str, device, providers, threads):
    """(session, ModelInfo, warning) of Mask G or Face G; a companion model copied over it is refused by its role
    (it loads, and a presence check or structure model in Mask G's or Face G's place gives wrong results)."""
    session, info, warning = open_model(model_path(models_dir, filename, precision), device, providers, threads)
    if role := _role(info):
        raise ModelFileError(f"{info.path}: holds a {role} model, not {filename}'s")
    return session, info, warning


def _open_companion(models_dir: Path, filename: str, precision: str, main, device, providers, threads):
    """An optional model that works beside the `main` one (its ModelInfo), of its kind and input size: (runner, its
    ModelInfo, warnings), or None when the folder has none. A copy of the main model under its name loads and does
    nothing useful: refused by its role, or its weights' hash where it has no role (an older export)."""
    path = _optional_file(models_dir, filename, precision)
    if not path.is_file():
        return None
    session, info, warning = open_model(path, device, providers, threads)
    if info.kind != main.kind or info.input_size != main.input_size:
        name = "Mask G" if main.kind == "mask_g" else "Face G"
        raise ModelFileError(f"{path}: not a {name} of input size {main.input_size}")
    role, sha = _role(info), info.props.get("weights_sha256")
    if role and role != ROLES[filename]:
        raise ModelFileError(f"{path}: holds a {role} model, not the {ROLES[filename]} model {filename} should")
    if not role and sha and sha == main.props.get("weights_sha256"):
        raise ModelFileError(f"{path}: the same weights as {main.path.name} (a copy?), not a {ROLES[filename]} model")
    return _runner(session), info, [warning] if warning else []


def _sigma(info) -> float:
    """The structure model's band (`band_sigma` in its metadata, pixels at its input size)."""
    text = info.props.get("band_sigma")
    if text is None:
        return band_sigma(info.input_size)
    try:
        sigma = float(text)
    except ValueError:
        sigma = float("nan")
    if not 0 < sigma < info.input_size:  # NaN fails too
        size = info.input_size
        raise ModelFileError(f"{info.path}: band_sigma '{text}' is not a number of pixels between 0 and {size}")
    return sigma


class FaceRunner:
    """Face G's fill for a batch of Face G inputs; where the models folder has a structure model
    (`face_g_structure.onnx`, at the same precision if exported so, else fp32), its fill's low frequencies go under
    Face G's detail (`restore.two_band`)."""

    def __init__(self, models_dir: Path, device: str, providers, threads, precision: str):
        self.session, self.info, warning = _open_main(models_dir, FACE_FILE, precision, device, providers, threads)
        self.warnings = [warning] if warning else []
        self.structure = None
        self.sigma = 0.0
        structure = _open_companion(models_dir, STRUCTURE_FILE, precision, self.info, device, providers, threads)
        if structure is not None:
            self.structure, info, warnings = structure
            self.sigma = _sigma(info)
            self.warnings += warnings
        else:
            self.warnings.append(f"no {STRUCTURE_FILE} in {models_dir}: Face G's fill alone, no structure band")
        self._face = _runner(self.session)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        detail = self._face(x)
        if self.structure is None:
            return detail
        return two_band(detail, self.structure(x), x[..., 3:], self.sigma)


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(
        self,
        models_dir: Path = Path("exported"),
        device: str = "auto",
        providers=None,
        threads: int | None = None,
        precision: str = "fp32",
        seed: int = 0,
    ):
        if Path(models_dir).is_file():
            raise ModelFileError(
                f"{models_dir}: is a file; --models takes the folder holding {MASK_FILE} and {FACE_FILE}"
            )
        self.mask_fn = MaskRunner(models_dir, device, providers, threads, precision)
        self.mask_info = self.mask_fn.info
        self.face_fn = FaceRunner(models_dir, device, providers, threads, precision)
        self.face_session, self.face_info = self.face_fn.session, self.face_fn.info
        for info, kind in ((self.mask_info, "mask_g"), (self.face_info, "face_g")):
            if info.kind != kind:
                raise ModelFileError(f"{info.path}: holds a {info.kind} model where {kind} was expected")
        if self.mask_info.input_size != self.face_info.input_size:
            raise ModelFileError(f"{models_dir}: Mask G and Face G disagree on input size")
        self.input_size = self.mask_info.input_size
        self.value_range = self.mask_info.value_range
        self.threshold = self.mask_info.threshold
        self.warnings = [*self.mask_fn.warnings, *self.face_fn.warnings]
        self.providers = self.face_session.get_providers()
        gated = " + presence check" if self.mask_fn.gate is not None else ""
        banded = " + structure band" if self.face_fn.structure is not None else ""
        self.description = f"onnxruntime {precision} on {self.providers[0]}{gated}{banded}"
        self.seed = seed  # with each crop's pixels, seeds its noise (restore.crop_noise)

    def run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return restore_batch(crops, self.mask_fn, self.face_fn, self.seed, self.threshold)
