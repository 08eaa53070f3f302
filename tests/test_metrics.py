"""Metric functions against hand-computed values and scikit-image."""

import warnings

import numpy as np
import pytest

from unmask_cli import metrics

skimage_metrics = pytest.importorskip("skimage.metrics")


def test_iou_and_dice_on_hand_made_masks():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[0:4, 0:5] = True  # 20 px
    b[2:6, 0:5] = True  # 20 px, 10 shared
    assert metrics.iou(a, b) == pytest.approx(10 / 30)
    assert metrics.dice(a, b) == pytest.approx(20 / 40)
    assert metrics.iou(a, a) == 1.0 and metrics.iou(a, ~a) == 0.0
    assert metrics.iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_psnr_matches_hand_value_and_skimage():
    truth = np.full((8, 8, 3), 0.5)
    noisy = truth + 0.1
    assert metrics.psnr(noisy, truth) == pytest.approx(20.0)  # 10*log10(1/0.01)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert metrics.psnr(a, b) == pytest.approx(skimage_metrics.peak_signal_noise_ratio(b, a), abs=1e-6)
    region = np.zeros((32, 32), bool)
    region[:, :16] = True
    assert metrics.psnr(a, b, region) == pytest.approx(
        skimage_metrics.peak_signal_noise_ratio(b[:, :16], a[:, :16]), abs=1e-6
    )


def test_ssim_matches_skimage():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (48, 48, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    ours = metrics.ssim(b, a)
    _, full = skimage_metrics.structural_similarity(
        b, a, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True
    )
    reference = full.mean(axis=2)[5:-5, 5:-5].mean()
    assert ours == pytest.approx(reference, abs=2e-3)
    assert metrics.ssim(a, a) == pytest.approx(1.0)


def test_texture_ratio_rewards_detail_not_blur():
    import cv2

    rng = np.random.default_rng(2)
    truth = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 1
    blurred = cv2.GaussianBlur(truth, (0, 0), 3)
    assert metrics.texture_ratio(truth, truth, mask) == pytest.approx(1.0)
    assert metrics.texture_ratio(blurred, truth, mask) < 0.1


def test_region_scores_skip_empty_regions_and_match_the_single_figures():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    out = np.clip(truth.astype(int) + rng.integers(-20, 21, truth.shape), 0, 255).astype(np.uint8)
    region = np.zeros((2, 32, 32), bool)
    region[0, 8:24, 8:24] = True  # the second face has nothing to fill: it must not count
    scores = metrics.region_scores(out, truth, region)
    assert scores["samples"] == 1
    assert scores["psnr_masked"] == metrics.psnr(out[0], truth[0], region[0])
    assert scores["ssim_masked"] == metrics.ssim(out[0], truth[0], region[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no faces to score is an answer (NaN), not numpy's empty-slice warning
        empty = metrics.region_scores(out, truth, np.zeros_like(region))
    assert np.isnan(empty["psnr_masked"]) and np.isnan(empty["texture_ratio"]) and empty["samples"] == 0
