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
SeedOpt = Annotated[int, typer.Option(help="Seed: data order, augmentation, noise and initial weights.")]
WidthOpt = Annotated[int | None, typer.Option(help="Base number of filters (model default when unset).")]
StepsOpt = Annotated[int | None, typer.Option(help="Cap on steps per epoch (default: the whole training split).")]
MaxStepsOpt = Annotated[int | None, typer.Option(help="Stop after this many more steps (short runs).")]
CkptOpt = Annotated[int, typer.Option(help="Checkpoint every N steps (and at every epoch end).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")]
StrategyOpt = Annotated[str, typer.Option(help="tf.distribute strategy: default, mirrored or multiworker.")]
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
    seed: SeedOpt = 0,
    width: WidthOpt = None,
    steps_per_epoch: StepsOpt = None,
    max_steps: MaxStepsOpt = None,
    checkpoint_every: CkptOpt = 500,
    resume: ResumeOpt = False,
    strategy: StrategyOpt = "default",
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
        seed=seed,
        width=width,
        steps_per_epoch=steps_per_epoch,
        checkpoint_every=checkpoint_every,
        strategy=strategy,
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
    seed: SeedOpt = 0,
    width: WidthOpt = None,
    steps_per_epoch: StepsOpt = None,
    max_steps: MaxStepsOpt = None,
    checkpoint_every: CkptOpt = 500,
    resume: ResumeOpt = False,
    strategy: StrategyOpt = "default",
    mask_source: Annotated[str, typer.Option(help="Noise region: 'gt' (synthesized mask) or 'mask_g'.")] = "gt",
    mask_run: Annotated[Path | None, typer.Option(help="Mask G run folder, for --mask-source mask_g.")] = None,
    adv_weight: Annotated[float, typer.Option(help="Weight of the adversarial (hinge) loss.")] = 1.0,
    fm_weight: Annotated[float, typer.Option(help="Weight of discriminator feature matching.")] = 10.0,
    l1_hole: Annotated[float, typer.Option(help="Weight of L1 inside the mask.")] = 10.0,
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
        seed=seed,
        width=width,
        steps_per_epoch=steps_per_epoch,
        checkpoint_every=checkpoint_every,
        strategy=strategy,
        mask_source=mask_source,
        mask_run=str(mask_run) if mask_run else None,
        adv_weight=adv_weight,
        fm_weight=fm_weight,
        l1_hole=l1_hole,
    )
    _train(config, out, resume, max_steps, as_json)


def main() -> None:
    app()
