"""The model-agnostic restore step: Mask G's region → noise → Face G → composite."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from unmask_cli.restore import GATE_MIN_FRACTION, crop_noise, gate_masks, restore_batch, with_rim


def _lower_half_mask(crops: np.ndarray) -> np.ndarray:
    prob = np.zeros((*crops.shape[:3], 1), np.float32)
    prob[:, 20:, 8:24] = 1.0
    return prob


def _bluish_face(face_in: np.ndarray) -> np.ndarray:  # a generator that tints what it paints
    out = np.zeros((*face_in.shape[:3], 3), np.float32)
    out[...] = (-0.2, -0.1, 0.3)
    return out


def test_a_grey_photo_gets_a_grey_fill_and_a_colour_photo_keeps_its_colours():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.uniform(-1, 1, (1, 32, 32, 1)), 3, axis=-1).astype(np.float32)
    colour = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    masks, restored = restore_batch(np.concatenate([grey, colour]), _lower_half_mask, _bluish_face)
    hole = masks[..., 0] > 0.5
    grey_fill, colour_fill = restored[0][hole[0]], restored[1][hole[1]]
    np.testing.assert_allclose(grey_fill, 0.0, atol=1e-6)  # the tint's mean: R = G = B
    np.testing.assert_allclose(colour_fill, np.broadcast_to([-0.2, -0.1, 0.3], colour_fill.shape), atol=1e-6)
    rim = with_rim(hole[0]) & ~hole[0]
    # the hole is rows 19-31 x cols 7-24 (the region grown by 1 px); its rim the columns beside it and the row above
    assert rim.sum() == 2 * 13 + 18 and rim[18, 7:25].all() and rim[19:, 6].all() and not rim[18, 6]
    np.testing.assert_allclose(restored[0][rim], 0.0, atol=1e-6)  # Face G's output on the rim too
    outside = ~with_rim(hole[0])
    np.testing.assert_array_equal(restored[0][outside], grey[0][outside])  # beyond it: the photo


def _noise_through(face_in: np.ndarray) -> np.ndarray:  # a generator that paints the noise it was given
    return face_in[..., :3].copy()


def test_a_crop_gets_the_same_fill_alone_in_any_batch_and_after_a_resume():
    rng = np.random.default_rng(1)
    crops = rng.uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    _, together = restore_batch(crops, _lower_half_mask, _noise_through)
    _, alone = restore_batch(crops[3:4], _lower_half_mask, _noise_through)
    _, reordered = restore_batch(crops[::-1], _lower_half_mask, _noise_through)
    np.testing.assert_array_equal(alone[0], together[3])
    np.testing.assert_array_equal(reordered[1], together[3])
    assert not np.array_equal(together[0][20:, 8:24], together[1][20:, 8:24])  # other crops, other noise
    _, reseeded = restore_batch(crops[3:4], _lower_half_mask, _noise_through, seed=1)
    assert not np.array_equal(reseeded[0][20:, 8:24], alone[0][20:, 8:24])  # the seed still redraws it
    noise = crop_noise(crops)
    assert noise.min() >= -1 and noise.max() <= 1 and abs(float(noise.mean())) < 0.02


def test_a_crop_shrunk_onto_a_small_face_is_low_passed_first(monkeypatch):
    """A 128² crop pasted onto a 32-px face: its finest detail (a 1-px checkerboard) must come out as its mean, not
    aliased; a crop pasted at its own scale keeps every pixel."""
    from unmask_cli import pipeline

    checks = ((np.indices((128, 128)).sum(0) % 2) * 255).astype(np.uint8)
    crop = np.repeat(checks[..., None], 3, axis=-1)
    mask = np.zeros((128, 128), np.float32)
    mask[16:112, 16:112] = 1
    small = np.array([[4.0, 0, 0], [0, 4.0, 0]])  # photo (0..40) → crop (0..160): 4 crop pixels per photo pixel

    def pasted(low_pass: bool, matrix: np.ndarray, size: int) -> np.ndarray:
        monkeypatch.setattr(pipeline, "LOW_PASS_ON_PASTE", low_pass)
        photo = np.full((size, size, 3), 128, np.uint8)
        pipeline.paste_back(photo, crop, mask, matrix)
        return photo

    inside = (slice(8, 24), slice(8, 24))  # well inside the mask's 4..28 in photo pixels
    low_passed, aliased = pasted(True, small, 40)[inside], pasted(False, small, 40)[inside]
    assert abs(low_passed.mean() - 127.5) < 10 and low_passed.std() < 10  # grey: the checkerboard's mean
    assert abs(aliased.mean() - 127.5) > 60  # what the low-pass prevents: every 4th pixel, all of one colour
    same_scale = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert np.array_equal(pasted(True, same_scale, 128)[20:108, 20:108], crop[20:108, 20:108])


@pytest.mark.parametrize(
    "scale, turn, shift", [(0.05, 10, (30, 70)), (0.6, -20, (-30, -10)), (3.0, 0, (-200, 5)), (0.1, 0, (500, 500))]
)
def test_a_face_is_blended_over_its_own_box_as_over_the_whole_photo(scale, turn, shift):
    """The blend weights of a face are found over the box its crop covers, not the whole photo (a full-photo map
    per face made group photos slow): the same weights as warping over the whole photo, nothing of them cut off,
    for a big face, one at the crop's size and a small one, also where the crop runs off the photo or lies
    wholly off it."""
    import cv2

    from unmask_cli import pipeline
    from unmask_cli.restore import with_rim

    mask = np.zeros((128, 128), np.float32)
    cv2.ellipse(mask, (64, 92), (40, 30), 0, 0, 360, 1.0, -1)
    matrix = cv2.getRotationMatrix2D((0, 0), turn, scale)
    matrix[:, 2] += shift
    shape = (900, 1300)
    weight, box = pipeline.blend_weights(mask, matrix, shape)
    soft = cv2.GaussianBlur(with_rim(mask).astype(np.float32), (0, 0), pipeline.FEATHER_PX)
    soft = np.maximum(soft, with_rim(mask).astype(np.float32))
    whole = cv2.warpAffine(soft, cv2.invertAffineTransform(matrix), shape[::-1], flags=cv2.INTER_LINEAR)
    whole[whole < 1.0 / 255] = 0
    assert whole.any() == (weight.size > 0)  # the last case: the crop lies off the photo
    placed = np.zeros(shape, np.float32)
    placed[box] = weight
    assert np.abs(placed - whole).max() < 2e-3


def test_two_band_takes_the_structure_fills_low_frequencies_and_the_detail_fills_high_ones():
    from unmask_cli.restore import two_band

    size, sigma = 64, 3.0
    yy, xx = np.mgrid[:size, :size]
    detail = np.zeros((1, size, size, 3), np.float32)
    detail[0] = (((yy // 2 + xx // 2) % 2) * 0.4 - 0.2)[..., None]  # fine grain around 0, nothing else
    structure = np.zeros_like(detail)
    structure[0] = (0.5 * np.sin(yy / 10.0))[..., None]  # shading with no grain
    masks = np.zeros((1, size, size, 1), np.float32)
    masks[0, 16:56, 12:52] = 1.0
    out = two_band(detail, structure, masks, sigma)
    outside = with_rim(masks)[0, ..., 0] == 0
    np.testing.assert_array_equal(out[0][outside], detail[0][outside])  # the seam to the photo stays
    inner = np.zeros((size, size), bool)
    inner[16 + 10 : 56 - 10, 12 + 10 : 52 - 10] = True  # 3 sigma in from the region's edge

    def blurred(image):
        return cv2.GaussianBlur(image, (0, 0), 2 * sigma)

    # the shading is the structure's, within what the 3-sigma band leaves of it
    assert np.abs(blurred(out[0])[inner] - blurred(structure[0])[inner]).max() < 0.05
    # the grain is the detail's: the checkerboard comes through at full contrast
    grain = out[0] - cv2.GaussianBlur(out[0], (0, 0), 1.0)
    expected = detail[0] - cv2.GaussianBlur(detail[0], (0, 0), 1.0)
    assert np.abs(grain[inner] - expected[inner]).max() < 0.05 * np.abs(expected[inner]).max()
    np.testing.assert_allclose(two_band(detail, detail, masks, sigma), detail, atol=1e-6)


def test_a_presence_check_that_finds_only_a_speck_finds_no_mask():
    """A bare face's presence check marks a thin line along the jaw or a smile: Mask G must not replace it."""
    size = 64
    prob = np.ones((3, size, size, 1), np.float32)  # Mask G marks every crop's whole lower face
    gate = np.zeros_like(prob)
    gate[0, 50, 10:40] = 1.0  # a line: 30 px, 2.3% of the crop once grown by a pixel each way
    gate[1, 40:48, 16:48] = 1.0  # a mask the check sees only in part: 256 px, 8.3% once grown
    gate[2, 40:41, 16:17] = 1.0  # a dot, and the same line in another crop's corner: the largest piece counts
    gate[2, 2, 2:32] = 1.0
    kept = gate_masks(prob, gate).reshape(3, -1).max(1)
    assert kept.tolist() == [0.0, 1.0, 0.0]
    line_share = (3 * 32) / size**2  # the line grown by one pixel each way
    assert line_share < GATE_MIN_FRACTION < (10 * 34) / size**2
