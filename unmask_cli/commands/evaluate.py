"""`unmask evaluate`: quality on real faces with drawn masks, the model against the classical baselines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import registry, ui
from unmask_cli.commands.options import JsonOpt, ModelsOpt, default_models_dir


def evaluate(
    data: Annotated[Path, typer.Argument(help="Folder of clean face photos never used in training.")],
    backend: Annotated[list[str] | None, typer.Option(help="Backends to compare (repeat the option).")] = None,
    styles: Annotated[list[str] | None, typer.Option(help="Mask styles (default: every installed one).")] = None,
    models: ModelsOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N photos.")] = None,
    as_json: JsonOpt = False,
    json_file: Annotated[Path | None, typer.Option("--json-file", help="Also write the figures to this file.")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Write a sample sheet (PNG) here.")] = None,
) -> None:
    """Quality on real faces with drawn masks: Mask G IoU per style; PSNR, SSIM, texture, identity vs baselines."""
    models = models if models is not None else default_models_dir()
    import json

    from unmask_cli import evaluate as ev
    from unmask_cli.images import write_atomic, write_bytes_atomic
    from unmask_cli.model_card import ModelFileError
    from unmask_cli.outputs import OutputPathError, check_output_file
    from unmask_cli.runtime import ProviderError

    if not data.exists():
        ui.fail(f"{data}: no such file or folder")
        raise typer.Exit(2)
    try:  # before the long evaluation, not after it
        if json_file:
            check_output_file(json_file, inputs=[data], models=[models])
        if sheet:
            check_output_file(sheet, image=True, inputs=[data], models=[models])
    except OutputPathError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    names = backend or ["onnxruntime", "opencv", "opencv-ns"]
    if not styles:  # every installed style: one that fails to load is said and left out, as in synthesize
        from unmask_cli.synthesize import resolve_styles

        try:
            usable, broken = resolve_styles("random")
        except registry.PluginError as exc:
            ui.fail(str(exc))
            raise typer.Exit(2) from None
        for line in broken:
            ui.fail(f"{line} (left out)")
        styles = list(usable)
    try:
        with ui.progress() as bar:
            task = bar.add_task("faces", total=None, status="")

            def on_progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            cases, results = ev.evaluate(
                data,
                names,
                styles,
                models,
                limit,
                on_progress=on_progress,
                on_skip=lambda path, reason: ui.warn(str(path), reason),
            )
            bar.update(task, completed=bar.tasks[0].total)
    except (registry.PluginError, ModelFileError, ProviderError, FileNotFoundError) as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    summaries = {r.backend: r.summary() for r in results}
    reference = summaries.get("opencv")
    keys = ["psnr_masked", "ssim_masked", "psnr_face", "ssim_face", "texture_ratio", "identity_distance"]
    rows = []
    for r in results:
        s = summaries[r.backend]
        row = [r.backend, *(f"{s[k]:.3f}" for k in keys)]
        bare = s["bare_faces_restored"]
        row.append("—" if bare is None else f"{bare:.1%}")
        if reference is not None:
            row.append(f"{s['psnr_masked'] - reference['psnr_masked']:+.2f} dB")
        rows.append(row)
    columns = ["backend", "PSNR mask", "SSIM mask", "PSNR face", "SSIM face", "texture", "identity dist"]
    columns.append("bare faces changed")  # faces without a mask that infer would still paint over
    if reference is not None:
        columns.append("PSNR vs Telea")
    faces = len({c.source for c in cases})
    per_style = results[0].per_style("iou")
    dice, region, coverage = (results[0].per_style(k) for k in ("dice", "region_iou", "region_coverage"))
    payload = {
        "data": str(data),
        "faces": faces,
        "cases": len(cases),
        "summary": summaries,
        "mask_per_style": {"iou": per_style, "dice": dice, "region_iou": region, "region_coverage": coverage},
        "backends": {r.backend: r.description for r in results},
    }
    if as_json:
        ui.emit_json(payload)
    else:
        title = f"unmask evaluate {data} ({faces} faces × {len(cases) // max(faces, 1)} styles)"
        ui.out.print(ui.table(title, columns, rows))
        ui.out.print(
            ui.table(
                f"Mask G per style ({results[0].backend}); region = what gets replaced (largest piece, grown 1 px)",
                ["style", "IoU", "Dice", "region IoU", "mask covered"],
                [
                    (k, f"{v:.3f}", f"{dice[k]:.3f}", f"{region[k]:.3f}", f"{coverage[k]:.1%}")
                    for k, v in per_style.items()
                ],
            )
        )
    if json_file:
        _write(json_file, lambda path: write_bytes_atomic(path, json.dumps(payload, indent=2).encode()))
    if sheet:
        _write(sheet, lambda path: write_atomic(path, ev.sheet(cases, results)))


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Write one result file; a failure the start-up check could not foresee (disk full) is one line, rc 2."""
    import cv2

    from unmask_cli.images import ImageError

    try:
        write(path)
    except (OSError, ImageError, cv2.error) as exc:
        lines = str(exc).strip().splitlines()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (lines or [type(exc).__name__])[0]
        ui.fail(f"{path}: cannot write ({reason})")
        raise typer.Exit(2) from None
