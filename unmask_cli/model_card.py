"""The metadata every exported model carries (ONNX `metadata_props`), and reading it back.

The pipeline reads input size, value range, colour order and alignment from here instead of assuming them.
`weights_sha256` is the hash of the Keras weights file a model was exported from (the same for every precision),
not of anything in the ONNX file, so it records provenance and cannot be checked at load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from unmask_cli.faces import ALIGNMENT_ID

PREFIX = "unmask."
FORMAT_VERSION = "1"
MASK_FILE = "mask_g.onnx"
FACE_FILE = "face_g.onnx"
GATE_FILE = "mask_gate.onnx"  # optional: a Mask G trained on bare faces too, which says whether there is a mask
# optional: a second Face G whose fill gives the low frequencies (shape, shading) under face_g.onnx's detail
STRUCTURE_FILE = "face_g_structure.onnx"
# what `unmask export --only` names each model
MODEL_FILES = {"mask": MASK_FILE, "face": FACE_FILE, "gate": GATE_FILE, "structure": STRUCTURE_FILE}
INIT_FROM_FILE = "init_from.txt"  # in a run started with --init: what that model was, written when the run starts
PRECISIONS = ("fp32", "fp16", "int8")  # the variants `unmask export` can write
INPUT_CHANNELS = {"mask_g": 3, "face_g": 4}  # Face G takes the mask as a 4th channel
VALUE_RANGE = (-1.0, 1.0)  # what restore.py's noise and composite assume


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or not an unmask model, or a precision that has no files; the
    message is one line naming the file (or folder) and the problem."""


def variant_file(filename: str, precision: str) -> str:
    """The file name of a model's precision variant: export writes it, the backends read it."""
    if precision not in PRECISIONS:
        raise ModelFileError(f"unknown precision '{precision}' (choose {', '.join(PRECISIONS)})")
    return filename if precision == "fp32" else filename.replace(".onnx", f".{precision}.onnx")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    kind: str  # "mask_g" or "face_g"
    input_size: int
    value_range: tuple[float, float]
    colour_order: str
    layout: str
    alignment: str
    precision: str
    props: dict[str, str]
    threshold: float = 0.5  # Mask G's probability cut (Face G has none)


def parse(path: Path, props: dict[str, str]) -> ModelInfo:
    """Validate the metadata of one model file; raises ModelFileError naming the file and the problem."""
    get = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    if "kind" not in get:
        raise ModelFileError(f"{path}: not an unmask model (no {PREFIX}kind in its metadata)")
    threshold = _threshold(path, get.get("threshold", "0.5"))
    try:
        low, high = (float(v) for v in get["value_range"].split(","))
        info = ModelInfo(
            path=Path(path),
            kind=get["kind"],
            input_size=int(get["input_size"]),
            value_range=(low, high),
            colour_order=get["colour_order"],
            layout=get.get("layout", "NHWC"),
            alignment=get["alignment"],
            precision=get.get("precision", "fp32"),
            props=get,
            threshold=threshold,
        )
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: incomplete unmask metadata ({exc})") from exc
    _check_values(info)
    if info.colour_order != "RGB":
        raise ModelFileError(f"{path}: colour order {info.colour_order} is not supported (RGB expected)")
    if info.alignment != ALIGNMENT_ID:
        raise ModelFileError(
            f"{path}: trained on crops aligned as '{info.alignment}', this version aligns as '{ALIGNMENT_ID}'"
        )
    return info


def _threshold(path: Path, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:  # NaN fails too
        raise ModelFileError(f"{path}: threshold '{text}' is not a number between 0 and 1")
    return value


def _check_values(info: ModelInfo) -> None:
    """Metadata the backends cannot honour is refused here, not silently misapplied (they all feed NHWC crops in
    [-1, 1] and draw Face G's noise in that range)."""
    if info.input_size < 1:
        raise ModelFileError(f"{info.path}: input size {info.input_size} is not a positive number of pixels")
    if info.layout != "NHWC":
        raise ModelFileError(f"{info.path}: layout {info.layout} is not supported (NHWC expected)")
    if info.value_range != VALUE_RANGE:
        low, high = info.value_range
        raise ModelFileError(f"{info.path}: value range {low:g},{high:g} is not supported (-1,1 expected)")


def check_input_shape(info: ModelInfo, shape: Sequence[int | str | None]) -> None:
    """The graph must take what its metadata says, N×S×S×C, or the first batch dies inside the runtime; a symbolic
    (named) dimension fits any size."""
    wanted = (None, info.input_size, info.input_size, INPUT_CHANNELS.get(info.kind))
    fits = len(shape) == 4 and all(
        w is None or not isinstance(d, int) or d == w for d, w in zip(shape, wanted, strict=True)
    )
    if not fits:
        have = "×".join(str(d) if isinstance(d, int) else "N" for d in shape)
        size = info.input_size
        raise ModelFileError(
            f"{info.path}: its metadata says {size}×{size} input (unmask.input_size), the graph takes {have}"
        )


def file_props(path: Path) -> dict[str, str]:
    """An exported ONNX file's metadata, without the `unmask.` prefix, read without starting a session."""
    import onnx

    return {p.key.removeprefix(PREFIX): p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def init_summary(path: Path) -> str:
    """'name: N steps on DATA[, itself from ...]' from the metadata of an exported ONNX model (a run's --init)."""
    if not path.is_file():
        return path.name
    props = file_props(path)
    history = props.get("init_from")
    summary = f"{path.name}: {props.get('training_steps', '?')} steps on {props.get('training_data', '?')}"
    if props.get("averaged_with"):
        summary += f" ({props['averaged_with']})"
    return f"{summary}, itself from {history}" if history else summary
