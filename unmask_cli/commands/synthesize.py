"""`unmask synthesize`: training data (clean, masked, mask) from clean face photos."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import registry, ui
from unmask_cli.commands.options import JsonOpt


def synthesize(
    src: Annotated[Path, typer.Argument(help="Folder (searched recursively) or file of clean face photos.")],
    out: Annotated[Path, typer.Argument(help="Output dataset folder (created; a rerun resumes it).")],
    style: Annotated[str, typer.Option(help="Mask style plugin name, or 'random'.")] = "random",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same masks.", min=0)] = 0,
    size: Annotated[int, typer.Option(help="Side of the aligned face crops, in pixels.")] = 128,
    variants: Annotated[int, typer.Option(help="Masked versions of every face.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N photos.")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: one per core).", min=1)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make training data: find faces, align them, draw a mask style on each; write clean/masked/mask."""
    from unmask_cli import synthesize as synth

    if not src.exists():
        ui.fail(f"{src}: no such file or folder")
        raise typer.Exit(2)
    if size < 32 or variants < 1:
        ui.fail("--size must be at least 32 and --variants at least 1")
        raise typer.Exit(2)
    try:
        styles, broken = synth.resolve_styles(style)
    except registry.PluginError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    for line in broken:
        ui.fail(f"{line} (left out)")
    config = synth.SynthesisConfig(style=style, seed=seed, size=size, variants=variants, styles=styles)
    out_was_there = out.exists()
    try:
        synth.check_config(out, config)
    except synth.DatasetError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    base = src if src.is_dir() else src.parent
    start = time.perf_counter()
    try:
        with ui.progress() as bar:
            task = bar.add_task("synthesize", total=None, status="")

            def on_start(total: int) -> None:
                bar.update(task, total=total)

            done = faces = 0

            def on_result(result) -> None:
                nonlocal done, faces
                done += 1
                faces += result.faces
                if result.skipped:
                    ui.warn(str(base / result.source), result.skipped)
                bar.update(task, advance=1, status=f"{faces} faces")

            summary = synth.run(src, out, config, limit, workers, on_start, on_result)
    except KeyboardInterrupt:
        ui.fail(f"interrupted: {done} photos done into {out}; the same command goes on from there")
        raise typer.Exit(130) from None
    except OSError as exc:  # the manifest could not be written (disk full, folder gone): finished photos are kept
        ui.fail(f"{out}: writing the dataset failed ({exc.strerror or exc}); a rerun resumes")
        raise typer.Exit(2) from None
    seconds = time.perf_counter() - start
    processed = summary.photos - summary.already_done
    report = {
        "photos": summary.photos,
        "already_done": summary.already_done,
        "faces_found": summary.faces,
        "written": summary.written,
        "skipped": dict(summary.skipped),
        "failed": summary.failed,
        "seconds": round(seconds, 2),
        "photos_per_second": round(processed / seconds, 2) if seconds > 0 else None,
        "out": str(out),
    }
    if as_json:
        ui.emit_json(report)
    else:
        _print_table(summary, report, seconds, out)
    if summary.photos == 0:
        ui.warn(str(src), "no photos in this folder or under it")
        if not out_was_there:  # its config.json would fix the settings of a dataset never made
            synth.remove_empty_dataset(out)
    # 1: photos a rerun will do again once the cause (a full disk, a broken style) is fixed, or nothing to do at all;
    # an unreadable photo or one without a face is skipped for good (skipped.jsonl), as a dataset can do without it
    if summary.failed or summary.photos == 0:
        raise typer.Exit(1)


def _print_table(summary, report: dict, seconds: float, out: Path) -> None:
    rows = [
        ("photos", summary.photos),
        ("already done (resumed)", summary.already_done),
        ("faces found", summary.faces),
        ("samples written", summary.written),
        *((f"skipped: {reason}", n) for reason, n in sorted(summary.skipped.items())),
        ("wall time", f"{seconds:.1f} s"),
        ("photos/s", report["photos_per_second"]),
    ]
    ui.out.print(ui.table(f"unmask synthesize → {out}", ["", "count"], rows))
