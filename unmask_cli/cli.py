"""The `unmask` command line: parse, call the library, render with Rich. Heavy imports stay inside commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import __version__, registry, ui

app = typer.Typer(
    name="unmask",
    help="Restore the face hidden behind a face mask in a photo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        ui.out.print(f"unmask {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Restore the face hidden behind a face mask in a photo."""


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed plugins: group, name, distribution, version, and whether each loads."""
    rows = []
    for group in registry.GROUPS:
        for info in registry.discover(group):
            error = registry.check(info)
            rows.append({**info.__dict__, "status": "ok" if error is None else "error", "error": error})
    if as_json:
        ui.emit_json(rows)
        return
    for row in rows:
        if row["error"]:
            ui.fail(row["error"])
    ui.out.print(
        ui.table(
            "unmask plugins",
            ["group", "name", "distribution", "version", "status"],
            [(r["group"], r["name"], r["distribution"], r["version"], r["status"]) for r in rows],
        )
    )


@app.command()
def synthesize(
    src: Annotated[Path, typer.Argument(help="Folder (searched recursively) or file of clean face photos.")],
    out: Annotated[Path, typer.Argument(help="Output dataset folder (created; a rerun resumes it).")],
    style: Annotated[str, typer.Option(help="Mask style plugin name, or 'random'.")] = "random",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same masks.")] = 0,
    size: Annotated[int, typer.Option(help="Side of the aligned face crops, in pixels.")] = 128,
    variants: Annotated[int, typer.Option(help="Masked versions of every face.")] = 1,
    limit: Annotated[int | None, typer.Option(help="Use only the first N photos.")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: one per core).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
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
    try:
        synth.check_config(out, config)
    except synth.ConfigMismatch as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    base = src if src.is_dir() else src.parent
    start = time.perf_counter()
    with ui.progress() as bar:
        task = bar.add_task("synthesize", total=None, status="")

        def on_start(total: int) -> None:
            bar.update(task, total=total)

        def on_result(result) -> None:
            if result.skipped:
                ui.warn(str(base / result.source), result.skipped)
            bar.update(task, advance=1, status=f"{result.faces} face(s)")

        summary = synth.run(src, out, config, limit, workers, on_start, on_result)
    seconds = time.perf_counter() - start
    processed = summary.photos - summary.already_done
    report = {
        "photos": summary.photos,
        "already_done": summary.already_done,
        "faces_found": summary.faces,
        "written": summary.written,
        "skipped": dict(summary.skipped),
        "seconds": round(seconds, 2),
        "photos_per_second": round(processed / seconds, 2) if seconds > 0 else None,
        "out": str(out),
    }
    if as_json:
        ui.emit_json(report)
        return
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


train_app = typer.Typer(
    help="Train Mask G (`unmask train mask`) or Face G + Face D (`unmask train face`).", no_args_is_help=True
)
app.add_typer(train_app, name="train")

DataArg = Annotated[Path, typer.Argument(help="A folder written by `unmask synthesize`.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, weights, grids, metrics.jsonl.")]
SizeOpt = Annotated[int, typer.Option(help="Input size S (a multiple of 32).")]
BatchOpt = Annotated[int, typer.Option(help="Batch size (original recipe: 4).")]
EpochsOpt = Annotated[int, typer.Option(help="Epochs (original recipe: 10).")]
LrOpt = Annotated[float, typer.Option(help="Adam learning rate (original recipe: 2e-4, beta1 0.5).")]
DecayOpt = Annotated[
    int, typer.Option(help="Let the learning rate fall linearly to 0 over the last N epochs (0: constant).")
]
SeedOpt = Annotated[int, typer.Option(help="Seed: data order, augmentation, noise and initial weights.")]
WidthOpt = Annotated[int | None, typer.Option(help="Base number of filters (model default when unset).")]
StepsOpt = Annotated[int | None, typer.Option(help="Cap on steps per epoch (default: the whole training split).")]
MaxStepsOpt = Annotated[int | None, typer.Option(help="Stop after this many more steps (short runs).")]
CkptOpt = Annotated[int, typer.Option(help="Checkpoint every N steps (and at every epoch end).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")]
StrategyOpt = Annotated[str, typer.Option(help="tf.distribute strategy: default, mirrored or multiworker.")]
InitOpt = Annotated[
    Path | None,
    typer.Option(help="Start a new run from an exported fp32 generator's weights (e.g. exported/mask_g.onnx)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable summary.")]


def _train(config, out: Path, resume: bool, max_steps: int | None, as_json: bool) -> None:
    from unmask_cli import training

    try:
        trainer = training.trainer(config, out, resume)
    except (training.ConfigMismatch, FileNotFoundError, ValueError) as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    start_step = int(trainer.step.numpy())
    if start_step:
        ui.err.print(
            f"resumed {out} at step {start_step} (epoch {start_step // trainer.steps_per_epoch + 1}, "
            f"batch {start_step % trainer.steps_per_epoch} of {trainer.steps_per_epoch})"
        )
    started = time.perf_counter()
    with ui.progress() as bar:
        task = bar.add_task(
            f"train {config.kind}", total=config.epochs * trainer.steps_per_epoch, completed=start_step, status=""
        )

        def on_step(step: int, total: int, losses: dict[str, float]) -> None:
            shown = " ".join(f"{k} {v:.3f}" for k, v in list(losses.items())[:4])
            bar.update(task, completed=step, status=shown)

        def on_epoch(epoch: int, val: dict[str, float]) -> None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in val.items())
            bar.console.print(f"epoch {epoch}: {shown}")

        val = trainer.fit(on_step, on_epoch, max_steps=max_steps)
    seconds = time.perf_counter() - started
    steps = int(trainer.step.numpy()) - start_step
    report = {
        "run": str(out),
        "steps": int(trainer.step.numpy()),
        "steps_this_session": steps,
        "seconds": round(seconds, 1),
        "sec_per_1000_steps": round(seconds / max(steps, 1) * 1000, 1),
        "validation": val or trainer.validate(),
    }
    if as_json:
        ui.emit_json(report)
        return
    rows = [
        ("steps (total)", report["steps"]),
        ("steps this session", steps),
        ("wall time", f"{seconds:.1f} s"),
        ("s per 1000 steps", report["sec_per_1000_steps"]),
        *((f"validation {k}", f"{v:.4g}") for k, v in report["validation"].items()),
    ]
    ui.out.print(ui.table(f"unmask train {config.kind} → {out}", ["", "value"], rows))


@train_app.command("mask")
def train_mask(
    data: DataArg,
    out: OutOpt = Path("runs/mask"),
    size: SizeOpt = 128,
    batch: BatchOpt = 4,
    epochs: EpochsOpt = 10,
    lr: LrOpt = 2e-4,
    lr_decay_epochs: DecayOpt = 0,
    seed: SeedOpt = 0,
    width: WidthOpt = None,
    steps_per_epoch: StepsOpt = None,
    max_steps: MaxStepsOpt = None,
    checkpoint_every: CkptOpt = 500,
    resume: ResumeOpt = False,
    strategy: StrategyOpt = "default",
    init: InitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train Mask G (U-Net segmentation of the face mask): BCE + Dice, validation IoU."""
    from unmask_cli.training import TrainConfig

    config = TrainConfig(
        kind="mask",
        data=str(data),
        size=size,
        batch=batch,
        epochs=epochs,
        lr=lr,
        lr_decay_epochs=lr_decay_epochs,
        seed=seed,
        width=width,
        steps_per_epoch=steps_per_epoch,
        checkpoint_every=checkpoint_every,
        strategy=strategy,
        init=str(init) if init else None,
    )
    _train(config, out, resume, max_steps, as_json)


@train_app.command("face")
def train_face(
    data: DataArg,
    out: OutOpt = Path("runs/face"),
    size: SizeOpt = 128,
    batch: BatchOpt = 4,
    epochs: EpochsOpt = 10,
    lr: LrOpt = 2e-4,
    lr_decay_epochs: DecayOpt = 0,
    seed: SeedOpt = 0,
    width: WidthOpt = None,
    steps_per_epoch: StepsOpt = None,
    max_steps: MaxStepsOpt = None,
    checkpoint_every: CkptOpt = 500,
    resume: ResumeOpt = False,
    strategy: StrategyOpt = "default",
    init: InitOpt = None,
    mask_source: Annotated[str, typer.Option(help="Noise region: 'gt' (synthesized mask) or 'mask_g'.")] = "gt",
    mask_run: Annotated[Path | None, typer.Option(help="Mask G run folder, for --mask-source mask_g.")] = None,
    adv_weight: Annotated[float, typer.Option(help="Weight of the adversarial (hinge) loss.")] = 1.0,
    fm_weight: Annotated[float, typer.Option(help="Weight of discriminator feature matching.")] = 10.0,
    l1_hole: Annotated[float, typer.Option(help="Weight of L1 inside the mask.")] = 10.0,
    ssim_weight: Annotated[float, typer.Option(help="Weight of (1 - SSIM) of the composite.")] = 2.0,
    d_warmup: Annotated[
        int, typer.Option(help="First N steps train only Face D (with --init: a fresh critic meets a trained G).")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Train Face G with global + local Face D: L1 + SSIM + adversarial + feature matching."""
    from unmask_cli.training import TrainConfig

    config = TrainConfig(
        kind="face",
        data=str(data),
        size=size,
        batch=batch,
        epochs=epochs,
        lr=lr,
        lr_decay_epochs=lr_decay_epochs,
        seed=seed,
        width=width,
        steps_per_epoch=steps_per_epoch,
        checkpoint_every=checkpoint_every,
        strategy=strategy,
        init=str(init) if init else None,
        mask_source=mask_source,
        mask_run=str(mask_run) if mask_run else None,
        adv_weight=adv_weight,
        fm_weight=fm_weight,
        l1_hole=l1_hole,
        ssim_weight=ssim_weight,
        d_warmup=d_warmup,
    )
    _train(config, out, resume, max_steps, as_json)


@app.command()
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
    parity_count: Annotated[int, typer.Option(help="How many face crops to check and calibrate on.")] = 16,
    only: Annotated[
        str | None, typer.Option(help="Export only 'mask' or 'face'; the other's files in --out stay as they are.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export Mask G and Face G to ONNX with metadata, checked against Keras on real face crops."""
    if not onnx:
        ui.fail("say which format: --onnx")
        raise typer.Exit(2)
    from unmask_cli import export as exporter

    lines: list[str] = []

    def show(line: str) -> None:
        lines.append(line)
        if not as_json:
            ui.err.print(line, highlight=False)

    try:
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
        )
    except (exporter.ParityError, FileNotFoundError, ValueError) as exc:
        ui.fail(str(exc))
        raise typer.Exit(1) from None
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


@app.command()
def infer(
    inputs: Annotated[list[Path], typer.Argument(help="Photos and folders (searched recursively).")],
    out: Annotated[Path, typer.Option(help="Output folder; inputs are never overwritten.")] = Path("restored"),
    models: Annotated[Path, typer.Option(help="Folder of exported models.")] = Path("exported"),
    backend: Annotated[str, typer.Option(help="Backend plugin: onnxruntime, tensorflow, opencv, ...")] = (
        "onnxruntime"
    ),
    batch: Annotated[int, typer.Option(help="Faces per model call (batched across photos).")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt (onnxruntime backends).")] = "auto",
    providers: Annotated[str | None, typer.Option(help="Explicit onnxruntime providers, comma-separated.")] = None,
    precision: Annotated[str, typer.Option(help="fp32, fp16 or int8 model files.")] = "fp32",
    checkpoints: Annotated[Path, typer.Option(help="Run folders for the tensorflow backend.")] = Path("runs"),
    save_mask: Annotated[bool, typer.Option("--save-mask", help="Also write NAME.mask.png per photo.")] = False,
    sheet: Annotated[Path | None, typer.Option(help="Write a before/after contact sheet (PNG) here.")] = None,
    sheet_count: Annotated[int, typer.Option(help="Photos on the contact sheet.")] = 24,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo photos already in --out.")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="HOG detector only (misses ~1/3 of masked faces).")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Processes decoding and detecting faces (default: one per core).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore the faces behind masks in photos: detect, align, unmask, blend back."""
    from unmask_cli.model_card import ModelFileError
    from unmask_cli.pipeline import Unmasker, stage_shares
    from unmask_cli.runtime import ProviderError

    missing = [p for p in inputs if not p.exists()]
    for p in missing:
        ui.fail(f"{p}: no such file or folder")
    options: dict = {}
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
    except (registry.PluginError, ModelFileError, ProviderError, FileNotFoundError) as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    for warning in getattr(unmasker.backend, "warnings", []):
        ui.err.print(f"[yellow]warning[/] {warning}")
    ui.err.print(f"backend: {unmasker.backend.description}", highlight=False)
    pairs: list = []
    with ui.progress() as bar:
        task = bar.add_task("infer", total=None, status="")

        def on_start(total: int) -> None:
            bar.update(task, total=total)

        def on_result(result) -> None:
            if result.skipped:
                ui.warn(str(result.source), result.skipped)
            if result.after is not None and len(pairs) < sheet_count:
                pairs.append((result.before, result.after))
            bar.update(task, advance=1, status=f"{result.restored} restored")

        summary = unmasker.run(
            [p for p in inputs if p.exists()],
            out,
            overwrite=overwrite,
            keep_images=sheet is not None,
            save_masks=save_mask,
            on_start=on_start,
            on_result=on_result,
        )
    if sheet is not None and pairs:
        from unmask_cli.images import write_atomic
        from unmask_cli.sheets import before_after

        write_atomic(sheet, before_after(pairs))
    processed = summary.photos - summary.already_done
    report = {
        "photos": summary.photos,
        "already_done": summary.already_done,
        "written": summary.written,
        "faces": summary.faces,
        "restored": summary.restored,
        "masks_in_place": summary.masks_in_place,
        "photos_with_restored_face": summary.written,
        "skipped": dict(summary.skipped),
        "seconds": round(summary.seconds, 2),
        "photos_per_second": round(processed / summary.seconds, 3) if summary.seconds else None,
        "stage_share": {k: round(v, 3) for k, v in stage_shares(summary).items()},
        "backend": unmasker.backend.description,
        "out": str(out),
        "sheet": str(sheet) if sheet else None,
    }
    if as_json:
        ui.emit_json(report)
    else:
        rows = [
            ("photos", summary.photos),
            ("already done (skipped)", summary.already_done),
            ("faces found", summary.faces),
            ("faces restored", summary.restored),
            ("mask over nose + mouth, eyes free", summary.masks_in_place),
            ("photos written", summary.written),
            *((f"skipped: {k}", v) for k, v in sorted(summary.skipped.items())),
            ("photos/s", report["photos_per_second"]),
            ("time share", " ".join(f"{k} {v:.0%}" for k, v in report["stage_share"].items())),
        ]
        ui.out.print(ui.table(f"unmask infer → {out}", ["", "value"], rows))
    if missing:
        raise typer.Exit(1)


@app.command()
def evaluate(
    data: Annotated[Path, typer.Argument(help="Folder of clean face photos never used in training.")],
    backend: Annotated[list[str] | None, typer.Option(help="Backends to compare (repeat the option).")] = None,
    styles: Annotated[list[str] | None, typer.Option(help="Mask styles (default: every installed one).")] = None,
    models: Annotated[Path, typer.Option(help="Folder of exported models.")] = Path("exported"),
    limit: Annotated[int | None, typer.Option(help="Use only the first N photos.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write all figures to this JSON file.")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Write a sample sheet (PNG) here.")] = None,
) -> None:
    """Quality on real faces with drawn masks: Mask G IoU per style; PSNR, SSIM, texture, identity vs baselines."""
    import json

    from unmask_cli import evaluate as ev
    from unmask_cli.images import write_atomic, write_bytes_atomic
    from unmask_cli.model_card import ModelFileError

    names = backend or ["onnxruntime", "opencv", "opencv-ns"]
    try:
        with ui.err.status("evaluating…") as status:
            cases, results = ev.evaluate(
                data, names, styles, models, limit, on_backend=lambda n: status.update(f"evaluating {n}…")
            )
    except (registry.PluginError, ModelFileError, FileNotFoundError) as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    summaries = {r.backend: r.summary() for r in results}
    reference = summaries.get("opencv")
    keys = ["psnr_masked", "ssim_masked", "psnr_face", "ssim_face", "texture_ratio", "identity_distance"]
    rows = []
    for r in results:
        s = summaries[r.backend]
        row = [r.backend, *(f"{s[k]:.3f}" for k in keys)]
        if reference is not None:
            row.append(f"{s['psnr_masked'] - reference['psnr_masked']:+.2f} dB")
        rows.append(row)
    columns = ["backend", "PSNR mask", "SSIM mask", "PSNR face", "SSIM face", "texture", "identity dist"]
    if reference is not None:
        columns.append("PSNR vs Telea")
    faces = len({c.source for c in cases})
    ui.out.print(
        ui.table(f"unmask evaluate {data} ({faces} faces × {len(cases) // max(faces, 1)} styles)", columns, rows)
    )
    per_style = results[0].per_style("iou")
    dice, region, coverage = (results[0].per_style(k) for k in ("dice", "region_iou", "region_coverage"))
    ui.out.print(
        ui.table(
            f"Mask G per style ({results[0].backend}); region = what gets replaced (largest piece, grown 1 px)",
            ["style", "IoU", "Dice", "region IoU", "mask covered"],
            [(k, f"{v:.3f}", f"{dice[k]:.3f}", f"{region[k]:.3f}", f"{coverage[k]:.1%}") for k, v in per_style.items()],
        )
    )
    if json_file:
        payload = {
            "data": str(data),
            "faces": faces,
            "cases": len(cases),
            "summary": summaries,
            "mask_per_style": {"iou": per_style, "dice": dice, "region_iou": region, "region_coverage": coverage},
            "backends": {r.backend: r.description for r in results},
        }
        write_bytes_atomic(json_file, json.dumps(payload, indent=2).encode())
    if sheet:
        write_atomic(sheet, ev.sheet(cases, results))


@app.command()
def benchmark(
    backend: Annotated[
        list[str] | None, typer.Option(help="Backends (repeat; default: onnxruntime, tensorflow).")
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,8,32",
    seconds: Annotated[float, typer.Option(help="Timed seconds per backend, part and batch size.")] = 3.0,
    models: Annotated[Path, typer.Option(help="Folder of exported models.")] = Path("exported"),
    checkpoints: Annotated[Path, typer.Option(help="Run folders for the tensorflow backend.")] = Path("runs"),
    photos: Annotated[Path | None, typer.Option(help="Photos for the end-to-end figure.")] = Path("samples/masked"),
    json_file: Annotated[Path | None, typer.Option("--json", help="Write all figures to this JSON file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG bar chart here.")] = None,
) -> None:
    """Images/s and latency of every backend side by side, with ratios against TensorFlow."""
    import json
    import platform

    from unmask_cli import benchmark as bench
    from unmask_cli.images import iter_images, write_bytes_atomic

    names = backend or ["onnxruntime", "tensorflow"]
    batches = [int(b) for b in batch.split(",") if b.strip()]
    options = {"tensorflow": {"checkpoints": checkpoints}}
    with ui.err.status("benchmarking…") as status:
        report = bench.bench_models(names, batches, seconds, models, options, on_line=status.update)
        if photos and photos.exists():
            for name in report.descriptions:
                status.update(f"end to end: {name}")
                report.end_to_end[name] = bench.bench_end_to_end(
                    name, list(iter_images([photos])), models, options=options.get(registry.backend_name(name))
                )
    for name, error in report.errors.items():
        ui.fail(f"backend {name}: {error}")
    rows = []
    for t in report.timings:
        ratio = report.ratio(t.backend, t.part, t.batch)
        rows.append(
            (
                t.backend,
                t.part,
                t.batch,
                f"{t.images_per_second:.1f}",
                f"{t.p50_ms:.1f}",
                f"{t.p95_ms:.1f}",
                f"×{ratio:.2f}" if ratio else "–",
            )
        )
    ui.out.print(
        ui.table(
            f"unmask benchmark ({platform.processor() or platform.machine()})",
            ["backend", "model", "batch", "img/s", "p50 ms", "p95 ms", "vs tensorflow"],
            rows,
        )
    )
    if report.end_to_end:
        e2e_rows = [
            (name, f"{r['photos_per_second']:.2f}", " ".join(f"{k} {v:.0%}" for k, v in r["stage_share"].items()))
            for name, r in report.end_to_end.items()
        ]
        ui.out.print(ui.table("end to end (photos in memory)", ["backend", "photos/s", "time share"], e2e_rows))
    if json_file:
        payload = {
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpus": __import__("os").cpu_count(),
            },
            "descriptions": report.descriptions,
            "errors": report.errors,
            "timings": [t.__dict__ for t in report.timings],
            "end_to_end": report.end_to_end,
        }
        write_bytes_atomic(json_file, json.dumps(payload, indent=2).encode())
    if plot:
        bench.plot(report, plot)


def main() -> None:
    app()
