"""`unmask infer`: restore the faces behind masks in photos and folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import registry, ui
from unmask_cli.commands.options import JsonOpt, ModelsOpt, default_models_dir


def infer(
    # readable=False: an unreadable photo is one skip line later, not a refusal of the whole command line
    inputs: Annotated[list[Path], typer.Argument(help="Photos and folders (searched recursively).", readable=False)],
    out: Annotated[Path, typer.Option(help="Output folder; inputs are never overwritten.")] = Path("restored"),
    models: ModelsOpt = None,
    backend: Annotated[str, typer.Option(help="Backend plugin: onnxruntime, tensorflow, opencv, ...")] = (
        "onnxruntime"
    ),
    batch: Annotated[int, typer.Option(help="Faces per model call (batched across photos).", min=1)] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt (onnxruntime backends).")] = "auto",
    providers: Annotated[str | None, typer.Option(help="Explicit onnxruntime providers, comma-separated.")] = None,
    precision: Annotated[str, typer.Option(help="fp32, fp16 or int8 model files.")] = "fp32",
    checkpoints: Annotated[Path, typer.Option(help="Run folders for the tensorflow backend.")] = Path("runs"),
    save_mask: Annotated[bool, typer.Option("--save-mask", help="Also write NAME.EXT.mask.png per photo.")] = False,
    sheet: Annotated[Path | None, typer.Option(help="Write a before/after contact sheet (PNG) here.")] = None,
    sheet_count: Annotated[int, typer.Option(help="Photos on the contact sheet.", min=1)] = 24,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo photos already in --out.")] = False,
    keep_metadata: Annotated[
        bool,
        typer.Option(
            "--keep-metadata/--strip-metadata",
            help="Carry each photo's colour profile and EXIF (date, camera, GPS) to its output.",
        ),
    ] = True,
    fast: Annotated[
        bool,
        typer.Option("--fast", help="HOG and BlazeFace only: no slow fallbacks, no search of photos on their side."),
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Processes decoding and detecting faces (default: one per core).", min=1)
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of Face G's input noise: another seed paints another plausible face (with --overwrite to "
            "redo photos already in --out). A photo gets the same face alone or in a folder for a given seed.",
            min=0,
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Restore the faces behind masks in photos: detect, align, unmask, blend back.

    Nothing given is overwritten, and the same command run again goes on where the last one stopped. Exit status:
    0 done (photos without a masked face included), 1 something given could not be done (a missing path, an
    unreadable photo, a refused or failed write), 2 bad options, models or --out, 130 interrupted.
    """
    from unmask_cli.images import given as named
    from unmask_cli.model_card import ModelFileError
    from unmask_cli.pipeline import Unmasker, stage_shares
    from unmask_cli.runtime import ProviderError

    # a broken or looping link named here is still an input: the run skips it with the reason, like one in a folder
    given = [p for p in inputs if named(p)]
    missing = [p for p in inputs if p not in given]
    for p in missing:
        ui.fail(f"{p}: no such file or folder")
    # checked before any work: a run must not end in a failed write after minutes of it
    from unmask_cli.outputs import OutputPathError, check_output_file, check_writable_folder, remove_if_new

    out_was_there = out.exists()
    models = models if models is not None else default_models_dir()
    sheet_in_out = False
    try:
        check_writable_folder(out)
        if sheet is not None:
            check_output_file(sheet, image=True, inputs=given, models=[models, checkpoints])
            sheet, sheet_in_out = _sheet_in(out, sheet, given, save_mask)
    except OutputPathError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    options: dict = {"seed": seed} if seed else {}  # a third-party backend need not take one
    if backend == "tensorflow":
        options["checkpoints"] = checkpoints
    else:
        options.update(
            device=device,
            precision=precision,
            providers=[p.strip() for p in providers.split(",")] if providers else None,
        )
    try:
        unmasker = Unmasker(models, backend, batch=batch, robust_detection=not fast, workers=workers, **options)
    except (registry.PluginError, ModelFileError, ProviderError, FileNotFoundError, TypeError) as exc:
        if isinstance(exc, TypeError):  # an option this backend's constructor does not take (--seed, third-party)
            exc = f"backend {backend!r} cannot honour an option: {exc}"
        ui.fail(str(exc))
        remove_if_new(out, out_was_there)
        raise typer.Exit(2) from None
    for warning in getattr(unmasker.backend, "warnings", []):
        ui.warning(warning)
    ui.err.print(f"backend: {unmasker.backend.description}", highlight=False, soft_wrap=True)
    pairs: list = []
    records: list[dict] = []
    faces_restored = 0  # running total for the bar (each result carries its own photo's count)
    with ui.progress() as bar:
        task = bar.add_task("infer", total=None, status="")

        def on_start(total: int) -> None:
            bar.update(task, total=total)

        def on_result(result) -> None:
            nonlocal faces_restored
            faces_restored += result.restored
            records.append(photo_record(result))
            if result.skipped:
                ui.warn(str(result.source), result.skipped)
            elif result.note:
                ui.note(str(result.source), result.note)
            if result.after is not None and len(pairs) < sheet_count:
                pairs.append((result.before, result.after))
            bar.update(task, advance=1, status=f"{faces_restored} faces restored")

        try:
            summary = unmasker.run(
                given,
                out,
                overwrite=overwrite,
                keep_images=sheet is not None,
                keep_metadata=keep_metadata,
                save_masks=save_mask,
                on_start=on_start,
                on_result=on_result,
            )
        except KeyboardInterrupt:
            bar.stop()
            written = sum(1 for r in records if not r.get("skipped"))
            ui.fail(f"interrupted: {written} photos written to {out}; the same command goes on from there")
            raise typer.Exit(130) from None
    for folder in summary.empty_folders:
        ui.warn(str(folder), "no photos in this folder or under it")
    sheet_failed = False
    if sheet is not None and pairs:
        from unmask_cli.images import ImageError, write_atomic
        from unmask_cli.sheets import before_after
        from unmask_cli.written import WrittenRecord

        try:
            if sheet_in_out:  # a later run knows it for one of ours
                WrittenRecord(out).add_sheet(sheet)
            write_atomic(sheet, before_after(pairs))
        except (OSError, ImageError) as exc:
            ui.fail(f"cannot write the sheet {sheet} ({getattr(exc, 'strerror', None) or exc})")
            sheet_failed = True
    processed = summary.photos - summary.already_done - summary.already_answered
    report = {
        "photos": summary.photos,
        "already_done": summary.already_done,
        "already_answered": summary.already_answered,
        "written": summary.written,
        "faces": summary.faces,
        "restored": summary.restored,
        "masks_in_place": summary.masks_in_place,
        "filled_below_crop": summary.filled_below,
        "filled_beside_crop": summary.filled_beside,
        "photos_with_restored_face": summary.written,
        "skipped": dict(summary.skipped),
        "failed": summary.failed,
        "empty_folders": [str(p) for p in summary.empty_folders],
        "seconds": round(summary.seconds, 2),
        "photos_per_second": round(processed / summary.seconds, 3) if summary.seconds else None,
        "stage_share": {k: round(v, 3) for k, v in stage_shares(summary).items()},
        "backend": unmasker.backend.description,
        "out": str(out),
        "sheet": str(sheet) if sheet and pairs and not sheet_failed else None,
        "missing": [str(p) for p in missing],
        "results": records,  # one per photo processed this run (photos already done are not listed)
    }
    if as_json:
        ui.emit_json(report)
    else:
        rows = [
            ("photos", summary.photos),
            ("already done (skipped)", summary.already_done),
            ("no masked face last time (skipped)", summary.already_answered),
            ("faces found", summary.faces),
            ("faces restored", summary.restored),
            ("mask over nose + mouth, eyes free", summary.masks_in_place),
            ("mask below the crop inpainted", summary.filled_below),
            ("mask beside the crop inpainted", summary.filled_beside),
            ("photos written", summary.written),
            *((f"skipped: {k}", v) for k, v in sorted(summary.skipped.items())),
            ("photos/s", report["photos_per_second"]),
            ("time share", " ".join(f"{k} {v:.0%}" for k, v in report["stage_share"].items())),
        ]
        ui.out.print(ui.table(f"unmask infer → {out}", ["", "value"], rows))
    # 1: something the user gave could not be done (a missing path, an unreadable photo, a failed write, nothing
    # found at all); a photo without a face or a mask is an answer, not a failure
    if missing or sheet_failed or summary.failed or summary.photos == 0:
        raise typer.Exit(1)


def photo_record(result) -> dict:
    """What happened to one photo, for --json: where it went or why not, and each face found on it."""
    return {
        "source": str(result.source),
        "output": str(result.output) if result.output and not result.skipped else None,
        "skipped": result.skipped,
        "note": result.note,
        "faces": [
            {
                "box": list(face.box),
                "detector": face.detector,
                "restored": face.restored,
                "mask_fraction": round(face.mask_fraction, 4),
                "mask_in_place": face.mask_in_place,
                "filled_below_crop": face.filled_below,
                "filled_beside_crop": face.filled_beside,
            }
            for face in result.faces
        ],
    }


def _sheet_in(out: Path, sheet: Path, given: list[Path], save_mask: bool) -> tuple[Path, bool]:
    """(`sheet`, as a path under `out` when it lies there; whether it does). A sheet in --out must not take a photo's
    output or mask path (the restored photo was lost, and taken for done ever after), nor a file unmask did not
    write there."""
    from unmask_cli.images import resolved
    from unmask_cli.outputs import OutputPathError
    from unmask_cli.pipeline import mask_path, plan_outputs
    from unmask_cli.written import WrittenRecord

    where = resolved(sheet)
    if not where.is_relative_to(resolved(out)):
        return sheet, False
    inside = out / where.relative_to(resolved(out))
    for _, target in plan_outputs(given, out):
        if where in {resolved(target), *([resolved(mask_path(target))] if save_mask else [])}:
            raise OutputPathError(f"{sheet}: a photo's output goes there; put the sheet elsewhere")
    if inside.exists() and not WrittenRecord(out).holds_sheet(inside):
        raise OutputPathError(f"{sheet}: a file unmask did not write is there in --out; it is never overwritten")
    return inside, True
