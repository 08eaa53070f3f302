"""A mask hanging below the aligned crop: found from Mask G's mask by GrabCut, inpainted; clothing left alone."""

from __future__ import annotations

import numpy as np

from unmask_cli import below_crop

S = 64
SKIN, MASK, SHIRT = (200, 160, 140), (40, 70, 200), (30, 120, 60)


def _photo(mask_bottom: int, height: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A skin-coloured photo whose top S×S square is the crop (identity matrix), a blue mask from row 40 down to
    `mask_bottom` over columns 16-48, and a green shirt from row 100 down. Returns (photo, crop mask, matrix)."""
    rng = np.random.default_rng(0)
    photo = np.empty((height, S, 3), np.uint8)
    photo[:] = SKIN
    photo[100:] = SHIRT
    photo[40:mask_bottom, 16:48] = MASK
    photo = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8)  # GrabCut needs some variance
    crop_mask = np.zeros((S, S), np.float32)
    crop_mask[40:, 16:48] = 1.0
    return photo, crop_mask, np.array([[1.0, 0, 0], [0, 1.0, 0]])


def _blue(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 2].astype(int) - pixels[..., 0]) > 80


def test_the_strip_below_the_crop_is_found_and_filled_and_nothing_else_changes():
    photo, crop_mask, matrix = _photo(mask_bottom=S + 10)
    region = below_crop.region_below(photo, crop_mask, matrix)
    assert region is not None
    strip = np.zeros(photo.shape[:2], bool)
    strip[S : S + 10, 16:48] = True
    assert region[strip].mean() > 0.95  # the hanging fabric
    assert not region[: S - 2].any()  # the crop is Face G's
    assert not region[S + 14 :].any() and not region[:, :12].any()  # not the skin around it, not the shirt
    photo[:S][crop_mask > 0] = SKIN  # what the pipeline does in between: the restored face pasted back
    before = photo.copy()
    below_crop.fill(photo, region)
    assert not _blue(photo[strip]).any()
    assert np.array_equal(photo[region == 0], before[region == 0])


def test_fabric_that_goes_on_down_is_left_alone():
    photo, crop_mask, matrix = _photo(mask_bottom=120)  # a gaiter: no lower edge in sight
    assert below_crop.region_below(photo, crop_mask, matrix) is None


def test_a_mask_inside_the_crop_adds_nothing():
    photo, crop_mask, matrix = _photo(mask_bottom=S)
    crop_mask[-1] = 0  # Mask G's mask ends above the crop's bottom edge
    assert below_crop.region_below(photo, crop_mask, matrix) is None


def test_the_strip_found_does_not_depend_on_what_ran_before():
    """GrabCut draws from OpenCV's global random state; the strip found for one face must be the same whatever
    moved that state before (other photos, other faces)."""
    import cv2
    import pytest

    from tests.conftest import ROOT
    from unmask_cli.faces import align, detect_faces
    from unmask_cli.images import read_rgb

    ort = pytest.importorskip("onnxruntime")
    rgb = read_rgb(ROOT / "samples" / "masked" / "rmfd_0001_0004.jpg")  # a strip GrabCut finds a little differently
    face = detect_faces(rgb, robust=True)[0]
    crop, matrix = align(rgb, face.landmarks, 128)
    session = ort.InferenceSession(str(ROOT / "exported" / "mask_g.onnx"), providers=["CPUExecutionProvider"])
    x = crop[None].astype(np.float32) / 127.5 - 1
    mask = (session.run(None, {session.get_inputs()[0].name: x})[0][0, ..., 0] > 0.5).astype(np.float32)
    regions = []
    for seed in range(1, 5):
        cv2.setRNGSeed(seed)  # what earlier GrabCut calls leave behind
        regions.append(below_crop.region_below(rgb, mask, matrix))
    assert regions[0] is not None
    assert all(np.array_equal(regions[0], r) for r in regions[1:])


def test_the_mask_beside_the_crop_is_found_on_either_side_and_nothing_else_changes():
    """A turned face's mask runs on past the crop's side edge: the photo of the strip test, transposed (the
    strip now runs past the right edge), and mirrored (past the left edge)."""
    photo, crop_mask, matrix = _photo(mask_bottom=S + 10)
    photo, crop_mask = np.ascontiguousarray(photo.transpose(1, 0, 2)), np.ascontiguousarray(crop_mask.T)
    assert below_crop.region_below(photo, crop_mask, matrix) is None  # nothing under this crop
    region = below_crop.region_beside(photo, crop_mask, matrix)
    assert region is not None
    strip = np.zeros(photo.shape[:2], bool)
    strip[16:48, S : S + 10] = True
    assert region[strip].mean() > 0.95 and not region[:, : S - 2].any() and not region[:, S + 14 :].any()
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    width = photo.shape[1]
    shift = np.array([[1.0, 0, -(width - S)], [0, 1.0, 0]])  # the crop is now the right S×S square
    left = below_crop.region_beside(mirrored, np.ascontiguousarray(crop_mask[:, ::-1]), shift)
    assert left is not None and np.array_equal(left, region[:, ::-1])
