"""`unmask train mask` and `unmask train face`: resumable training runs (TensorFlow, imported lazily)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import ui
from unmask_cli.commands.options import JsonOpt

HarshLightOpt = Annotated[
    float,
    typer.Option(
        help="Share of samples lit by coloured, dim or one-sided light (a colour cast, under-exposure, gamma, "
        "light falling off across the face), face and mask alike: photos in stage light and dark rooms.",
        min=0.0,
        max=1.0,
    ),
]

BrightLightOpt = Annotated[
    float,
    typer.Option(
        help="Share of samples over-exposed (a gain clipped to white, lifted mid-tones, washed-out colour), face "
        "and mask alike: sun, snow and flash photos, whose pale lower faces pass for a white mask.",
        min=0.0,
        max=1.0,
    ),
]

AlignJitterOpt = Annotated[
    float,
    typer.Option(
        help="Share of samples shifted, scaled and turned a little, image, mask and target alike: real crops are "
        "aligned on landmarks found on the masked face, which drift, so neither model may count on where the "
        "mask and the face sit in the crop.",
        min=0.0,
        max=1.0,
    ),
]

TurnedShareOpt = Annotated[
    float,
    typer.Option(
        help="Repeat the turned faces (a third of the way to profile or more, by their landmarks) until they make up "
        "this share of the training samples: ~10% of UTKFace's faces are, ~20% of those in real masked photos.",
        min=0.0,
        max=1.0,
    ),
]

app = typer.Typer(
    help="Train Mask G (`unmask train mask`) or Face G + Face D (`unmask train face`).", no_args_is_help=True
)

DataArg = Annotated[Path, typer.Argument(help="A folder written by `unmask synthesize`.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, weights, grids, metrics.jsonl.")]
SizeOpt = Annotated[int, typer.Option(help="Input size S (a multiple of 32).", min=32)]
BatchOpt = Annotated[int, typer.Option(help="Batch size (original recipe: 4).", min=1)]
EpochsOpt = Annotated[int, typer.Option(help="Epochs (original recipe: 10).", min=1)]


def _above_zero(value: float) -> float:
    if value <= 0:
        raise typer.BadParameter(f"{value:g}: a learning rate above 0 is needed")
    return value


LrOpt = Annotated[
    float, typer.Option(help="Adam learning rate (original recipe: 2e-4, beta1 0.5).", callback=_above_zero)
]
DecayOpt = Annotated[
    int, typer.Option(help="Let the learning rate fall linearly to 0 over the last N epochs (0: constant).", min=0)
]
SeedOpt = Annotated[int, typer.Option(help="Seed: data order, augmentation, noise and initial weights.")]
WidthOpt = Annotated[int | None, typer.Option(help="Base number of filters (model default when unset).", min=1)]
StepsOpt = Annotated[
    int | None, typer.Option(help="Cap on steps per epoch (default: the whole training split).", min=1)
]
MaxStepsOpt = Annotated[int | None, typer.Option(help="Stop after this many more steps (short runs).", min=1)]
CkptOpt = Annotated[int, typer.Option(help="Checkpoint every N steps (and at every epoch end).", min=1)]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")]
StrategyOpt = Annotated[str, typer.Option(help="tf.distribute strategy: default, mirrored or multiworker.")]
InitOpt = Annotated[
    Path | None,
    typer.Option(help="Start a new run from an exported fp32 generator's weights (e.g. exported/mask_g.onnx)."),
]


def tf_errors():
    import tensorflow as tf

    return tf.errors


def _resume_hint(trainer, out: Path) -> str:
    saved = trainer.manager.latest_checkpoint
    if not saved:
        return "the same command with --resume starts over (no checkpoint was saved yet)"
    return f"the same command with --resume goes on from the last checkpoint ({Path(saved).name})"


def _training_failure(config, step: int, exc: BaseException, then: str | None = None) -> str:
    """One line for an error that stopped training: the unreadable sample by name when a decode failed (TensorFlow's
    message names the op, not the file), else the error's first line."""
    from unmask_cli import data, pipelines

    first = ui.first_line(exc)
    errors = tf_errors()
    # a sample that does not decode: TensorFlow says "Invalid PNG data", "Unknown image file format", a missing file
    if isinstance(exc, errors.InvalidArgumentError | errors.DataLossError | errors.NotFoundError):
        bad = pipelines.unreadable_samples(config.data, data.load_manifest(Path(config.data)))
        if bad:
            # --resume alone meets the same file again: the sample must be mended or go first
            named = ", ".join(map(str, bad[:3])) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            what = "not a readable image" if len(bad) == 1 else "not readable images"
            them = "it" if len(bad) == 1 else "them"
            return (
                f"{named}: {what}: training stopped at step {step}; restore or delete {them} "
                f"(a sample with a file missing is left out), then {then or 'run the same command again'}"
            )
    return f"training stopped at step {step}: {first}" + (f"; {then}" if then else "")


class _StopAtStep:
    """Ctrl-C while training stops after the step in progress, with a checkpoint of it: an interrupt that lands
    inside TensorFlow (a checkpoint being written) surfaced as a RuntimeError traceback, and one between
    checkpoints lost the steps since the last. A second Ctrl-C stops at once."""

    def __init__(self, console) -> None:
        self.console = console
        self.asked = False

    def _handler(self, signum, frame) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        self.console.print("stopping after this step, with a checkpoint (Ctrl-C again to stop at once)")

    def __enter__(self) -> _StopAtStep:
        # SIGTERM too: a scheduler's stop, followed by a kill after a grace period of seconds, not a step's loss
        self._previous = {sig: signal.signal(sig, self._handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _note_a_size_change(config) -> None:
    """Samples synthesized smaller than --size are enlarged as they load, and a model trained on them learns to
    paint soft faces. Said once, from the dataset's config.json."""
    import json

    from unmask_cli.data import CONFIG

    try:
        made = json.loads((Path(config.data) / CONFIG).read_text()).get("size")
    except (OSError, ValueError, AttributeError):  # no config or another tool's file: the data decides silently
        return
    if isinstance(made, int) and made < config.size:  # shrinking loses nothing a model of that size could use
        ui.note(
            str(config.data),
            f"samples were made at {made}² and train enlarged to --size {config.size}: softer than data made at that "
            "size (`unmask synthesize --size`)",
        )


def _train(config, out: Path, resume: bool, max_steps: int | None, as_json: bool) -> None:
    from unmask_cli import training
    from unmask_cli.outputs import OutputPathError, check_writable_folder, remove_if_new

    out_was_there = out.exists()
    try:
        check_writable_folder(out)  # a file there, or a file on the way there, is one line
    except OutputPathError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    if resume and not (out / "run.json").is_file() and not (out.is_dir() and any(out.iterdir())):
        ui.note(str(out), "no run to resume there; starting a new one")  # (a folder of files is refused below)
    try:
        trainer = training.trainer(config, out, resume)
    except (training.ConfigMismatch, FileNotFoundError, ValueError, tf_errors().OpError) as exc:
        # an OpError here is a sample of the validation grid that does not decode
        ui.fail(_training_failure(config, 0, exc) if isinstance(exc, tf_errors().OpError) else str(exc))
        remove_if_new(out, out_was_there)
        raise typer.Exit(2) from None
    _note_a_size_change(config)
    if trainer.samples_changed:
        started, now = trainer.samples_changed
        ui.note(
            str(config.data),
            f"{now} training samples now, {started} when the run started: it goes on, in another data order than "
            "an uninterrupted run's",
        )
    not_samples, missing = trainer.left_out.get("not_samples", 0), trainer.left_out.get("files_missing", 0)
    if not_samples or missing:
        from unmask_cli.data import MANIFEST

        manifest = Path(config.data) / MANIFEST
        ui.note(
            str(manifest), f"left out {not_samples} lines that are no sample and {missing} samples with a file missing"
        )
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

        stop = _StopAtStep(bar.console)

        def on_step(step: int, total: int, losses: dict[str, float]) -> None:
            shown = " ".join(f"{k} {v:.3f}" for k, v in list(losses.items())[:4])
            bar.update(task, completed=step, status=shown)
            # a finished epoch's step goes on to its validation and grid first: a resume would not make them
            if stop.asked and step % trainer.steps_per_epoch:
                trainer.save()
                raise KeyboardInterrupt

        def on_epoch(epoch: int, val: dict[str, float]) -> None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in val.items())
            bar.console.print(f"epoch {epoch}: {shown}")
            if stop.asked:  # asked on an epoch's last step: its validation, grid and checkpoint are done now
                raise KeyboardInterrupt

        try:
            with stop:
                val = trainer.fit(on_step, on_epoch, max_steps=max_steps)
        except KeyboardInterrupt:
            bar.stop()
            ui.fail(f"interrupted at step {int(trainer.step.numpy())}; {_resume_hint(trainer, out)}")
            raise typer.Exit(130) from None
        except (tf_errors().OpError, OSError) as exc:  # a damaged sample, a full disk: one line, not a traceback
            bar.stop()
            ui.fail(_training_failure(config, int(trainer.step.numpy()), exc, _resume_hint(trainer, out)))
            raise typer.Exit(1) from None
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


@app.command("mask")
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
    bare_share: Annotated[
        float,
        typer.Option(
            help="Share of samples shown without their mask (target: nothing to replace); 0.03 trains the "
            "presence check (mask_gate.onnx), 0 the Mask G that segments.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    align_jitter: AlignJitterOpt = 0.0,
    hand_share: Annotated[
        float,
        typer.Option(
            help="Share of samples shown bare with a hand drawn over the mouth (target: nothing to replace): "
            "teaches the presence check that a hand held to the mouth is not a mask.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    hand_over_mask: Annotated[
        float,
        typer.Option(
            help="Share of samples with a hand drawn in front of the mask, left out of the target: a hand "
            "adjusting a mask keeps its fingers.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    harsh_light: HarshLightOpt = 0.0,
    bright_light: BrightLightOpt = 0.0,
    turned_share: TurnedShareOpt = 0.0,
    thin_loops: Annotated[
        float,
        typer.Option(
            help="Share of samples with thin ear loops drawn from the mask's sides to the ears, in white, blue, "
            "black or the mask's colour (target: mask and loops): real loops are 1-3 px lines that the styles' "
            "thick ones did not teach.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
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
        bare_share=bare_share,
        align_jitter=align_jitter,
        hand_share=hand_share,
        hand_over_mask=hand_over_mask,
        harsh_light=harsh_light,
        bright_light=bright_light,
        turned_share=turned_share,
        thin_loops=thin_loops,
    )
    _train(config, out, resume, max_steps, as_json)


@app.command("face")
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
    low_res: Annotated[
        float,
        typer.Option(
            help="Share of samples shrunk 2-4x and enlarged back (face and context alike): small faces in crowd "
            "photos reach Face G that blurred.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    align_jitter: AlignJitterOpt = 0.0,
    harsh_light: HarshLightOpt = 0.0,
    bright_light: BrightLightOpt = 0.0,
    turned_share: TurnedShareOpt = 0.0,
    wide_hole: Annotated[
        float,
        typer.Option(
            help="Share of holes grown sideways (2-12 px at 128²) and down past the mask: where a mask stands out "
            "past the cheek into the background, Face G must paint the jaw line and the background beyond it.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
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
        low_res=low_res,
        align_jitter=align_jitter,
        harsh_light=harsh_light,
        bright_light=bright_light,
        turned_share=turned_share,
        wide_hole=wide_hole,
    )
    _train(config, out, resume, max_steps, as_json)
