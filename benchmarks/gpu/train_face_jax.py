"""Face G + Face D training on a GPU through Keras's JAX backend, time-boxed.

Why this exists: the GPU machine this project is sometimes lent has JAX but no TensorFlow, and TensorFlow's GPU
wheels are far larger than what one call may carry. The models are the same Keras builders (`unmask_cli.models`)
and the losses are `FaceTrainer.train_step`'s (hinge GAN on the global and local critics, feature matching, L1
weighted up in the hole, 1 − SSIM of the composite); only the step is written for JAX (`stateless_call`,
`value_and_grad`). The data comes from `pack_face_data.py` and lives on the GPU whole; augmentation (flip,
brightness, contrast, saturation) runs there too.

The run is time-boxed (`--minutes`) and its schedule runs on the clock: the learning rate stays constant, then falls
linearly to 0 over the last `--decay` fraction of the time (pix2pix's schedule, by time rather than steps because a
second run sharing the GPU changes the step time). With --max-steps the same schedule runs on steps instead, for a
run to be repeated on other hardware (the shipped fine-tune: 33,600 steps).
Weights are written atomically every `--save-every` seconds (chunked .npz of `get_weights()`, each file under
16 MiB), so a run stopped at any moment leaves the last saved generator behind.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import jax
import jax.numpy as jnp
import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from unmask_cli import metrics, models
from unmask_cli.onnx_weights import load_onnx_weights
from unmask_cli.sheets import grid
from unmask_cli.weight_chunks import load_chunks, save_chunks


def load_packs(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Clean crops (N×S×S×3 RGB uint8) and holes (N×K×S×S uint8 0/1, K draws of masks per face) from
    `pack_face_data.py` files (packs from before several draws have one hole per face: K = 1)."""
    images, holes = [], []
    with ThreadPoolExecutor(os.cpu_count() or 4) as pool:
        for path in paths:
            pack = np.load(path)
            raw, offsets, size = pack["webp"], pack["offsets"], int(pack["size"])
            blobs = [raw[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            decoded = list(
                pool.map(lambda b: cv2.cvtColor(cv2.imdecode(b, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), blobs)
            )
            images.append(np.stack(decoded))
            unpacked = np.unpackbits(pack["holes"], axis=-1, count=size)
            holes.append(unpacked[:, None] if unpacked.ndim == 3 else unpacked)
    return np.concatenate(images), np.concatenate(holes)


def ssim(a, b):
    """Per-image SSIM of [0, 1] NHWC batches, as tf.image.ssim (11×11 Gaussian σ 1.5, valid, K1 0.01, K2 0.03)."""
    x = jnp.arange(11, dtype=jnp.float32) - 5
    g = jnp.exp(-(x**2) / (2 * 1.5**2))
    g = g / g.sum()
    channels = a.shape[-1]
    kernel = jnp.tile((g[:, None] * g[None, :])[:, :, None, None], (1, 1, 1, channels))

    def blur(t):
        return jax.lax.conv_general_dilated(
            t, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=channels
        )

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    lum = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    return jnp.mean(lum * cs, axis=(1, 2, 3))


def gaussian_blur(images, sigma: float = 1.0):
    """Separable Gaussian blur of NHWC images, edges reflected (the same size out)."""
    radius = int(3 * sigma)
    x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    g = jnp.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    channels = images.shape[-1]
    padded = jnp.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="reflect")
    dims = ("NHWC", "HWIO", "NHWC")
    rows = jnp.tile(g[:, None, None, None], (1, 1, 1, channels))
    cols = jnp.tile(g[None, :, None, None], (1, 1, 1, channels))

    def conv(t, kernel):
        return jax.lax.conv_general_dilated(
            t, kernel, (1, 1), "VALID", dimension_numbers=dims, feature_group_count=channels
        )

    return conv(conv(padded, rows), cols)


def augment(key, clean, hole, sharpness: float = 0.0):
    """Same flip on face and hole; colour change on the face. clean in [0, 1] N×S×S×3, hole N×S×S×1.

    With probability `sharpness` a face is also sharpened (unsharp mask, up to 2× its detail) or softened (down to
    half): the training crops are small JPEGs, softer than the photos users bring, and a generator that has only
    seen soft faces paints soft fills into sharp ones; with varied sharpness it has to read the level from the
    face around the hole.
    """
    n = clean.shape[0]
    k = jax.random.split(key, 6)
    flip = jax.random.uniform(k[0], (n, 1, 1, 1)) < 0.5
    clean = jnp.where(flip, clean[:, :, ::-1], clean)
    hole = jnp.where(flip, hole[:, :, ::-1], hole)
    delta = jax.random.uniform(k[1], (n, 1, 1, 1), minval=-0.12, maxval=0.12)
    contrast = jax.random.uniform(k[2], (n, 1, 1, 1), minval=0.8, maxval=1.2)
    saturation = jax.random.uniform(k[3], (n, 1, 1, 1), minval=0.75, maxval=1.25)
    clean = clean + delta
    mean = clean.mean(axis=(1, 2), keepdims=True)
    clean = (clean - mean) * contrast + mean
    gray = (clean * jnp.array([0.299, 0.587, 0.114])).sum(-1, keepdims=True)
    clean = jnp.clip(gray + (clean - gray) * saturation, 0.0, 1.0)
    if sharpness > 0:
        amount = jax.random.uniform(k[4], (n, 1, 1, 1), minval=-0.5, maxval=1.0)
        amount = jnp.where(jax.random.uniform(k[5], (n, 1, 1, 1)) < sharpness, amount, 0.0)
        clean = jnp.clip(clean + amount * (clean - gaussian_blur(clean)), 0.0, 1.0)
    return clean, hole


class FaceGan:
    def __init__(self, args):
        self.args = args
        self.g = models.face_g(args.size, args.width)
        self.dg, self.dl = models.face_d(args.size, args.width)
        if args.init and args.init.suffix == ".onnx":  # the shipped model itself: the repo travels with it
            load_onnx_weights(self.g, args.init)
        elif args.init and args.init.is_dir():  # an earlier GPU run's weights_*.npz (fp16 copies travel at half size)
            self.g.set_weights(load_chunks(args.init, np.float32))
        elif args.init:
            self.g.load_weights(args.init)
        self.g_opt = keras.optimizers.Adam(args.lr, beta_1=0.5)
        self.d_opt = keras.optimizers.Adam(args.lr, beta_1=0.5)
        self.g_opt.build(self.g.trainable_variables)
        d_vars = self.dg.trainable_variables + self.dl.trainable_variables
        self.d_opt.build(d_vars)
        self.n_dg = len(self.dg.trainable_variables)
        self.lr_index = {
            name: next(i for i, v in enumerate(opt.variables) if v.name == "learning_rate")
            for name, opt in (("g", self.g_opt), ("d", self.d_opt))
        }
        self.window = models.local_window(args.size)
        self.d_ntv = (
            [v.value for v in self.dg.non_trainable_variables],
            [v.value for v in self.dl.non_trainable_variables],
        )

    def state(self):
        return {
            "g_tv": [v.value for v in self.g.trainable_variables],
            "g_ntv": [v.value for v in self.g.non_trainable_variables],
            "d_tv": [v.value for v in self.dg.trainable_variables + self.dl.trainable_variables],
            "g_opt": [v.value for v in self.g_opt.variables],
            "d_opt": [v.value for v in self.d_opt.variables],
            "ema": [jnp.array(v.value) for v in self.g.trainable_variables],
        }

    def write_back(self, state, ema: bool = False) -> None:
        for v, value in zip(self.g.trainable_variables, state["ema" if ema else "g_tv"], strict=True):
            v.assign(value)
        for v, value in zip(self.g.non_trainable_variables, state["g_ntv"], strict=True):
            v.assign(value)

    def critics(self, d_tv, image, hole):
        pair = jnp.concatenate([image, hole], axis=-1)
        top, bottom, left, right = self.window
        out_g, _ = self.dg.stateless_call(d_tv[: self.n_dg], self.d_ntv[0], pair, training=True)
        out_l, _ = self.dl.stateless_call(
            d_tv[self.n_dg :], self.d_ntv[1], pair[:, top:bottom, left:right], training=True
        )
        return out_g, out_l

    def g_loss(self, g_tv, g_ntv, d_tv, clean, hole, noise):
        a = self.args
        x = jnp.concatenate([clean * (1 - hole) + noise * hole, hole], axis=-1)
        raw, g_ntv = self.g.stateless_call(g_tv, g_ntv, x, training=True)
        comp = raw * hole + clean * (1 - hole)
        (_, *real_gf), (_, *real_lf) = self.critics(d_tv, clean, hole)
        (fake_g, *fake_gf), (fake_l, *fake_lf) = self.critics(d_tv, comp, hole)
        axes = (1, 2, 3)
        adv = -(fake_g.mean(axes) + fake_l.mean(axes)) / 2
        pairs = list(zip(real_gf + real_lf, fake_gf + fake_lf, strict=True))
        fm = sum(jnp.abs(jax.lax.stop_gradient(r) - f).mean(axes) for r, f in pairs) / len(pairs)
        err = jnp.abs(raw - clean)
        l1_hole = (err * hole).sum(axes) / (hole.sum(axes) * 3 + 1.0)
        l1_valid = (err * (1 - hole)).mean(axes)
        s = ssim((comp + 1) / 2, (clean + 1) / 2)
        per = a.l1_hole * l1_hole + a.l1_valid * l1_valid + a.ssim_weight * (1 - s) + a.adv_weight * adv
        per = per + a.fm_weight * fm
        logs = {"l1_hole": l1_hole.mean(), "adv": adv.mean(), "fm": fm.mean(), "ssim": s.mean()}
        return per.mean(), (g_ntv, comp, logs)

    def d_loss(self, d_tv, clean, comp, hole):
        (real_g, *_), (real_l, *_) = self.critics(d_tv, clean, hole)
        (fake_g, *_), (fake_l, *_) = self.critics(d_tv, comp, hole)
        axes = (1, 2, 3)
        hinge = [
            jax.nn.relu(1 - r).mean(axes) + jax.nn.relu(1 + f).mean(axes)
            for r, f in ((real_g, fake_g), (real_l, fake_l))
        ]
        return (sum(hinge) / 2).mean()

    def make_step(self):
        # the faces are arguments, not constants closed over: XLA would embed a closed-over 1 GB array in the
        # program, and compiling it took ~55 s longer with every UTKFace face than with a third of them (session 20)
        def step(state, images, holes, key, index, lr, g_lr):
            k_aug, k_noise, k_pick, k_swap, k_draw = jax.random.split(key, 5)
            clean = images[index].astype(jnp.float32) / 255.0
            # one of the face's own holes (one per synthesized draw), chosen afresh each time the face comes up
            draw = jax.random.randint(k_draw, index.shape, 0, holes.shape[1])
            hole = holes[index, draw].astype(jnp.float32)[..., None]
            # another face's hole (same alignment) varies the shape it must fill, but may leave its lips showing:
            # session 5 measured -0.5 dB on celeb_aligned with --hole-swap 0.5
            other_face = jax.random.randint(k_pick, index.shape, 0, holes.shape[0])
            other = holes[other_face, draw].astype(jnp.float32)[..., None]
            swap = jax.random.uniform(k_swap, (index.shape[0], 1, 1, 1)) < self.args.hole_swap
            hole = jnp.where(swap, other, hole)
            clean, hole = augment(k_aug, clean, hole, self.args.sharpness)
            clean = clean * 2 - 1
            noise = jax.random.uniform(k_noise, clean.shape, minval=-1.0, maxval=1.0)
            (g_loss, (g_ntv, comp, logs)), g_grads = jax.value_and_grad(self.g_loss, has_aux=True)(
                state["g_tv"], state["g_ntv"], state["d_tv"], clean, hole, noise
            )
            d_loss, d_grads = jax.value_and_grad(self.d_loss)(state["d_tv"], clean, jax.lax.stop_gradient(comp), hole)
            g_opt = list(state["g_opt"])
            d_opt = list(state["d_opt"])
            g_opt[self.lr_index["g"]] = g_lr.astype(g_opt[self.lr_index["g"]].dtype)
            d_opt[self.lr_index["d"]] = lr.astype(d_opt[self.lr_index["d"]].dtype)
            g_tv, g_opt = self.g_opt.stateless_apply(g_opt, g_grads, state["g_tv"])
            d_tv, d_opt = self.d_opt.stateless_apply(d_opt, d_grads, state["d_tv"])
            decay = self.args.ema
            ema = [decay * e + (1 - decay) * v for e, v in zip(state["ema"], g_tv, strict=True)]
            new = {"g_tv": g_tv, "g_ntv": g_ntv, "d_tv": d_tv, "g_opt": g_opt, "d_opt": d_opt, "ema": ema}
            return new, {"g": g_loss, "d": d_loss, **logs}

        return jax.jit(step, donate_argnums=0)

    def make_restore(self):
        def restore(g_tv, g_ntv, clean, hole, noise):
            x = jnp.concatenate([clean * (1 - hole) + noise * hole, hole], axis=-1)
            raw, _ = self.g.stateless_call(g_tv, g_ntv, x, training=False)
            return raw * hole + clean * (1 - hole)

        return jax.jit(restore)


def validate(restore, state, images: np.ndarray, holes: np.ndarray, ema: bool = False) -> tuple[dict, np.ndarray]:
    """The figures `FaceTrainer.validate` reports (`metrics.region_scores`), fixed noise; also the composites."""
    rng = np.random.default_rng(0)
    outs = []
    for start in range(0, len(images), 64):
        clean = images[start : start + 64].astype(np.float32) / 127.5 - 1
        hole = holes[start : start + 64].astype(np.float32)[..., None]
        noise = rng.uniform(-1, 1, clean.shape).astype(np.float32)
        comp = np.asarray(restore(state["ema" if ema else "g_tv"], state["g_ntv"], clean, hole, noise))
        outs.append(np.clip((comp + 1) * 127.5, 0, 255).round().astype(np.uint8))
    outs = np.concatenate(outs)
    return metrics.region_scores(outs, images, holes > 0), outs


def save_both(gan: FaceGan, state, out: Path, raw: bool = True) -> list[str]:
    """The generator's running weight average in OUT/ema and, with `raw`, its current weights in OUT."""
    (out / "ema").mkdir(exist_ok=True)
    gan.write_back(state, ema=True)
    names = [f"ema/{n}" for n in save_chunks(gan.g.get_weights(), out / "ema")]
    gan.write_back(state)
    return (save_chunks(gan.g.get_weights(), out) if raw else []) + names


def sheet(images, holes, outs, averaged, path: Path, n: int = 8) -> None:
    """One sheet for both generators: the device tool returns at most 8 files a call (4 weights, 2 logs, 2 sheets)."""
    masked = images[:n].copy()
    masked[holes[:n] > 0] = 127
    rows = [list(r) for r in zip(masked, outs[:n], averaged[:n], images[:n], strict=True)]
    labels = ("masked", "restored", "restored (average)", "truth")
    image = grid(rows, cell=images.shape[1], col_labels=labels)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", required=True, help="folders of pack files (train_*.npz, val.npz)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--init",
        type=Path,
        help="Face G to start from: an exported fp32 .onnx, a .weights.h5 or a run's folder of weights_*.npz",
    )
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--decay", type=float, default=0.5, help="fraction of the run over which the rate falls to 0")
    ap.add_argument("--minutes", type=float, default=5.0, help="training wall time")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: time decides)")
    ap.add_argument("--save-every", type=float, default=60.0, help="seconds between weight saves")
    ap.add_argument("--val-every", type=int, default=0, help="validate every N steps (0: start and end only)")
    ap.add_argument("--d-warmup", type=int, default=0, help="steps that train only the critics (for --init)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--l1-hole", type=float, default=10.0)
    ap.add_argument("--l1-valid", type=float, default=1.0)
    ap.add_argument("--ssim-weight", type=float, default=5.0)
    ap.add_argument("--adv-weight", type=float, default=0.5)
    ap.add_argument("--fm-weight", type=float, default=10.0)
    ap.add_argument("--ema", type=float, default=0.999, help="decay of the generator's weight average (saved in ema/)")
    ap.add_argument("--hole-swap", type=float, default=0.0, help="chance a face gets another face's hole")
    ap.add_argument("--sharpness", type=float, default=0.0, help="chance a face is sharpened or softened")
    ap.add_argument(
        "--save",
        choices=("both", "ema", "best"),
        default="both",
        help="ema: keep only the weight average (a width-48 generator's raw and averaged weights are 6 files of the"
        " 8 the device tool returns per call); best: only the weight average at its best validation PSNR in the"
        " hole (checked every --val-every steps and at the end), for runs that may pass their best",
    )
    ap.add_argument("--no-sheet", action="store_true", help="no sample sheet (one file fewer for the device tool)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "metrics.jsonl"

    def log(record: dict) -> None:
        record = {"t": round(time.time() - t0, 2), **record}
        print(json.dumps(record), flush=True)
        with log_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    t0 = time.time()
    keras.utils.set_random_seed(args.seed)
    train_images, train_holes = load_packs(sorted(p for d in args.data for p in d.glob("train_*.npz")))
    val_images, val_holes = load_packs([next(d / "val.npz" for d in args.data if (d / "val.npz").is_file())])
    val_holes = val_holes[:, 0]  # validation: the first draw's hole, the same every time
    log(
        {
            "event": "data",
            "train": len(train_images),
            "holes_per_face": train_holes.shape[1],
            "val": len(val_images),
            "device": str(jax.devices()[0]),
        }
    )
    gan = FaceGan(args)
    images, holes = jnp.asarray(train_images), jnp.asarray(train_holes)
    restore = gan.make_restore()
    state = gan.state()
    figures, _ = validate(restore, state, val_images, val_holes)
    log({"event": "val", "step": 0, **figures})
    best_psnr = -np.inf  # --save best: the start itself is no candidate, the first validated average is

    key = jax.random.PRNGKey(args.seed)
    rng = np.random.default_rng(args.seed)
    # compiled before the clock starts: the schedule's minutes are training, not compiling
    lr0 = jnp.asarray(args.lr, jnp.float32)
    index0 = jnp.zeros(args.batch, jnp.int32)
    step_fn = gan.make_step().lower(state, images, holes, key, index0, lr0, lr0).compile()
    log({"event": "compiled"})
    order, pos = rng.permutation(len(train_images)), 0
    budget = args.minutes * 60
    step, started, last_save, window = 0, None, time.time(), []
    loop_start = time.time()
    while True:
        # The schedule runs on the clock, not a step count: the other run sharing the GPU changes the step time.
        elapsed = time.time() - loop_start
        if (args.max_steps and step >= args.max_steps) or (not args.max_steps and elapsed >= budget):
            break
        left = (args.max_steps - step) / args.max_steps if args.max_steps else (budget - elapsed) / budget
        frac = min(1.0, max(0.0, left / args.decay)) if args.decay > 0 else 1.0
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(train_images)), 0
        index = jnp.asarray(order[pos : pos + args.batch], jnp.int32)
        pos += args.batch
        key, sub = jax.random.split(key)
        lr = jnp.asarray(args.lr * frac, jnp.float32)
        # a fresh critic first learns to judge the generator it was given before the generator answers it
        state, losses = step_fn(
            state, images, holes, sub, index, lr, lr if step >= args.d_warmup else jnp.zeros_like(lr)
        )
        step += 1
        window.append(losses)
        if step == 5:
            jax.block_until_ready(state["g_tv"])
            started = time.time()
        if step % 200 == 0:
            mean = {k: float(np.mean([float(w[k]) for w in window])) for k in window[0]}
            log({"step": step, "lr": args.lr * frac, **mean})
            window = []
        if args.val_every and step % args.val_every == 0 and step != args.max_steps:  # the last one follows
            for ema in (False, True):
                figures, _ = validate(restore, state, val_images, val_holes, ema)
                log({"event": "val", "step": step, "ema": ema, **figures})
            if args.save == "best" and figures["psnr_masked"] > best_psnr:
                best_psnr = figures["psnr_masked"]
                log({"event": "saved", "step": step, "weights": save_both(gan, state, args.out, raw=False)})
        if args.save != "best" and time.time() - last_save > args.save_every:
            names = save_both(gan, state, args.out, raw=args.save == "both")
            log({"event": "saved", "step": step, "weights": names})
            last_save = time.time()
    composites = []
    for ema in (False, True):
        figures, outs = validate(restore, state, val_images, val_holes, ema)
        log({"event": "val", "step": step, "ema": ema, **figures})
        composites.append(outs)
    if not args.no_sheet:
        sheet(val_images, val_holes, *composites, args.out / "sheet.png")
    if args.save != "best" or figures["psnr_masked"] > best_psnr:
        names = save_both(gan, state, args.out, raw=args.save == "both")
    else:
        names = []  # ema/ keeps the best weight average
    per_step = (time.time() - started) / max(1, step - 5) if started else float("nan")
    log({"event": "done", "step": step, "weights": names, "sec_per_step_incl_val": per_step})


if __name__ == "__main__":
    main()
