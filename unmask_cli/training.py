"""Training loops for Mask G and for Face G + Face D: checkpoints, resume, sample grids, metrics.jsonl.

A run folder holds everything (outside git):
```
RUN/run.json              the configuration (a resume must match it)
RUN/checkpoints/          tf.train.Checkpoint: weights, optimizer state and step; every N steps and every epoch
RUN/<model>.weights.h5    the latest generator weights, for export and for feeding Mask G into Face G training
RUN/samples/epoch_NNN.png sample grid after each epoch
RUN/metrics.jsonl         losses every `log_every` steps, validation metrics every epoch
```
The data order of an epoch is a seeded permutation, so a resume continues at the exact batch after the last
checkpoint: a kill -9 loses at most `checkpoint_every` steps and never a finished epoch.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from unmask_cli import data, metrics, model_card, models, pipelines
from unmask_cli.images import resolved, write_atomic, write_bytes_atomic
from unmask_cli.sheets import grid
from unmask_cli.ui import first_line

MASK_WEIGHTS = "mask_g.weights.h5"
FACE_WEIGHTS = "face_g.weights.h5"


@dataclass
class TrainConfig:
    kind: str  # "mask" or "face"
    data: str
    size: int = 128
    batch: int = 4
    epochs: int = 10
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    width: int | None = None  # base filters; model default when None
    val_fraction: float = 0.05
    steps_per_epoch: int | None = None  # cap (default: the whole training split)
    checkpoint_every: int = 500
    log_every: int = 50
    val_samples: int = 256
    strategy: str = "default"
    lr_decay_epochs: int = 0  # pix2pix-style: lr falls linearly to 0 over the last N epochs (0: constant)
    init: str | None = None  # exported fp32 ONNX generator whose weights a new run starts from
    # Mask G only
    bare_share: float = 0.0  # share of training samples shown without their mask (target: empty)
    align_jitter: float = 0.0  # share of training samples shifted, scaled and turned a little
    hand_share: float = 0.0  # share of training samples shown bare with a hand over the mouth (target: empty)
    hand_over_mask: float = 0.0  # share of training samples with a hand in front of the mask (target: the rest)
    harsh_light: float = 0.0  # share of training samples lit by coloured, dim or one-sided light (both models)
    bright_light: float = 0.0  # share of training samples over-exposed, face and mask alike (both models)
    turned_share: float = 0.0  # turned faces repeated until they make up this share of the training samples (both)
    thin_loops: float = 0.0  # share of training samples with thin ear loops drawn, the target taking them in
    # Face G only
    low_res: float = 0.0  # share of training samples blurred as a small face enlarged to the crop
    wide_hole: float = 0.0  # share of training holes grown sideways and down past the drawn mask (`widen_holes`)
    mask_source: str = "gt"  # "gt": the synthesized mask; "mask_g": Mask G's prediction (original recipe)
    mask_run: str | None = None  # run folder of a trained Mask G, for mask_source=mask_g
    l1_hole: float = 10.0
    l1_valid: float = 1.0
    ssim_weight: float = 2.0
    adv_weight: float = 1.0
    fm_weight: float = 10.0
    d_warmup: int = 0  # first N steps train only the critics: with --init a fresh critic first learns to judge G
    extra: dict[str, Any] = field(default_factory=dict)


class ConfigMismatch(ValueError):
    pass


def scheduled_lr(lr: float, step: int, total: int, decay: int) -> float:
    """Constant `lr` until `total - decay` steps, then linearly down to 0 at `total` (pix2pix's schedule)."""
    if decay <= 0:
        return lr
    return lr * min(1.0, max(0.0, (total - step) / decay))


def _strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()  # hosts and roles come from TF_CONFIG
    raise ValueError(f"unknown strategy '{name}' (default, mirrored, multiworker)")


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip((np.asarray(x) + 1) * 127.5, 0, 255).round().astype(np.uint8)


def _mask_uint8(m: np.ndarray) -> np.ndarray:
    return np.repeat((np.clip(np.asarray(m), 0, 1) * 255).round().astype(np.uint8), 3, axis=-1)


def dice_loss(truth, prob):
    """Per-example soft Dice loss."""
    inter = tf.reduce_sum(truth * prob, axis=[1, 2, 3])
    total = tf.reduce_sum(truth, axis=[1, 2, 3]) + tf.reduce_sum(prob, axis=[1, 2, 3])
    return 1.0 - (2.0 * inter + 1.0) / (total + 1.0)


def noisy_input(masked, mask, seed):
    """The generator's input: uniform noise in [-1, 1] where the mask is, the image elsewhere; mask appended."""
    noise = tf.random.stateless_uniform(tf.shape(masked), seed, -1.0, 1.0)
    return tf.concat([masked * (1 - mask) + noise * mask, mask], axis=-1)


WIDE_HOLE_PX = (2, 12)  # at 128²: how far a widened hole reaches past the mask on each side (down: half as far)


def widen_holes(hole, seed, share: float):
    """`share` of the N×S×S×1 holes grown sideways by 2–12 px at 128² (scaled with S) and down by half that. Where
    a real mask stands out past the cheek into the background, Mask G marks all of it and Face G paints a face as
    wide as the mask; in a widened hole it must find where the jaw ends from the face above and paint background
    beyond it. (Over whole sets, real masks stand out no more than the drawn ones: model card, session 17.)"""
    size = hole.shape[1]
    lo, hi = (max(1, round(px * size / 128)) for px in WIDE_HOLE_PX)
    n = tf.shape(hole)[0]
    picks = tf.random.stateless_uniform([n], seed, 0.0, 1.0)
    reach = tf.random.stateless_uniform([n], seed + 1, lo, hi + 1, tf.int32)
    grown = [hole]
    for px in range(lo, hi + 1):
        side = tf.nn.max_pool2d(hole, [1, 2 * px + 1], 1, "SAME")
        down = px // 2
        shifted = tf.pad(side, [[0, 0], [down, 0], [0, 0], [0, 0]])[:, :size]  # the same region, `down` px lower
        grown.append(tf.maximum(side, shifted))
    choice = tf.where(picks < share, reach - lo + 1, 0)
    return tf.gather(tf.stack(grown, axis=1), choice, batch_dims=1)


class Trainer:
    """Shared loop: data, checkpoints, resume, progress callbacks, grids and metrics."""

    weights_name = ""

    def __init__(self, config: TrainConfig, run_dir: Path, resume: bool = False):
        self.config = config
        self.run_dir = Path(run_dir)
        self._run_json: dict = {}  # run.json as a resume found it, and the settings it resumes with
        self._resumed_with: dict = {}
        self.samples_changed: tuple[int, int] | None = None  # (training samples when the run started, now)
        _check_not_foreign(self.run_dir)
        if resume and (self.run_dir / "run.json").is_file():  # a resume that does not match is refused before
            self._check_run(resume)  # anything is loaded (--resume where there is no run starts one, below)
        if config.seed is not None:
            keras.utils.set_random_seed(config.seed)
        self.strategy = _strategy(config.strategy)
        self.left_out: dict[str, int] = {}  # manifest lines that are no sample, samples with a file missing
        self.train_records, self.val_records = pipelines.load_split(
            Path(config.data), config.val_fraction, self.left_out
        )
        self.train_records = pipelines.oversample_turned(self.train_records, config.turned_share)
        # the data order is a seeded permutation of these: a dataset grown (or shrunk) since the run started is
        # resumed, but not at "the exact batch" any more; said (`samples_changed`) and recorded in run.json
        recorded = self._run_json.get("train_samples")
        if isinstance(recorded, int) and recorded != len(self.train_records):
            self.samples_changed = (recorded, len(self.train_records))
        if not self.val_records:
            self.val_records = self.train_records[: max(1, len(self.train_records) // 20)]
        full = len(self.train_records) // config.batch
        if full == 0:
            raise ValueError(f"{config.data}: fewer training samples ({len(self.train_records)}) than one batch")
        self.steps_per_epoch = min(full, config.steps_per_epoch or full)
        with self.strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.build()
        # Dropout's random state lives in Keras seed generators, which tf.train.Checkpoint does not see through
        # the model: save it explicitly so a resumed run continues the same random stream.
        rng_states = [
            v.value
            for obj in self.trackables().values()
            if isinstance(obj, keras.Model)
            for v in obj.non_trainable_variables
            if "seed_generator" in v.path
        ]
        self.checkpoint = tf.train.Checkpoint(step=self.step, rng_states=rng_states, **self.trackables())
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.run_dir / "checkpoints", max_to_keep=3)
        init_summary = None
        # a damaged `checkpoint` state file hides the checkpoints from the manager: the newest file still resumes
        latest = self.manager.latest_checkpoint or newest_checkpoint(self.run_dir / "checkpoints")
        if resume and latest is None and (self.run_dir / self.weights_name).is_file():
            raise ValueError(
                f"{self.run_dir / 'checkpoints'}: no checkpoint to resume from, though the run has trained (its "
                f"{self.weights_name} is left as it is: export it and start a new run with --init from the export)"
            )
        if resume and latest:
            try:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            except (tf.errors.OpError, IndexError, ValueError, AssertionError) as exc:
                raise ValueError(
                    f"{latest}: damaged checkpoint ({first_line(exc)}); move its files out of {Path(latest).parent} to "
                    "resume from the one before it"
                ) from None
            done, planned = int(self.step.numpy()), config.epochs * self.steps_per_epoch
            if done > planned:  # run.json would say fewer epochs than the weights have had
                raise ConfigMismatch(
                    f"{self.run_dir} has trained {done} steps ({done / self.steps_per_epoch:g} epochs); --epochs "
                    f"{config.epochs} ends before that: give at least {math.ceil(done / self.steps_per_epoch)}"
                )
        elif config.init:  # checkpoints stay outside git: the shipped ONNX model is where a fresh machine starts
            from unmask_cli.onnx_weights import load_onnx_weights

            load_onnx_weights(self.generator(), Path(config.init))
            # what the init model was, now: `unmask export` reads it from here, as the file at that path (the shipped
            # model in exported/) is often replaced by this very run's export
            init_summary = model_card.init_summary(Path(config.init))
        self.grid_batch = self._grid_batch()  # decodes samples: a damaged one stops the start before run.json
        if not resume or not self._run_json:  # a new run's run.json, only once data, models and init have loaded:
            self._check_run(resume)  # a start that fails leaves no run behind
        elif (resumed := self._resumed_run_json()) is not None:
            write_bytes_atomic(self.run_dir / "run.json", json.dumps(resumed, indent=2).encode())
        if init_summary is not None:
            write_bytes_atomic(self.run_dir / model_card.INIT_FROM_FILE, (init_summary + "\n").encode())

    # -- subclasses --------------------------------------------------------------------------------------------
    def build(self) -> None: ...
    def trackables(self) -> dict[str, Any]: ...
    def train_step(self, masked, mask, clean) -> dict[str, tf.Tensor]: ...
    def validate(self) -> dict[str, float]: ...
    def grid_rows(self, masked, mask, clean) -> list[list[np.ndarray]]: ...
    def generator(self) -> keras.Model: ...

    # -- loop --------------------------------------------------------------------------------------------------
    def set_learning_rate(self, step: int) -> float:
        """Assign the schedule's rate to every optimizer: a variable, so checkpoints keep their layout."""
        cfg = self.config
        lr = scheduled_lr(cfg.lr, step, cfg.epochs * self.steps_per_epoch, cfg.lr_decay_epochs * self.steps_per_epoch)
        for obj in self.trackables().values():
            if isinstance(obj, keras.optimizers.Optimizer):
                obj.learning_rate.assign(lr)
        return lr

    def _check_run(self, resume: bool) -> None:
        path = self.run_dir / "run.json"
        wanted = asdict(self.config)
        # the data as given, and where that was: a relative path means another folder from another directory
        wanted["data_resolved"] = str(resolved(wanted["data"]))
        if path.is_file():
            if not resume:
                raise ConfigMismatch(f"{self.run_dir} already holds a run: pass --resume, or choose a new --out")
            try:
                have = json.loads(path.read_text())
                if not isinstance(have, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}: damaged run description ({exc})") from None
            # what fixes the data order and the models' shapes; runs from before a key existed had its default
            keys = (
                "kind", "size", "batch", "width", "seed", "data", "val_fraction", "mask_source", "turned_share",
                "steps_per_epoch",  # where each epoch ends: another value would skip or repeat batches
            )  # fmt: skip
            defaults = asdict(TrainConfig(kind="", data=""))
            have = {k: have.get(k, defaults[k]) for k in keys} | have
            # runs from before data_resolved: their data path resolved from here, as before
            started = have.get("data_resolved") or str(resolved(have["data"]))
            if started == wanted["data_resolved"]:  # the same data named another way (relative, absolute, a link)
                wanted["data"], wanted["data_resolved"] = have["data"], started
            diff = [f"{k}={have[k]} (now {wanted[k]})" for k in keys if k != "data" and have[k] != wanted[k]]
            if started != wanted["data_resolved"]:
                diff.insert(0, f"data={started} (now {wanted['data_resolved']})")
            if diff:
                raise ConfigMismatch(f"{self.run_dir} was started with {', '.join(diff)}")
            self._run_json, self._resumed_with = have, wanted  # written once the data and checkpoint have loaded
        else:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            wanted["train_samples"] = len(self.train_records)  # a new run's check comes once the data has loaded
            write_bytes_atomic(path, json.dumps(wanted, indent=2).encode())

    def _resumed_run_json(self) -> dict | None:
        """run.json as this resume leaves it, or None where nothing changed. It says what the run now is (more
        --epochs to extend a finished run, a new --lr, a dataset that grew: `train_samples`) and its `history` keeps
        what the earlier steps, up to the checkpoint's, were trained with (a resume wrote over them)."""
        have = dict(self._run_json)
        history = have.pop("history", [])
        wanted = {**self._resumed_with, "train_samples": len(self.train_records)}
        if have == wanted:
            return None
        # keys a run from before them lacks are filled in, and are no change
        changed = {k: have[k] for k in wanted if k in have and have[k] != wanted[k]}
        if changed:
            history = [*history, {"until_step": int(self.step.numpy()), "changed": changed}]
        return wanted | ({"history": history} if history else {})

    def _grid_batch(self, n: int = 6):
        ds = pipelines.dataset(Path(self.config.data), self.val_records[:n], self.config.size, n, 0, 0, training=False)
        return next(iter(ds))

    def _log(self, record: dict[str, Any]) -> None:
        data.append_jsonl(self.run_dir / "metrics.jsonl", [record])

    def save(self) -> str:
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        weights = self.run_dir / self.weights_name
        tmp = weights.with_name(f".{weights.name}.tmp.weights.h5")
        self.generator().save_weights(tmp)
        os.replace(tmp, weights)  # atomic: export never sees half a file
        return path

    def write_grid(self, epoch: int) -> Path:
        rows = self.grid_rows(*self.grid_batch)
        labels = self.grid_labels
        sheet = grid(list(map(list, zip(*rows, strict=True))), cell=max(64, self.config.size), col_labels=labels)
        path = self.run_dir / "samples" / f"epoch_{epoch:03d}.png"
        write_atomic(path, sheet)
        return path

    def fit(
        self,
        on_step: Callable[[int, int, dict[str, float]], None] | None = None,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        max_steps: int | None = None,
    ) -> dict[str, float]:
        """Train until `epochs` are done (or `max_steps` more steps, for tests and short runs)."""
        cfg = self.config
        total = cfg.epochs * self.steps_per_epoch
        step_fn = tf.function(self._distributed_step, reduce_retracing=True)
        last_val: dict[str, float] = {}
        stop_at = total if max_steps is None else min(total, int(self.step.numpy()) + max_steps)
        # the optimizers' rate is a variable their checkpoint restores: a run resumed with a new --lr runs at it
        self.set_learning_rate(int(self.step.numpy()))
        while int(self.step.numpy()) < stop_at:
            step = int(self.step.numpy())
            epoch, offset = divmod(step, self.steps_per_epoch)
            ds = pipelines.dataset(
                Path(cfg.data),
                self.train_records,
                cfg.size,
                cfg.batch,
                cfg.seed,
                epoch,
                skip_batches=offset,
                strong_augment=self.strong_augment,
                bare_share=cfg.bare_share if cfg.kind == "mask" else 0.0,
                align_jitter=cfg.align_jitter,
                hand_share=cfg.hand_share if cfg.kind == "mask" else 0.0,
                hand_over_mask=cfg.hand_over_mask if cfg.kind == "mask" else 0.0,
                harsh_light=cfg.harsh_light,
                bright_light=cfg.bright_light,
                thin_loops=cfg.thin_loops if cfg.kind == "mask" else 0.0,
                low_res=cfg.low_res if cfg.kind == "face" else 0.0,
            )
            ds = ds.take(self.steps_per_epoch - offset)
            dist = self.strategy.experimental_distribute_dataset(ds)
            started, window, lr = time.perf_counter(), [], cfg.lr
            for batch in dist:
                if cfg.lr_decay_epochs or step <= cfg.d_warmup:
                    lr = self.set_learning_rate(step)
                losses = {k: float(v) for k, v in step_fn(*batch).items()}
                self.step.assign_add(1)
                step = int(self.step.numpy())
                window.append(losses)
                if on_step:
                    on_step(step, total, losses)
                if step % cfg.log_every == 0:
                    mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                    elapsed = time.perf_counter() - started
                    self._log(
                        {
                            "step": step,
                            "epoch": epoch,
                            **mean,
                            "sec_per_step": elapsed / len(window),
                            "lr": lr,
                            "time": time.time(),
                        }
                    )
                    started, window = time.perf_counter(), []
                if step % cfg.checkpoint_every == 0:
                    self.save()
                if step >= stop_at:
                    break
            if step % self.steps_per_epoch == 0:  # a finished epoch: validate, grid, checkpoint
                last_val = self.validate()
                grid_path = self.write_grid(epoch + 1)
                self.save()
                self._log(
                    {
                        "step": step,
                        "epoch": epoch + 1,
                        "validation": last_val,
                        "grid": str(grid_path),
                        "time": time.time(),
                    }
                )
                if on_epoch:
                    on_epoch(epoch + 1, last_val)
        self.save()
        return last_val

    def _distributed_step(self, masked, mask, clean):
        per_replica = self.strategy.run(self.train_step, args=(masked, mask, clean))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.config.batch)

    def predict_batches(self, fn: Callable, limit: int | None = None):
        """Run `fn(masked, mask, clean)` over the validation split; yields NumPy results per batch."""
        records = self.val_records[: limit or self.config.val_samples]
        ds = pipelines.dataset(Path(self.config.data), records, self.config.size, 16, 0, 0, training=False)
        for masked, mask, clean in ds:
            yield masked.numpy(), mask.numpy(), clean.numpy(), fn(masked, mask, clean)


class MaskTrainer(Trainer):
    """Mask G: BCE + Dice; validation IoU and Dice at threshold 0.5."""

    weights_name = MASK_WEIGHTS
    strong_augment = True
    grid_labels = ("masked", "predicted mask", "overlay", "true mask")

    def build(self) -> None:
        cfg = self.config
        self.model = models.mask_g(cfg.size, **({"width": cfg.width} if cfg.width else {}))
        self.optimizer = keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta1)
        self.optimizer.build(self.model.trainable_variables)

    def trackables(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def generator(self):
        return self.model

    def train_step(self, masked, mask, clean):
        with tf.GradientTape() as tape:
            prob = self.model(masked, training=True)
            bce = tf.reduce_mean(keras.losses.binary_crossentropy(mask, prob), axis=[1, 2])
            dl = dice_loss(mask, prob)
            loss = self._average(bce + dl)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply(grads, self.model.trainable_variables)
        return {"loss": loss, "bce": self._average(bce), "dice": self._average(dl)}

    def validate(self) -> dict[str, float]:
        ious, dices = [], []
        for _, mask, _, prob in self.predict_batches(lambda m, k, c: self.model(m, training=False).numpy()):
            for p, t in zip(prob > 0.5, mask > 0.5, strict=True):
                ious.append(metrics.iou(p, t))
                dices.append(metrics.dice(p, t))
        return {"iou": float(np.mean(ious)), "dice": float(np.mean(dices)), "samples": len(ious)}

    def grid_rows(self, masked, mask, clean):
        prob = self.model(masked, training=False).numpy()
        image = _to_uint8(masked.numpy())
        overlay = image.copy()
        overlay[..., 0] = np.where(prob[..., 0] > 0.5, 255, overlay[..., 0])
        return [list(image), list(_mask_uint8(prob)), list(overlay), list(_mask_uint8(mask.numpy()))]


class FaceTrainer(Trainer):
    """Face G + global and local Face D: hinge GAN with L1 (hole weighted up), SSIM and feature matching."""

    weights_name = FACE_WEIGHTS
    strong_augment = False
    grid_labels = ("masked", "mask used", "restored", "truth")

    def build(self) -> None:
        cfg = self.config
        kw = {"width": cfg.width} if cfg.width else {}
        self.g = models.face_g(cfg.size, **kw)
        self.d_global, self.d_local = models.face_d(cfg.size, **kw)
        self.g_opt = keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta1)
        self.d_opt = keras.optimizers.Adam(cfg.lr, beta_1=cfg.beta1)
        self.g_opt.build(self.g.trainable_variables)
        self.d_opt.build(self.d_global.trainable_variables + self.d_local.trainable_variables)
        self.window = models.local_window(cfg.size)
        self.mask_model = None
        if cfg.mask_source == "mask_g":
            if not cfg.mask_run:
                raise ValueError("--mask-source mask_g needs --mask-run (a `unmask train mask` run folder)")
            mask_json = Path(cfg.mask_run) / "run.json"
            if not mask_json.is_file():
                raise FileNotFoundError(f"{cfg.mask_run}: not a `unmask train mask` run folder (no run.json)")
            try:
                mask_cfg = json.loads(mask_json.read_text())
                mask_kw = {"width": mask_cfg["width"]} if mask_cfg.get("width") else {}
            except (ValueError, UnicodeDecodeError, TypeError, AttributeError) as exc:
                raise ValueError(f"{mask_json}: damaged run description ({exc})") from None
            if mask_cfg.get("kind", "mask") != "mask" or mask_cfg.get("size", cfg.size) != cfg.size:
                kind, size = mask_cfg.get("kind"), mask_cfg.get("size")
                raise ValueError(f"{cfg.mask_run}: a {kind} run of size {size}, not a Mask G run of size {cfg.size}")
            self.mask_model = models.mask_g(cfg.size, **mask_kw)
            try:
                self.mask_model.load_weights(Path(cfg.mask_run) / MASK_WEIGHTS)
            except (OSError, ValueError) as exc:
                first = first_line(exc)
                raise ValueError(f"{Path(cfg.mask_run) / MASK_WEIGHTS}: cannot load these weights ({first})") from None
            self.mask_model.trainable = False
        elif cfg.mask_source != "gt":
            raise ValueError(f"unknown mask source '{cfg.mask_source}' (gt, mask_g)")

    def trackables(self):
        return {
            "g": self.g,
            "d_global": self.d_global,
            "d_local": self.d_local,
            "g_opt": self.g_opt,
            "d_opt": self.d_opt,
        }

    def generator(self):
        return self.g

    def set_learning_rate(self, step: int) -> float:
        lr = super().set_learning_rate(step)
        if step < self.config.d_warmup:  # the generator holds still while its new critic catches up
            self.g_opt.learning_rate.assign(0.0)
        return lr

    def hole_mask(self, masked, mask):
        """The region Face G must fill: the synthesized mask, or what Mask G finds (grown by 1 px)."""
        if self.mask_model is None:
            return mask
        prob = self.mask_model(masked, training=False)
        return tf.nn.max_pool2d(tf.cast(prob > 0.5, tf.float32), 3, 1, "SAME")

    def _crop(self, x):
        top, bottom, left, right = self.window
        return x[:, top:bottom, left:right, :]

    def _critics(self, image, mask):
        pair = tf.concat([image, mask], axis=-1)
        return self.d_global(pair, training=True), self.d_local(self._crop(pair), training=True)

    def generate(self, masked, mask, seed, training: bool):
        raw = self.g(noisy_input(masked, mask, seed), training=training)
        return raw, models.composite(raw, masked, mask)

    def train_step(self, masked, mask, clean):
        cfg = self.config
        hole = self.hole_mask(masked, mask)
        seed = tf.stack([tf.cast(cfg.seed, tf.int64), self.step])
        if cfg.wide_hole > 0:
            hole = widen_holes(hole, seed + tf.constant([7919, 0], tf.int64), cfg.wide_hole)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            raw, comp = self.generate(masked, hole, seed, training=True)
            (real_g, *real_gf), (real_l, *real_lf) = self._critics(clean, hole)
            (fake_g, *fake_gf), (fake_l, *fake_lf) = self._critics(comp, hole)
            axes = [1, 2, 3]
            d_loss = (
                sum(
                    tf.reduce_mean(tf.nn.relu(1 - real), axes) + tf.reduce_mean(tf.nn.relu(1 + fake), axes)
                    for real, fake in ((real_g, fake_g), (real_l, fake_l))
                )
                / 2
            )
            adv = -(tf.reduce_mean(fake_g, axes) + tf.reduce_mean(fake_l, axes)) / 2
            fm = sum(
                tf.reduce_mean(tf.abs(tf.stop_gradient(r) - f), axes)
                for r, f in zip(real_gf + real_lf, fake_gf + fake_lf, strict=True)
            ) / len(real_gf + real_lf)
            err = tf.abs(raw - clean)
            hole_px = tf.reduce_sum(hole, axes) * 3 + 1.0
            l1_hole = tf.reduce_sum(err * hole, axes) / hole_px
            l1_valid = tf.reduce_mean(err * (1 - hole), axes)
            ssim = tf.image.ssim((comp + 1) / 2, (clean + 1) / 2, max_val=1.0)
            g_per = (
                cfg.l1_hole * l1_hole
                + cfg.l1_valid * l1_valid
                + cfg.ssim_weight * (1 - ssim)
                + cfg.adv_weight * adv
                + cfg.fm_weight * fm
            )
            g_loss = self._average(g_per)
            d_loss_avg = self._average(d_loss)
        g_vars = self.g.trainable_variables
        d_vars = self.d_global.trainable_variables + self.d_local.trainable_variables
        self.g_opt.apply(g_tape.gradient(g_loss, g_vars), g_vars)
        self.d_opt.apply(d_tape.gradient(d_loss_avg, d_vars), d_vars)
        return {
            "g": g_loss,
            "d": d_loss_avg,
            "l1_hole": self._average(l1_hole),
            "adv": self._average(adv),
            "fm": self._average(fm),
            "ssim": self._average(ssim),
        }

    def restore(self, masked, mask):
        """Inference: (mask used, composite) for a batch, with a fixed noise seed."""
        hole = self.hole_mask(masked, mask)
        _, comp = self.generate(masked, hole, tf.constant([0, 0], tf.int64), training=False)
        return hole, comp

    def validate(self) -> dict[str, float]:
        outs, truths, regions = [], [], []
        for _, _, clean, (hole, comp) in self.predict_batches(
            lambda m, k, c: tuple(t.numpy() for t in self.restore(m, k))
        ):
            outs += list(_to_uint8(comp))
            truths += list(_to_uint8(clean))
            regions += list(hole[..., 0] > 0.5)
        return metrics.region_scores(outs, truths, regions)

    def grid_rows(self, masked, mask, clean):
        hole, comp = self.restore(masked, mask)
        return [
            list(_to_uint8(masked.numpy())),
            list(_mask_uint8(hole.numpy())),
            list(_to_uint8(comp.numpy())),
            list(_to_uint8(clean.numpy())),
        ]


def newest_checkpoint(folder: Path) -> str | None:
    """The checkpoint with the highest step among `folder`'s `ckpt-N.index` files (what the manager's state file
    would name), or None."""
    steps = []
    for index in Path(folder).glob("ckpt-*.index"):
        number = index.name[len("ckpt-") : -len(".index")]
        if number.isdigit():
            steps.append(int(number))
    return str(Path(folder) / f"ckpt-{max(steps)}") if steps else None


def _check_not_foreign(run_dir: Path) -> None:
    """A run folder is this run's: an existing folder that holds files but no run.json is the user's (their own
    samples/, a weights file of the same name), and a run would write over and append to them."""
    if (run_dir / "run.json").is_file() or not run_dir.is_dir():
        return
    if any(run_dir.iterdir()):
        raise ConfigMismatch(
            f"{run_dir}: holds files and no run (no run.json); choose a new or an empty --out, or restore its run.json"
            " to resume it"
        )


def trainer(config: TrainConfig, run_dir: Path, resume: bool = False) -> Trainer:
    return {"mask": MaskTrainer, "face": FaceTrainer}[config.kind](config, run_dir, resume)
