"""The metadata every exported model carries (ONNX `metadata_props`), and reading it back.

The pipeline reads input size, value range, colour order and alignment from here instead of assuming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unmask_cli.faces import ALIGNMENT_ID

PREFIX = "unmask."
FORMAT_VERSION = "1"
MASK_FILE = "mask_g.onnx"
FACE_FILE = "face_g.onnx"


def variant_file(filename: str, precision: str) -> str:
    """The file name of a model's precision variant: export writes it, the backends read it."""
    return filename if precision == "fp32" else filename.replace(".onnx", f".{precision}.onnx")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or not an unmask model; the message names it."""


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


def parse(path: Path, props: dict[str, str]) -> ModelInfo:
    """Validate the metadata of one model file; raises ModelFileError naming the file and the problem."""
    get = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    if "kind" not in get:
        raise ModelFileError(f"{path}: not an unmask model (no {PREFIX}kind in its metadata)")
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
        )
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: incomplete unmask metadata ({exc})") from exc
    if info.colour_order != "RGB":
        raise ModelFileError(f"{path}: colour order {info.colour_order} is not supported (RGB expected)")
    if info.alignment != ALIGNMENT_ID:
        raise ModelFileError(
            f"{path}: trained on crops aligned as '{info.alignment}', this version aligns as '{ALIGNMENT_ID}'"
        )
    return info
