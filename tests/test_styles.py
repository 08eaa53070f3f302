import cv2
import numpy as np
import pytest

from unmask_cli import registry

BUILT_IN = ["cloth", "gaiter", "kn95", "n95", "pattern", "surgical", "template"]


def test_all_built_in_styles_are_registered():
    assert set(BUILT_IN) <= set(registry.names(registry.SYNTHESIZERS))


@pytest.mark.parametrize("style", BUILT_IN)
def test_style_covers_mouth_and_nose_but_not_eyes(style, aligned_faces):
    synth = registry.load_synthesizer(style)
    for face_index, (crop, lm) in enumerate(aligned_faces):
        for seed in range(4):
            masked, mask = synth(crop, lm, np.random.default_rng([seed, face_index]))
            assert masked.shape == crop.shape and masked.dtype == np.uint8
            assert mask.shape == crop.shape[:2] and set(np.unique(mask)) <= {0, 1}
            pts = np.round(lm).astype(int)
            at = mask[pts[:, 1].clip(0, 127), pts[:, 0].clip(0, 127)]
            assert at[30] == 1, "nose tip not covered"
            assert at[48:68].all(), "mouth not covered"
            assert not at[36:48].any(), "an eye landmark is covered"
            # Pixels away from the mask are untouched; under it, the face really is hidden.
            outside = cv2.dilate(mask, np.ones((7, 7), np.uint8)) == 0
            assert np.array_equal(masked[outside], crop[outside])
            changed = np.abs(masked.astype(int) - crop.astype(int)).sum(2)
            assert (changed[mask == 1] > 0).mean() > 0.9
            assert 0.1 < mask.mean() < 0.6


@pytest.mark.parametrize("style", BUILT_IN)
def test_style_is_deterministic_for_a_seed(style, aligned_faces):
    synth = registry.load_synthesizer(style)
    crop, lm = aligned_faces[0]
    a = synth(crop, lm, np.random.default_rng(7))
    b = synth(crop, lm, np.random.default_rng(7))
    c = synth(crop, lm, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_mask_follows_head_tilt(aligned_faces):
    crop, lm = aligned_faces[0]
    centre = (64.0, 64.0)
    turn = cv2.getRotationMatrix2D(centre, 20, 1.0)
    tilted = cv2.warpAffine(crop, turn, (128, 128), borderMode=cv2.BORDER_REFLECT_101)
    tilted_lm = lm @ turn[:, :2].T + turn[:, 2]
    synth = registry.load_synthesizer("surgical")
    _, upright_mask = synth(crop, lm, np.random.default_rng(0))
    _, tilted_mask = synth(tilted, tilted_lm, np.random.default_rng(0))
    expected = cv2.warpAffine(upright_mask, turn, (128, 128), flags=cv2.INTER_NEAREST)
    inter = np.logical_and(expected, tilted_mask).sum()
    union = np.logical_or(expected, tilted_mask).sum()
    assert inter / union > 0.85  # the mask turned with the head, not an axis-aligned box
