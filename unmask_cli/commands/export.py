"""`unmask export --onnx`: both generators to ONNX with their metadata, checked against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import ui
from unmask_cli.commands.options import JsonOpt
from unmask_cli.model_card import MODEL_FILES


def _one_model(value: str | None) -> str | None:
    # a bad option before TensorFlow's seconds of import, and exit 2 as any other bad option (it was 1)
    if value is not None and value not in MODEL_FILES:
        raise typer.BadParameter(f"'{value}': give {', '.join(MODEL_FILES)}")
    return value


def export(
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format for now).")] = False,
    checkpoints: Annotated[Path, typer.Option(help="Folder holding the `mask` and `face` run folders.")] = Path("runs"),
    mask_run: Annotated[Path | None, typer.Option(help="Mask G run folder (default: CHECKPOINTS/mask).")] = None,
    face_run: Annotated[Path | None, typer.Option(help="Face G run folder (default: CHECKPOINTS/face).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder for the .onnx files.")] = Path("exported"),
    opset: Annotated[int, typer.Option(help="ONNX opset (tf2onnx with Keras 3 accepts up to 18).")] = 17,
    fp16: Annotated[bool, typer.Option("--fp16", help="Also write fp16 variants.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Also write static int8 (QDQ) variants.")] = False,
    parity_photos: Annotated[Path, typer.Option(help="Face photos for the parity check and int8 calibration.")] = Path(
        "samples/clean"
    ),
    parity_count: Annotated[int, typer.Option(help="How many face crops to check and calibrate on.", min=1)] = 16,
    only: Annotated[
        str | None,
        typer.Option(
            help="Export only 'mask', 'face', 'gate' or 'structure'; the others' files in --out stay as they are.",
            callback=_one_model,
        ),
    ] = None,
    gate_run: Annotated[
        Path | None,
        typer.Option(help="A Mask G run trained with --bare-share, exported as mask_gate.onnx (presence check)."),
    ] = None,
    structure_run: Annotated[
        Path | None,
        typer.Option(
            help="A second Face G run, exported as face_g_structure.onnx: `infer` puts its fill's low frequencies "
            "under Face G's detail."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export Mask G and Face G to ONNX with metadata, checked against Keras on real face crops.

    Exit status: 0 exported, 1 a run missing or damaged or a parity check failed (--out unchanged), 2 bad options or
    an --out holding a file of an output's name that no export wrote, 130 interrupted.
    """
    if not onnx:
        ui.fail("say which format: --onnx")
        raise typer.Exit(2)
    from unmask_cli import export as exporter
    from unmask_cli.outputs import OutputPathError, check_writable_folder, remove_if_new

    out_was_there = out.exists()
    try:
        check_writable_folder(out)
    except OutputPathError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    lines: list[str] = []
    bar = ui.progress()
    task = bar.add_task("export", total=None, status="")

    def show(line: str) -> None:
        lines.append(line)
        if not as_json:
            bar.console.print(line, highlight=False, soft_wrap=True, markup=False)

    try:
        with bar:
            report = exporter.export(
                mask_run or checkpoints / "mask",
                face_run or checkpoints / "face",
                out,
                opset,
                fp16,
                int8,
                [parity_photos],
                on_line=show,
                parity_count=parity_count,
                only=only,
                gate_run=gate_run,
                structure_run=structure_run,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (exporter.ParityError, FileNotFoundError, ValueError) as exc:
        ui.fail(str(exc))  # nothing in --out was changed (export writes only once every model has passed)
        remove_if_new(out, out_was_there)
        raise typer.Exit(2 if isinstance(exc, exporter.ForeignFileError) else 1) from None
    if as_json:
        ui.emit_json(report.__dict__)
        return
    rows = [
        (
            k,
            f"{v['max_abs_diff']:.2e}",
            f"{v['mean_abs_diff']:.2e}",
            f"×{v['speedup_vs_fp32']:.2f}",
            report.files.get(k, "not written"),
        )
        for k, v in report.parity.items()
    ]
    ui.out.print(ui.table(f"unmask export → {out}", ["model", "max |Δ|", "mean |Δ|", "speed vs fp32", "file"], rows))
