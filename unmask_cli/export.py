"""Keras → ONNX (tf2onnx) with metadata, a parity check against Keras, optional fp16 and int8 variants."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from unmask_cli import __version__, models, training
from unmask_cli.data import read_jsonl
from unmask_cli.faces import ALIGNMENT_ID, align, detect_faces, transform_points
from unmask_cli.images import ImageError, iter_images, read_rgb, write_bytes_atomic
from unmask_cli.model_card import (
    FACE_FILE,
    FORMAT_VERSION,
    GATE_FILE,
    INIT_FROM_FILE,
    MASK_FILE,
    MODEL_FILES,
    PRECISIONS,
    PREFIX,
    STRUCTURE_FILE,
    file_props,
    init_summary,
    variant_file,
)
from unmask_cli.restore import band_sigma, crop_noise, face_input
from unmask_cli.ui import first_line

# (max, mean) abs difference allowed against Keras, on outputs in [-1, 1] / [0, 1]. fp32 past it fails the
# export; an fp16 or int8 variant past it is reported and not written.
INT8_MAX_FLOAT_CONVS = 3  # extra convolutions int8 export may keep float to stay within tolerance
TOLERANCE = {"fp32": (1e-3, 1e-4), "fp16": (3e-2, 3e-3), "int8": (0.5, 0.03)}
# what `--only` names, and every model file an export folder can hold


class ParityError(RuntimeError):
    pass


class ForeignFileError(ValueError):
    """--out holds a file of an output's name that no export wrote: a bad --out (exit 2), not a failed export."""


@dataclass
class ExportReport:
    files: dict[str, str] = field(default_factory=dict)
    parity: dict[str, dict[str, float]] = field(default_factory=dict)  # "face_g/fp16" -> max, mean, speedup
    int8_float_layers: dict[str, list[str]] = field(default_factory=dict)  # convolutions kept float to meet parity


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_run(run_dir: Path, kind: str):
    """Rebuild a generator from a run folder (run.json + weights). Returns (keras model, run config)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "run.json"
    weights = run_dir / (training.MASK_WEIGHTS if kind == "mask" else training.FACE_WEIGHTS)
    if not config_path.is_file() or not weights.is_file():
        other = "face" if kind == "mask" else "mask"
        other_weights = run_dir / (training.FACE_WEIGHTS if kind == "mask" else training.MASK_WEIGHTS)
        if config_path.is_file() and other_weights.is_file():  # the two run options swapped
            raise FileNotFoundError(f"{run_dir}: a `unmask train {other}` run, not a {kind} run")
        raise FileNotFoundError(f"{run_dir}: not a finished `unmask train {kind}` run (no run.json or weights)")
    try:
        config = json.loads(config_path.read_text())
        builder = models.mask_g if kind == "mask" else models.face_g
        model = builder(config["size"], **({"width": config["width"]} if config.get("width") else {}))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{config_path}: damaged run description ({exc})") from None
    try:
        model.load_weights(weights)
    except (OSError, ValueError) as exc:  # truncated or foreign HDF5, or weights of another shape
        raise ValueError(f"{weights}: cannot load these weights ({first_line(exc)})") from None
    return model, config


def _saved_step(run_dir: Path, config: dict) -> str:
    """The step of the last checkpoint (saved together with the weights file), not the last logged step: a run
    killed between checkpoints has logged steps its weights file does not hold. A run trained elsewhere (the
    GPU trainer in benchmarks/gpu/) has no TensorFlow checkpoint and states its steps in run.json."""
    import re

    state = run_dir / "checkpoints" / "checkpoint"
    if state.is_file():
        found = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', state.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
    return str(config.get("extra", {}).get("steps", "?"))


def _metadata(kind: str, config: dict, weights: Path, precision: str) -> dict[str, str]:
    data = Path(config["data"])
    samples = sum(1 for _ in read_jsonl(data / "manifest.jsonl"))
    steps = _saved_step(weights.parent, config)
    props = {
        "kind": "mask_g" if kind == "mask" else "face_g",
        "format_version": FORMAT_VERSION,
        "version": __version__,
        "input_size": str(config["size"]),
        "value_range": "-1,1",
        "colour_order": "RGB",
        "layout": "NHWC",
        "alignment": ALIGNMENT_ID,
        "precision": precision,
        "training_data": f"unmask synthesize output '{data.name}' ({samples} samples)",
        "training_steps": str(steps),
        "weights_sha256": sha256(weights),
    }
    if config.get("init"):  # a fine-tuned model says what it started from: its own steps are not the whole story
        # as the run recorded it when it started: the file at that path may since have been replaced (exported/)
        recorded = weights.parent / INIT_FROM_FILE
        props["init_from"] = recorded.read_text().strip() if recorded.is_file() else init_summary(Path(config["init"]))
    averaged = config.get("extra", {}).get("averaged_with")
    if averaged:  # a model soup (benchmarks/gpu/import_run.py): the run's steps are only part of the weights
        share = float(averaged["run_weight"])
        props["averaged_with"] = f"{share:g} x these steps' weights + {1 - share:g} x {Path(averaged['model']).name}'s"
    if kind == "mask":
        props |= {"output": "probability of face mask per pixel, [0,1]", "threshold": "0.5"}
    else:
        props |= {
            "input": "RGB with uniform noise in [-1,1] where masked, plus the mask as 4th channel",
            "output": "RGB in [-1,1]; composite: output where masked, input elsewhere",
        }
    return {PREFIX + k: str(v) for k, v in props.items()}


def to_onnx(model, channels: int, size: int, opset: int, metadata: dict[str, str], on_line=print):
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec((None, size, size, channels), tf.float32, name="input")]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    proto = _with_instance_norm(proto, channels, size, on_line)
    _set_metadata(proto, metadata)
    return proto


def _with_instance_norm(proto, channels: int, size: int, on_line=print):
    """The graph with GroupNormalization fused to InstanceNormalization when that gives the same outputs
    (1e-4 on random input), else tf2onnx's graph unchanged."""
    import onnx

    from unmask_cli.onnx_graph import fuse_instance_norm

    fused = onnx.ModelProto()
    fused.CopyFrom(proto)
    try:
        if not fuse_instance_norm(fused):
            return proto
        onnx.checker.check_model(fused)
        x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, channels)).astype(np.float32)
        diff = np.abs(_run(_session(fused.SerializeToString()), x) - _run(_session(proto.SerializeToString()), x))
    except Exception as exc:  # a pattern we misread must cost speed, never correctness
        on_line(f"kept tf2onnx's normalization ops ({type(exc).__name__}: {exc})")
        return proto
    if diff.max() > 1e-4:
        on_line(f"kept tf2onnx's normalization ops (fused graph differs by {diff.max():.2g})")
        return proto
    return fused


def parity_inputs(size: int, photos: list[Path], count: int = 16, on_line=print) -> tuple[np.ndarray, np.ndarray]:
    """Real aligned face crops with a synthesized mask: (images for Mask G, 4-channel inputs for Face G)."""
    from unmask_cli import registry

    crops, face_inputs = [], []
    style = registry.load_synthesizer("surgical")
    rng = np.random.default_rng(0)
    paths = list(iter_images(photos))
    # spread over the whole folder: file order is often sorted by age, identity or source
    for path in paths[:: max(1, len(paths) // (2 * count))]:
        try:
            rgb = read_rgb(path)
        except ImageError as exc:  # one bad photo among the parity photos: said, and the others used
            on_line(f"skip {path}: {exc}")
            continue
        for face in detect_faces(rgb):
            crop, matrix = align(rgb, face.landmarks, size)
            masked, mask = style(crop, transform_points(matrix, face.landmarks), rng)
            image = masked.astype(np.float32) / 127.5 - 1
            crops.append(image)
            face_inputs.append(face_input(image, mask[..., None].astype(np.float32), crop_noise(image[None])[0]))
        if len(crops) >= count:
            break
    if not crops:
        raise FileNotFoundError("no face found in the parity photos")
    while len(crops) < count:  # flips make a fuller batch from few photos
        crops.append(crops[len(crops) % len(crops)][:, ::-1].copy())
        face_inputs.append(face_inputs[len(face_inputs) % len(face_inputs)][:, ::-1].copy())
    return np.stack(crops[:count]), np.stack(face_inputs[:count])


def _session(path_or_bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _run(session, x: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    return session.run(None, {name: x.astype(np.float32)})[0]


def _time(session, x: np.ndarray, repeats: int = 5) -> float:
    _run(session, x)
    start = time.perf_counter()
    for _ in range(repeats):
        _run(session, x)
    return (time.perf_counter() - start) / repeats


def quantize_int8(
    fp32_bytes: bytes, calibration: np.ndarray, input_name: str, keep_float: tuple[str, ...] = ()
) -> bytes:
    """Static QDQ int8 quantization of the convolutions, calibrated on real face crops. Normalization (per-image
    statistics) and the output convolution stay float: measured on Face G, mean |Δ| 0.0296 vs 0.0305 with it in int8,
    both below the 0.042 that redrawing Face G's input noise changes its fill by."""
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{input_name: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32_bytes)
        import onnx

        graph = onnx.load_from_string(fp32_bytes).graph
        keep_float = [*keep_float, *(n.name for n in graph.node if n.op_type == "InstanceNormalization")]
        # the output convolution writes the pixel values themselves: int8 steps there show (and it is cheap)
        keep_float += [n.name for n in graph.node if n.op_type == "Conv"][-1:]
        # the quantizer prints progress to stdout and advice to the root logger: keep both off `--json` output
        with contextlib.redirect_stdout(io.StringIO()), _root_logging_quiet():
            quantize_static(
                str(src),
                str(dst),
                Reader(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=keep_float,
                # the 99.999th percentile, not the extremes: measured mean |Δ| 0.025 vs MinMax's 0.029 on Face G
                calibrate_method=CalibrationMethod.Percentile,
            )
        return dst.read_bytes()


def within_tolerance(diff: np.ndarray, tolerance: tuple[float, float]) -> bool:
    """|Δ| array against (max, mean) tolerance: the one parity rule export and the int8 search share."""
    return bool(diff.max() <= tolerance[0] and diff.mean() <= tolerance[1])


def quantize_int8_within(
    fp32_bytes: bytes,
    calibration: np.ndarray,
    input_name: str,
    reference: np.ndarray,
    tolerance: tuple[float, float],
    on_line=print,
    max_extra: int | None = None,
) -> tuple[bytes, list[str]]:
    """int8 within (max, mean) |Δ| of `reference` (the float model's output on the calibration crops), keeping as
    few convolutions float as it takes: while over tolerance, the one convolution whose float copy cuts the error
    most stays float (greedy, at most `max_extra`), the error being the larger of max/max-tolerance and
    mean/mean-tolerance, so the search works on whichever of the two is failing. Which layer is fragile depends
    on the trained weights, so it is measured per export rather than fixed. Returns the best model found (the
    caller still checks it) and the extra float layers.
    """
    import onnx

    def error(blob: bytes) -> np.ndarray:
        return np.abs(_run(_session(blob), calibration) - reference)

    def excess(err: np.ndarray) -> float:
        return max(err.max() / tolerance[0], err.mean() / tolerance[1])

    max_extra = INT8_MAX_FLOAT_CONVS if max_extra is None else max_extra
    kept: list[str] = []
    best = quantize_int8(fp32_bytes, calibration, input_name)
    best_err = error(best)
    convs = [n.name for n in onnx.load_from_string(fp32_bytes).graph.node if n.op_type == "Conv"][:-1]
    while not within_tolerance(best_err, tolerance) and len(kept) < max_extra:
        trials = {}
        for name in (c for c in convs if c not in kept):
            blob = quantize_int8(fp32_bytes, calibration, input_name, (*kept, name))
            trials[name] = (error(blob), blob)
        name = min(trials, key=lambda n: excess(trials[n][0]))
        if excess(trials[name][0]) >= excess(best_err):
            break  # no single layer helps: more float would only cost speed
        kept.append(name)
        best_err, best = trials[name]
        on_line(f"int8: kept {name} float → max |Δ| {best_err.max():.3g}, mean {best_err.mean():.3g}")
    return best, kept


@contextlib.contextmanager
def _root_logging_quiet():
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def to_fp16(proto):
    import warnings

    from onnxconverter_common import float16

    with warnings.catch_warnings():  # it warns once per tiny weight it rounds to fp16's smallest value
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(proto, keep_io_types=True)


def export(
    mask_run: Path,
    face_run: Path,
    out: Path,
    opset: int = 17,
    fp16: bool = False,
    int8: bool = False,
    parity_photos: list[Path] | None = None,
    on_line=print,
    parity_count: int = 16,
    only: str | None = None,
    gate_run: Path | None = None,
    structure_run: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Export both generators to `out` (or `only` "mask", "face", "gate" or "structure", keeping the other files
    and report entries), Mask G's presence check from `gate_run` (a Mask G run trained with bare faces) as
    mask_gate.onnx, and a second Face G from `structure_run` as face_g_structure.onnx, whose fill's low frequencies
    `infer` puts under Face G's detail; raises ParityError when ONNX disagrees with Keras past tolerance.
    `on_progress(done, total)` counts the files converted and checked (each model at each precision)."""
    out = Path(out)
    if parity_count < 1:
        raise ValueError(f"parity count: at least 1 face crop is needed (got {parity_count})")
    jobs = [("mask", mask_run, MASK_FILE, 3), ("face", face_run, FACE_FILE, 4)]
    if gate_run is not None:
        jobs.append(("mask", gate_run, GATE_FILE, 3))
    if structure_run is not None:
        jobs.append(("face", structure_run, STRUCTURE_FILE, 4))
    if only is not None:
        if only not in MODEL_FILES:
            raise ValueError(f"only: 'mask', 'face', 'gate' or 'structure' (got '{only}')")
        if only == "gate" and gate_run is None:
            raise ValueError("--only gate needs --gate-run RUN (a Mask G run trained with --bare-share)")
        if only == "structure" and structure_run is None:
            raise ValueError("--only structure needs --structure-run RUN (a Face G run)")
        jobs = [job for job in jobs if job[2] == MODEL_FILES[only]]
    exported_now = {filename for _, _, filename, _ in jobs}
    _check_ours(out, exported_now)
    report = _kept_report(out / "export.json", exported_now, out)
    inputs = None
    # every run loaded (and so checked) before the long work, and before anything is written
    loaded = [load_run(run_dir, kind) for kind, run_dir, _, _ in jobs]
    sizes = [(run_dir, config["size"]) for (_, run_dir, _, _), (_, config) in zip(jobs, loaded, strict=True)]
    _check_sizes(out, sizes, exported_now)
    # Nothing in `out` changes until every model has been converted and has passed: a run that fails half-way
    # must not leave a new Mask G beside an old Face G, or a variant removed with nothing in its place.
    writes: list[tuple[Path, bytes]] = []
    removals: list[tuple[str, set[str]]] = []
    total, done = len(jobs) * (1 + fp16 + int8), 0
    if on_progress:
        on_progress(done, total)
    for (kind, run_dir, filename, channels), (model, config) in zip(jobs, loaded, strict=True):
        weights = Path(run_dir) / (training.MASK_WEIGHTS if kind == "mask" else training.FACE_WEIGHTS)
        if inputs is None:
            inputs = parity_inputs(config["size"], parity_photos or [Path("samples/clean")], parity_count, on_line)
        x = inputs[0] if kind == "mask" else inputs[1]
        expected = model(x, training=False).numpy()
        metadata = _metadata(kind, config, weights, "fp32")
        if filename == GATE_FILE:
            metadata[PREFIX + "role"] = "presence check: a face whose crop it finds no mask in is left as it is"
        if filename == STRUCTURE_FILE:
            metadata[PREFIX + "role"] = "structure: its fill's low frequencies go under face_g.onnx's detail"
            metadata[PREFIX + "band_sigma"] = f"{band_sigma(config['size']):g}"
        fp32 = to_onnx(model, channels, config["size"], opset, metadata, on_line)
        variants = {"fp32": fp32}
        if fp16:
            variants["fp16"] = to_fp16(fp32)
        if int8:
            import onnx

            blob, kept = quantize_int8_within(
                fp32.SerializeToString(), x, "input", expected, TOLERANCE["int8"], on_line
            )
            variants["int8"] = onnx.load_from_string(blob)
            report.int8_float_layers[Path(filename).stem] = kept
        fp32_seconds, written = None, set()
        for precision, proto in variants.items():
            _set_metadata(proto, {**metadata, PREFIX + "precision": precision})
            blob = proto.SerializeToString()
            session = _session(blob)
            diff = np.abs(_run(session, x) - expected)
            seconds = _time(session, x)
            fp32_seconds = fp32_seconds or seconds
            key = f"{Path(filename).stem}/{precision}"
            max_tol, mean_tol = TOLERANCE[precision]
            ok = within_tolerance(diff, TOLERANCE[precision])
            report.parity[key] = {
                "max_abs_diff": float(diff.max()),
                "mean_abs_diff": float(diff.mean()),
                "speedup_vs_fp32": fp32_seconds / seconds,
                "written": ok,
            }
            on_line(
                f"{key}: max |onnx - keras| {diff.max():.2e}, mean {diff.mean():.2e}, "
                f"speed ×{fp32_seconds / seconds:.2f} vs fp32 (batch {len(x)}, CPU)"
                + ("" if ok else f" — over tolerance (max {max_tol}, mean {mean_tol}), not written")
            )
            done += 1
            if on_progress:
                on_progress(done, total)
            if not ok and precision == "fp32":
                raise ParityError(f"{key}: ONNX differs from Keras by up to {diff.max():.3g} (tolerance {max_tol})")
            if not ok:
                continue
            name = variant_file(filename, precision)
            writes.append((out / name, blob))
            report.files[key] = str(out / name)
            written.add(precision)
        removals.append((filename, written))
    for path, blob in writes:
        write_bytes_atomic(path, blob)
    for filename, written in removals:
        _remove_stale_variants(out, filename, written, on_line)
    if only is None:
        _say_kept_companions(out, exported_now, on_line)
    write_bytes_atomic(out / "export.json", json.dumps(report.__dict__, indent=2).encode())
    return report


def _unmask_props(path: Path) -> dict[str, str] | None:
    """The unmask metadata of a model file, or None when it is not one an export wrote."""
    try:
        props = file_props(path)
    except Exception:  # not ONNX at all (any parse error of the protobuf library)
        return None
    return props if "kind" in props else None


def _is_export_report(path: Path) -> bool:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(report, dict) and isinstance(report.get("parity"), dict)


def _check_ours(out: Path, exported_now: set[str]) -> None:
    """Every file this export would write over or remove in `out` must be one an export wrote (an ONNX model with
    unmask's metadata, an export report): a user's own file of the same name is left alone, and the export refused
    before any work."""
    paths = [out / variant_file(filename, precision) for filename in exported_now for precision in PRECISIONS]
    for path in paths:
        if path.exists() and not (path.is_file() and _unmask_props(path) is not None):
            raise ForeignFileError(
                f"{path}: exists and is not a model unmask exported (left as it is; choose another --out)"
            )
    report = out / "export.json"
    if report.exists() and not (report.is_file() and _is_export_report(report)):
        raise ForeignFileError(
            f"{report}: exists and is not an unmask export report (left as it is; choose another --out)"
        )


def _check_sizes(out: Path, runs: list[tuple[Path, int]], exported_now: set[str]) -> None:
    """Mask G and Face G work on one crop: the runs exported together, and the generator an earlier export left in
    `out` beside one exported alone (`--only`), must share an input size, or `infer` refuses the folder."""
    sizes = {size for _, size in runs}
    if len(sizes) > 1:
        named = ", ".join(f"{run} {size}²" for run, size in runs)
        raise ValueError(f"the runs take different input sizes ({named}): Mask G and Face G must share one")
    (size,) = sizes
    # a presence check or structure model left there too: an export of 32² runs into a copy of exported/ kept
    # the 128² ones, and the folder it wrote was one infer refuses
    ways = {GATE_FILE: "export it too with --gate-run", STRUCTURE_FILE: "export it too with --structure-run"}
    for filename in (MASK_FILE, FACE_FILE, GATE_FILE, STRUCTURE_FILE):
        path = out / filename
        props = None if filename in exported_now or not path.is_file() else _unmask_props(path)
        if props is None:
            continue
        kept = props.get("input_size", "")
        if kept.isdigit() and int(kept) != size:
            way = ways.get(filename, "export both generators together")
            raise ValueError(
                f"{path} takes {kept}² crops and the run exported now {size}²: infer would refuse the folder "
                f"({way}, remove it, or export into another --out)"
            )


def _kept_report(path: Path, exported_now: set[str], out: Path) -> ExportReport:
    """The entries of an earlier export.json that belong to models not being exported now and still in `out`
    (a full export keeps a presence check or structure model exported with --only before it)."""
    report = ExportReport()
    if not path.is_file():
        return report
    old = json.loads(path.read_text())
    kept = {Path(f).stem for f in MODEL_FILES.values() if f not in exported_now}
    present = {stem for stem in kept if (out / f"{stem}.onnx").is_file()}
    for name in ("files", "parity", "int8_float_layers"):
        entries = {k: v for k, v in old.get(name, {}).items() if k.split("/")[0] in present}
        if name == "files":  # where they are now: a copied folder's report named the folder it was copied from
            entries = {k: str(out / Path(v).name) for k, v in entries.items()}
        getattr(report, name).update(entries)
    return report


def _say_kept_companions(out: Path, exported_now: set[str], on_line) -> None:
    """A presence check or structure model from an earlier export stays in the folder and `infer` goes on using it
    beside the new models: say so."""
    for filename, option in ((GATE_FILE, "--gate-run"), (STRUCTURE_FILE, "--structure-run")):
        path = out / filename
        if filename in exported_now or not path.is_file():
            continue
        # (one of another input size stopped the export before any work: `_check_sizes`)
        on_line(f"kept {path} from an earlier export: infer uses it beside the new models ({option} replaces it)")


def _remove_stale_variants(out: Path, filename: str, written: set[str], on_line) -> None:
    """An fp16 or int8 file left by an earlier export of this model would run the old weights under `--precision`:
    remove the ones this export did not write (not asked for, or over their tolerance)."""
    for precision in PRECISIONS:
        stale = out / variant_file(filename, precision)
        if precision not in written and stale.is_file():
            stale.unlink()
            on_line(f"removed {stale}: it belonged to an earlier export of {filename}")


def _set_metadata(proto, metadata: dict[str, str]) -> None:
    """Replace a model's metadata_props (quantization and fp16 conversion do not all carry them over)."""
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
