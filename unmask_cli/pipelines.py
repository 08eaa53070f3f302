"""`tf.data` input pipelines over a synthesized dataset (see `data.py` for the layout).

Training order is a seeded permutation per epoch, so a resumed run picks up at the exact batch it stopped at.
Augmentation uses stateless random ops keyed by (seed, epoch, sample position): repeatable under `--seed`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from unmask_cli import ear_loops, occluders
from unmask_cli.data import load_manifest, split
from unmask_cli.faces import head_turn


def load_split(
    root: Path, val_fraction: float, left_out: dict[str, int] | None = None
) -> tuple[list[dict], list[dict]]:
    records = load_manifest(root, left_out)
    if not records:
        raise FileNotFoundError(f"{root}: no samples (run `unmask synthesize` into it first)")
    return split(records, val_fraction)


# |faces.head_turn| from which a face counts as turned (about a third of the way to profile): 10% of UTKFace's
# faces, 21% of the faces in the real masked photos and 29% of celeba_small's. Both models learnt frontal lower faces.
TURNED = 0.25


def oversample_turned(records: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """`records` plus repeats of its turned faces (by their landmarks) until they make up `share` of the list; as
    they are when they already do. Repeats are drawn with a fixed seed, so a resumed run sees the same list."""
    turned = [r for r in records if abs(head_turn(np.asarray(r["landmarks"], np.float64))) >= TURNED]
    if share <= 0 or len(turned) >= share * len(records):
        return records
    if not turned:
        raise ValueError(f"no turned faces (|head turn| >= {TURNED}) among the {len(records)} training samples")
    if share >= 1:
        return turned
    # t·k / (f + t·k) = share, with f frontal and t turned samples and each turned one shown k times
    repeats = share * (len(records) - len(turned)) / (len(turned) * (1 - share))
    whole = int(repeats)
    extra = turned * (whole - 1)
    picked = np.random.default_rng(0).choice(len(turned), round((repeats - whole) * len(turned)), replace=False)
    return records + extra + [turned[i] for i in sorted(picked)]


def unreadable_samples(root: Path | str, records: list[dict[str, Any]]) -> list[Path]:
    """The image files of `records` that cannot be decoded (missing, damaged): looked for only once training has
    stopped on one, since TensorFlow's decode error names its op, not the file. Sorted, each once."""
    import cv2

    bad = set()
    for record in records:
        for key in ("masked", "mask", "clean"):
            path = Path(root) / record[key]
            if path not in bad and cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None:
                bad.add(path)
    return sorted(bad)


def _decode(path: tf.Tensor, channels: int, size: int) -> tf.Tensor:
    image = tf.io.decode_png(tf.io.read_file(path), channels=channels)
    image = tf.image.convert_image_dtype(image, tf.float32)
    if image.shape.rank is not None:
        image = tf.ensure_shape(image, [None, None, channels])
    return tf.image.resize(image, [size, size], method="area")


def _sub_seed(seed: tf.Tensor, k: int) -> tf.Tensor:
    """An independent stateless seed for the k-th random choice of one sample."""
    return seed + tf.constant([k, 0], tf.int64)


CLOTHES_CHANCE = 0.3  # share of Mask G's samples given fabric below the mask (a collar, scarf, hood or coat)


def _clothes_below(masked, mask, clean, seed):
    """Dress the neck: below the mask's lower edge (a random few pixels on), fabric — half the time in the mask's
    own colour. In real photos a black mask often runs into a black hood or coat; the drawn faces have bare necks,
    so Mask G learnt to end a mask where its colour ends. Painted on both images: they stay equal outside the mask."""
    h, w = tf.shape(mask)[0], tf.shape(mask)[1]
    rows = tf.cast(tf.range(h), tf.float32)[:, None]
    m = mask[..., 0]
    bottom = tf.reduce_max(rows * m, axis=0)  # last mask row of each column
    bottom = tf.where(tf.reduce_max(m, axis=0) > 0, bottom, tf.reduce_max(bottom))
    margin = tf.random.stateless_uniform([], _sub_seed(seed, 11), 1.0, 0.15 * tf.cast(h, tf.float32))
    region = (rows > bottom[None, :] + margin)[..., None]
    own = tf.reduce_sum(masked * mask, [0, 1]) / tf.maximum(tf.reduce_sum(mask), 1.0)
    other = tf.random.stateless_uniform([3], _sub_seed(seed, 12))
    colour = tf.where(tf.random.stateless_uniform([], _sub_seed(seed, 13)) < 0.5, own, other)
    folds = tf.random.stateless_normal([h // 16 + 1, w // 16 + 1, 1], _sub_seed(seed, 14), stddev=0.08)
    fabric = tf.clip_by_value(colour * (1.0 + tf.image.resize(folds[None], [h, w], "bicubic")[0]), 0.0, 1.0)
    dress = (tf.random.stateless_uniform([], _sub_seed(seed, 10)) < CLOTHES_CHANCE) & (tf.reduce_max(m) > 0)
    region = region & dress
    return tf.where(region, fabric, masked), tf.where(region, fabric, clean)


# How far a real crop's alignment can be off: dlib places the 68 landmarks on a masked face by guessing the nose,
# mouth and jaw under the fabric, and BlazeFace's boxes differ from HOG's. Trained only on crops aligned with the
# clean face's own landmarks, Mask G learnt where a mask may sit in the crop as much as what it looks like, and
# stopped every real mask at the same row: the top of masks worn higher in the crop stayed (a band of fabric).
JITTER_SHIFT = 0.07  # of the crop's side, each axis
JITTER_SCALE = (0.9, 1.12)
JITTER_DEGREES = 7.0


def jitter_transform(u, size, xp=np) -> tuple:
    """The alignment jitter drawn from four uniforms `u` in [0, 1) (scale, turn, x and y shift) for a crop of
    `size` px, as the coefficients (a0, a1, a2, b0, b1, b2) of the map from an output pixel to the input pixel it
    samples: p ← c + R⁻¹(p − c − t) / scale, c the crop's centre. `xp`: the module whose cos and sin apply (numpy,
    or tensorflow for tensors), so training and `benchmarks/gpu/pack_face_data.py` draw the same warps."""
    centre = (size - 1) / 2
    scale = JITTER_SCALE[0] + (JITTER_SCALE[1] - JITTER_SCALE[0]) * u[0]
    angle = (2 * u[1] - 1) * JITTER_DEGREES * np.pi / 180
    tx, ty = (2 * u[2] - 1) * JITTER_SHIFT * size, (2 * u[3] - 1) * JITTER_SHIFT * size
    a0, a1 = xp.cos(angle) / scale, xp.sin(angle) / scale
    b0, b1 = -a1, a0
    a2 = centre - a0 * (centre + tx) - a1 * (centre + ty)
    b2 = centre - b0 * (centre + tx) - b1 * (centre + ty)
    return a0, a1, a2, b0, b1, b2


def _jitter_alignment(masked, mask, clean, seed, chance: float):
    """The same random shift, scale and rotation of all three images (the mask stays exact: nearest sampling),
    for a share `chance` of the samples; the border is mirrored as `faces.align` mirrors it."""
    size = tf.cast(tf.shape(mask)[0], tf.float32)
    u = [tf.random.stateless_uniform([], _sub_seed(seed, 30 + k)) for k in range(5)]
    transform = tf.stack([*jitter_transform(u[:4], size, tf), 0.0, 0.0])[None]

    def warp(x, how):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x[None],
            transforms=transform,
            output_shape=tf.shape(x)[:2],
            fill_value=0.0,
            interpolation=how,
            fill_mode="REFLECT",
        )[0]

    def moved():
        return warp(masked, "BILINEAR"), warp(mask, "NEAREST"), warp(clean, "BILINEAR")

    def kept():
        return tf.identity(masked), tf.identity(mask), tf.identity(clean)

    return tf.cond(u[4] >= chance, kept, moved)  # only the chosen share is warped


def _both_for_a_share(change, masked, clean, seed, k: int, chance: float):
    """(`change(masked)`, `change(clean)`) for a share `chance` of the samples (drawn from sub-seed `k`), else the two
    images as they are: the degradations that must hit the masked face and its truth alike."""
    chosen = tf.random.stateless_uniform([], _sub_seed(seed, k)) < chance
    return tf.cond(chosen, lambda: (change(masked), change(clean)), lambda: (tf.identity(masked), tf.identity(clean)))


LOW_RES_FACTOR = (2.0, 4.0)  # a low-resolution sample is shrunk by this much and brought back to size


def _lower_resolution(masked, clean, seed, chance: float):
    """For a share `chance` of the samples, both images shrunk 2-4x and enlarged back, the same way: a face of
    30-60 px in a crowd photo reaches Face G as such a blurred 128² crop, and a Face G that has only seen sharp
    UTKFace crops fills it with jagged, stubbly strokes. The mask stays as it is."""
    size = tf.shape(clean)[0]
    factor = tf.random.stateless_uniform([], _sub_seed(seed, 40), *LOW_RES_FACTOR)
    small = tf.cast(tf.round(tf.cast(size, tf.float32) / factor), tf.int32)

    def degrade(x):
        shrunk = tf.image.resize(x[None], [small, small], method="area", antialias=True)
        return tf.image.resize(shrunk, [size, size], method="bilinear")[0]

    return _both_for_a_share(degrade, masked, clean, seed, 41, chance)


LIGHT_GAIN = (0.55, 1.25)  # per colour channel: a cast of stage, street or candle light
LIGHT_EXPOSURE = (0.3, 1.0)  # under-exposed indoor and night photos
LIGHT_GAMMA = (0.75, 1.6)
LIGHT_SLOPE = 0.6  # light falling off across the face from one side, at most this share of its brightness


def _harsh_light(masked, clean, seed, chance: float):
    """For a share `chance` of the samples, both images lit alike by harsher light than `_augment`'s gentle
    change: a colour cast, under-exposure, a gamma and light falling off from one side. Real masks are photographed
    in red stage light and dark rooms, and a mask in such light was taken for shadow."""
    gain = tf.random.stateless_uniform([3], _sub_seed(seed, 60), *LIGHT_GAIN)
    exposure = tf.random.stateless_uniform([], _sub_seed(seed, 61), *LIGHT_EXPOSURE)
    gamma = tf.random.stateless_uniform([], _sub_seed(seed, 62), *LIGHT_GAMMA)
    angle = tf.random.stateless_uniform([], _sub_seed(seed, 63), 0.0, 2 * np.pi)
    slope = tf.random.stateless_uniform([], _sub_seed(seed, 64), 0.0, LIGHT_SLOPE)
    size = tf.shape(clean)[0]
    ramp = tf.linspace(-0.5, 0.5, size)
    across = tf.cos(angle) * ramp[None, :] + tf.sin(angle) * ramp[:, None]  # -0.5 … 0.5 along the light
    falloff = (1.0 - slope * (across + 0.5))[..., None]

    def light(x):
        return tf.clip_by_value(tf.pow(x, gamma) * gain * exposure * falloff, 0.0, 1.0)

    return _both_for_a_share(light, masked, clean, seed, 65, chance)


BRIGHT_EXPOSURE = (1.2, 1.9)  # sun, snow and flash: the brightest skin blown out to white
BRIGHT_GAMMA = (0.75, 1.0)  # mid-tones lifted too
BRIGHT_SATURATION = (0.5, 1.0)  # such light washes the colour out of skin


def _bright_light(masked, clean, seed, chance: float):
    """For a share `chance` of the samples, both images over-exposed alike: a gamma below 1, a gain above 1 clipped
    to white, the colour washed out. A pale, overexposed lower face was taken for a white mask by the presence
    check, which had only seen `_augment`'s gentle brightness change (and `_harsh_light`'s darker light)."""
    exposure = tf.random.stateless_uniform([], _sub_seed(seed, 70), *BRIGHT_EXPOSURE)
    gamma = tf.random.stateless_uniform([], _sub_seed(seed, 71), *BRIGHT_GAMMA)
    saturation = tf.random.stateless_uniform([], _sub_seed(seed, 72), *BRIGHT_SATURATION)

    def light(x):
        x = tf.clip_by_value(tf.pow(x, gamma) * exposure, 0.0, 1.0)
        return tf.clip_by_value(tf.image.adjust_saturation(x, saturation), 0.0, 1.0)

    return _both_for_a_share(light, masked, clean, seed, 73, chance)


def _hand_over_mouth(face, clean, seed, k: int):
    """(`face` with a hand drawn over its mouth in the clean face's skin, the hand's cover): `occluders.draw_hand`,
    seeded by the sample."""

    def draw(image, skin, seed_pair):
        rng = np.random.default_rng([int(v) & 0x7FFFFFFF for v in seed_pair])
        return occluders.draw_hand(image, rng, skin_from=skin)

    handed, cover = tf.numpy_function(draw, [face, clean, _sub_seed(seed, k)], [tf.float32, tf.float32], stateful=False)
    return tf.ensure_shape(handed, face.shape), tf.ensure_shape(cover, face.shape[:2])


def _thin_loops(masked, mask, seed, chance: float):
    """A share `chance` of the samples get thin ear loops drawn from the mask's sides to the ears, and the target
    takes them in (`ear_loops.draw_loops`, seeded by the sample)."""

    def draw(image, target, seed_pair):
        rng = np.random.default_rng([int(v) & 0x7FFFFFFF for v in seed_pair])
        looped, with_loops = ear_loops.draw_loops(image, target[..., 0], rng)
        return looped.astype(np.float32), with_loops[..., None].astype(np.float32)

    def looped():
        image, target = tf.numpy_function(
            draw, [masked, mask, _sub_seed(seed, 23)], [tf.float32, tf.float32], stateful=False
        )
        return tf.ensure_shape(image, masked.shape), tf.ensure_shape(target, mask.shape)

    chosen = tf.random.stateless_uniform([], _sub_seed(seed, 22)) < chance
    return tf.cond(chosen, looped, lambda: (tf.identity(masked), tf.identity(mask)))


DARKEN_CHANCE = 0.3  # share of Mask G's samples whose mask is made darker


def _darken_mask(masked, mask, seed):
    """Make the mask 30-85% darker: real black masks are blacker than the drawn ones once those are lit and
    augmented, and a Mask G that never saw such black took real ones for hair or shadow."""
    factor = tf.random.stateless_uniform([], _sub_seed(seed, 20), 0.15, 0.7)
    darken = tf.random.stateless_uniform([], _sub_seed(seed, 21)) < DARKEN_CHANCE
    return tf.where(darken, masked * (1.0 - mask * (1.0 - factor)), masked)


def _augment(masked, mask, clean, seed, strong: bool):
    """Same flip and colour change on the masked and the clean face, so their pixels stay equal outside the mask."""
    flip = tf.random.stateless_uniform([], seed=seed) < 0.5
    masked, mask, clean = (
        tf.cond(flip, lambda t=t: tf.image.flip_left_right(t), lambda t=t: t) for t in (masked, mask, clean)
    )
    s = [_sub_seed(seed, k) for k in range(1, 5)]
    delta = tf.random.stateless_uniform([], s[0], -0.12, 0.12)
    contrast = tf.random.stateless_uniform([], s[1], 0.8, 1.2)
    saturation = tf.random.stateless_uniform([], s[2], 0.75, 1.25)
    hue = tf.random.stateless_uniform([], s[3], -0.04, 0.04)

    def colour(x):
        x = tf.image.adjust_brightness(x, delta)
        x = tf.image.adjust_contrast(x, contrast)
        x = tf.image.adjust_saturation(x, saturation)
        return tf.clip_by_value(tf.image.adjust_hue(x, hue), 0.0, 1.0)

    masked, clean = colour(masked), colour(clean)
    if strong:
        # Mask G meets compressed, blurred web photos: degrade its input (its target, the mask, stays exact).
        masked = tf.image.stateless_random_jpeg_quality(masked, 35, 95, _sub_seed(seed, 5))
        blur = tf.random.stateless_uniform([], _sub_seed(seed, 6)) < 0.3
        soft = tf.nn.avg_pool2d(masked[None], 3, 1, "SAME")[0]
        masked = tf.where(blur, soft, masked)
    return masked, mask, clean


def dataset(
    root: Path,
    records: list[dict[str, Any]],
    size: int,
    batch: int,
    seed: int,
    epoch: int,
    skip_batches: int = 0,
    training: bool = True,
    strong_augment: bool = False,
    bare_share: float = 0.0,
    align_jitter: float = 0.0,
    low_res: float = 0.0,
    hand_share: float = 0.0,
    hand_over_mask: float = 0.0,
    harsh_light: float = 0.0,
    bright_light: float = 0.0,
    thin_loops: float = 0.0,
) -> tf.data.Dataset:
    """Batches of (masked, mask, clean): images in [-1, 1], mask in {0, 1}, all S×S.

    Training: a seeded permutation for `epoch`, starting after `skip_batches` batches, with augmentation.
    `bare_share` of the training samples show the clean face with an empty mask: Mask G must also learn that a
    face without a mask has nothing to replace (a group photo has bare faces next to masked ones); `hand_share` of
    them show the clean face with a hand over its mouth (`occluders`), also with an empty mask; `hand_over_mask` of
    them a hand in front of the mask, which the target leaves out (a hand adjusting a mask is not mask).
    `align_jitter` of them are shifted, scaled and turned a little (`_jitter_alignment`); `low_res` of them are
    blurred as a small face enlarged to the crop is (`_lower_resolution`); `harsh_light` of them lit by coloured,
    dim or one-sided light (`_harsh_light`); `bright_light` of them over-exposed (`_bright_light`); `thin_loops` of
    them get thin ear loops, which the target takes in (`_thin_loops`).
    """
    root = Path(root)
    order = np.arange(len(records))
    if training:
        order = np.random.default_rng([seed, epoch]).permutation(len(records))
        order = order[skip_batches * batch :]
    paths = {k: [str(root / records[i][k]) for i in order] for k in ("masked", "mask", "clean")}
    index = tf.constant(order, tf.int64)
    ds = tf.data.Dataset.from_tensor_slices((paths["masked"], paths["mask"], paths["clean"], index))

    def load(masked_path, mask_path, clean_path, i):
        masked = _decode(masked_path, 3, size)
        clean = _decode(clean_path, 3, size)
        mask = tf.cast(_decode(mask_path, 1, size) > 0.5, tf.float32)
        if training:
            sample_seed = tf.stack([tf.cast(seed, tf.int64) * 100003 + epoch, i])
            if align_jitter > 0:
                masked, mask, clean = _jitter_alignment(masked, mask, clean, sample_seed, align_jitter)
            if low_res > 0:
                masked, clean = _lower_resolution(masked, clean, sample_seed, low_res)
            if strong_augment:  # Mask G
                masked, clean = _clothes_below(masked, mask, clean, sample_seed)
                masked = _darken_mask(masked, mask, sample_seed)
            if thin_loops > 0:
                masked, mask = _thin_loops(masked, mask, sample_seed, thin_loops)
            if hand_over_mask > 0:  # a hand in front of the mask stays: the target is the mask around it
                chosen = tf.random.stateless_uniform([], _sub_seed(sample_seed, 9)) < hand_over_mask

                def in_front():
                    handed, cover = _hand_over_mouth(masked, clean, sample_seed, 51)
                    return handed, mask * tf.cast(cover[..., None] < 0.5, mask.dtype)

                masked, mask = tf.cond(chosen, in_front, lambda: (tf.identity(masked), tf.identity(mask)))
            if bare_share > 0:
                bare = tf.random.stateless_uniform([], _sub_seed(sample_seed, 7)) < bare_share
                masked = tf.where(bare, clean, masked)
                mask = tf.where(bare, tf.zeros_like(mask), mask)
            if hand_share > 0:
                hand = tf.random.stateless_uniform([], _sub_seed(sample_seed, 8)) < hand_share
                masked, mask = tf.cond(
                    hand,
                    lambda: (_hand_over_mouth(clean, clean, sample_seed, 50)[0], tf.zeros_like(mask)),
                    lambda: (tf.identity(masked), tf.identity(mask)),
                )
            if harsh_light > 0:
                masked, clean = _harsh_light(masked, clean, sample_seed, harsh_light)
            if bright_light > 0:
                masked, clean = _bright_light(masked, clean, sample_seed, bright_light)
            masked, mask, clean = _augment(masked, mask, clean, sample_seed, strong_augment)
        return masked * 2 - 1, mask, clean * 2 - 1

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
