"""The photo's grain on the restored region (`grain`): measured on the smooth parts, added only where the fill is
smoother, luminance only, the same on every run."""

from __future__ import annotations

import numpy as np
import pytest

from unmask_cli import grain, pipeline

SKIN = np.array((180, 140, 120), np.float32)


def _noisy(shape: tuple[int, int], sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (120 + rng.normal(0, sigma, shape)).astype(np.float32)


def _noisy_skin(side: int, sigma: float) -> np.ndarray:
    """A skin-coloured photo with luminance noise."""
    noise = np.random.default_rng(0).normal(0, sigma, (side, side, 1))
    return np.clip(SKIN + noise, 0, 255).round().astype(np.uint8)


def test_the_grain_of_noise_is_its_spread_and_edges_do_not_count():
    where = np.ones((200, 200), bool)
    level = grain.grain_level(_noisy((200, 200), 4.0), where)
    assert grain.grain_level(np.full((200, 200), 120, np.float32), where) == 0
    striped = _noisy((200, 200), 4.0)
    striped[:, ::40] += 80  # lashes, hair, outlines: strong detail in a fifth of the windows
    assert grain.grain_level(striped, where) == pytest.approx(level, rel=0.25)
    assert grain.grain_level(_noisy((200, 200), 8.0), where) == pytest.approx(2 * level, rel=0.1)


def _region(size: int = 200) -> np.ndarray:
    weight = np.zeros((size, size), np.float32)
    weight[60:160, 50:150] = 1.0
    return weight


def test_a_smooth_fill_gets_the_photos_grain_and_a_clean_photo_adds_none():
    weight = _region()
    inside = weight >= 1
    photo = _noisy_skin(200, 5.0)
    patch = np.full((200, 200, 3), SKIN, np.uint8)  # a fill with no grain at all
    crop = np.zeros((128, 128, 3), np.uint8)
    grained = grain.regrain(patch, photo, weight, seed_from=crop)
    luma = lambda image: image.astype(np.float32).mean(-1)  # noqa: E731
    ratio = grain.grain_level(luma(grained), inside) / grain.grain_level(luma(photo), inside)
    assert 0.8 < ratio < 1.25
    spread = grained.astype(int) - patch
    assert (spread[..., 0] == spread[..., 1]).all() and (spread[..., 1] == spread[..., 2]).all()  # luminance only
    assert np.array_equal(grain.regrain(patch, photo, weight, seed_from=crop), grained)  # seeded by the crop

    clean = np.full((200, 200, 3), SKIN, np.uint8)
    assert grain.regrain(patch, clean, weight, seed_from=crop) is patch
    noisy_fill = photo.copy()  # already as grainy as the photo
    assert grain.regrain(noisy_fill, photo, weight, seed_from=crop) is noisy_fill


def test_a_crop_enlarged_onto_a_big_face_takes_the_photos_grain(monkeypatch):
    """paste_back: a smooth 128² crop on a face four times its size in a noisy photo comes out as grainy as the
    photo; without regrain it is the smooth patch the pipeline pasted before; a crop pasted at about its own size
    gets none (noise there showed as speckle)."""
    crop = np.full((128, 128, 3), SKIN, np.uint8)
    mask = np.zeros((128, 128), np.float32)
    mask[40:110, 24:104] = 1
    big = np.array([[0.25, 0, 0], [0, 0.25, 0]])  # photo (0..512) → crop (0..128)
    photo = _noisy_skin(512, 5.0)
    inside = np.zeros((512, 512), bool)
    inside[200:400, 130:380] = True  # well inside the mask's 160..440 × 96..416

    def pasted(regrain: bool, matrix: np.ndarray = big) -> np.ndarray:
        monkeypatch.setattr(pipeline, "REGRAIN", regrain)
        out = photo.copy()
        pipeline.paste_back(out, crop, mask, matrix)
        return out.astype(np.float32).mean(-1)

    photo_grain = grain.grain_level(photo.astype(np.float32).mean(-1), inside)
    assert grain.grain_level(pasted(True), inside) / photo_grain > 0.8
    assert grain.grain_level(pasted(False), inside) / photo_grain < 0.1
    near_own_size = np.array([[0.8, 0, 0], [0, 0.8, 0]])  # enlarged 1.25 times: left as Face G painted it
    assert np.array_equal(pasted(True, near_own_size), pasted(False, near_own_size))
