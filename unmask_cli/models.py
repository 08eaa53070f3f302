"""Keras builders: Mask G (segmentation U-Net), Face G (inpainting generator), Face D (global + local critics).

Small pure functions returning `keras.Model`s. Every layer here exports through tf2onnx (opset 17) and runs in
onnxruntime: instance normalization is `GroupNormalization(groups=-1)` (Keras 3 has no InstanceNormalization),
and upsampling is bilinear resize + convolution rather than transposed convolution (faster in onnxruntime and
free of checkerboard artifacts). Images are RGB in [-1, 1]; masks are 1 where the face mask is.
"""

from __future__ import annotations

import keras
from keras import layers

LEAK = 0.2  # LeakyReLU slope, from the original recipe
# The local critic looks at this fixed window of the aligned crop (fractions of S): nose, mouth and chin,
# where every mask style sits because all crops share one landmark template.
LOCAL_WINDOW = (0.40, 0.90, 0.22, 0.78)  # top, bottom, left, right


def _check_size(size: int) -> None:
    if size % 32 or size < 32:
        raise ValueError(f"input size must be a multiple of 32 (got {size})")


def _norm() -> layers.Layer:
    return layers.GroupNormalization(groups=-1, epsilon=1e-5)  # = instance normalization


def _down(x, filters: int, norm: bool = True):
    x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not norm)(x)
    if norm:
        x = _norm()(x)
    return layers.LeakyReLU(LEAK)(x)


def _conv(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = _norm()(x)
    return layers.LeakyReLU(LEAK)(x)


def _up(x, skip, filters: int, dropout: float = 0.0):
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = _norm()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.LeakyReLU(LEAK)(x)
    return layers.Concatenate()([x, skip]) if skip is not None else x


def _unet(inputs, widths: list[int], dropout_blocks: int = 0):
    """Encoder of stride-2 convs (one per width), a bottleneck conv, mirrored decoder with skips."""
    skips = []
    x = inputs
    for i, filters in enumerate(widths):
        x = _down(x, filters, norm=i > 0)
        skips.append(x)
    x = _conv(x, widths[-1])
    for i, (filters, skip) in enumerate(zip(reversed(widths[:-1]), reversed(skips[:-1]), strict=True)):
        x = _up(x, skip, filters, dropout=0.5 if i < dropout_blocks else 0.0)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    return _conv(x, widths[0])


def mask_g(size: int = 128, width: int = 16) -> keras.Model:
    """U-Net: RGB image in [-1, 1] → probability that each pixel is face mask (sigmoid)."""
    _check_size(size)
    image = keras.Input((size, size, 3), name="image")
    x = _unet(image, [width, width * 2, width * 4, width * 8, width * 8])
    mask = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(image, mask, name="mask_g")


def face_g(size: int = 128, width: int = 32) -> keras.Model:
    """Generator: image with noise in the masked pixels + the mask (4 channels) → RGB in [-1, 1] (tanh).

    Dropout 0.5 in the first two decoder blocks, as in the original recipe (pix2pix). Callers composite:
    generator pixels where the mask is 1, input pixels elsewhere (see `composite`).
    """
    _check_size(size)
    inputs = keras.Input((size, size, 4), name="noisy_image_and_mask")
    x = _unet(inputs, [width, width * 2, width * 4, width * 8, width * 8], dropout_blocks=2)
    x = layers.Conv2D(width, 3, padding="same", activation=None)(x)
    x = layers.LeakyReLU(LEAK)(x)
    rgb = layers.Conv2D(3, 1, activation="tanh", name="rgb")(x)
    return keras.Model(inputs, rgb, name="face_g")


def _patch_critic(inputs, width: int, depth: int, name: str) -> keras.Model:
    """PatchGAN: stride-2 convs to a grid of real/fake logits; also returns features for feature matching."""
    feats = []
    x = inputs
    for i in range(depth):
        x = _down(x, width * 2 ** min(i, 3), norm=i > 0)
        feats.append(x)
    x = layers.Conv2D(width * 8, 3, padding="same", use_bias=False)(x)
    x = _norm()(x)
    x = layers.LeakyReLU(LEAK)(x)
    feats.append(x)
    logits = layers.Conv2D(1, 3, padding="same", name="logits")(x)
    return keras.Model(inputs, [logits, *feats], name=name)


def face_d(size: int = 128, width: int = 32) -> tuple[keras.Model, keras.Model]:
    """Two critics, as in Din et al. 2020: a global one on the whole face conditioned on the mask (RGB + mask),
    and a local one on the lower-face window where masks sit. Each returns [logits, *features]."""
    _check_size(size)
    global_in = keras.Input((size, size, 4), name="image_and_mask")
    top, bottom, left, right = local_window(size)
    local_in = keras.Input((bottom - top, right - left, 4), name="window_and_mask")
    return (
        _patch_critic(global_in, width, 4, "face_d_global"),
        _patch_critic(local_in, width, 3, "face_d_local"),
    )


def local_window(size: int) -> tuple[int, int, int, int]:
    """Pixel bounds (top, bottom, left, right) of the local critic's window, multiples of 8."""
    top, bottom, left, right = (round(f * size / 8) * 8 for f in LOCAL_WINDOW)
    return top, bottom, left, right


def composite(generated, image, mask):
    """Generator pixels where the mask is 1, the input's pixels elsewhere (works on tensors or arrays)."""
    return generated * mask + image * (1 - mask)
