"""BlazeFace, the detector that finds masked faces dlib misses: decoding, suppression, and a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT
from unmask_cli import blazeface, faces
from unmask_cli.images import read_rgb

HARD = ROOT / "samples" / "hard" / "rmfd_0001_0099.jpg"  # a black mask, frontal: dlib's HOG and CNN miss it

pytestmark = pytest.mark.skipif(not blazeface.available(), reason="needs onnxruntime (an inference extra)")


@pytest.mark.parametrize("variant", [blazeface.SHORT_RANGE, blazeface.FULL_RANGE])
def test_one_anchor_per_model_output_row(variant):
    session, centres = blazeface._model(variant)
    x = np.zeros((1, variant.size, variant.size, 3), np.float32)
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    assert all(o.shape[1] == len(centres) for o in outputs)
    assert centres.min() > 0 and centres.max() < 1


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    kept = blazeface.weighted_nms(boxes, scores)
    assert [round(s, 2) for _, s in kept] == [0.9, 0.7]
    np.testing.assert_allclose(kept[0][0], [0.4, 0.4, 10.4, 10.4], atol=1e-5)  # (0.9·0 + 0.6·1) / 1.5
    np.testing.assert_allclose(kept[1][0], [50, 50, 60, 60])


def test_boxes_agree_with_hog_on_clean_faces(face_photos):
    for path in face_photos:
        rgb = read_rgb(path)
        (hog,) = faces.detect_faces(rgb)
        found = blazeface.detect(rgb)
        assert len(found) == 1, path
        assert blazeface.box_iou(hog.box, [found[0][0]])[0] > 0.6, path


def test_a_masked_face_dlib_misses_is_found_with_usable_landmarks():
    rgb = read_rgb(HARD)
    assert faces.detect_faces(rgb) == []  # HOG alone
    (face,) = faces.detect_faces(rgb, robust=True)
    assert face.detector == "blaze" and face.score >= faces.BLAZE_TRUSTED_SCORE
    left, top, right, bottom = face.box
    eyes = face.landmarks[faces.EYES]
    assert (eyes[:, 0] > left).all() and (eyes[:, 0] < right).all()
    assert (eyes[:, 1] > top).all() and (eyes[:, 1] < (top + bottom) / 2).all()  # eyes in the box's upper half


def test_the_missed_face_is_restored_end_to_end(tmp_path):
    from unmask_cli.pipeline import Unmasker

    results = []
    summary = Unmasker(ROOT / "exported", workers=1).run([HARD], tmp_path, on_result=results.append)
    assert summary.restored == 1 and summary.masks_in_place == 1
    assert results[0].faces[0].detector == "blaze"


def test_without_blazeface_detection_goes_on_with_dlib(monkeypatch):
    monkeypatch.setattr(blazeface, "available", lambda: False)
    found = faces.detect_faces(read_rgb(HARD), robust=True)
    assert all(not f.detector.startswith("blaze") for f in found)


def test_a_group_photo_gets_the_masked_face_hog_missed_and_no_face_twice(face_photos):
    import cv2

    bare = read_rgb(face_photos[0])
    masked = cv2.resize(read_rgb(HARD), (bare.shape[1] * 256 // bare.shape[0], 256))
    group = np.hstack([cv2.resize(bare, (bare.shape[1] * 256 // bare.shape[0], 256)), masked])
    found = faces.detect_faces(group, robust=True)
    assert sorted(f.detector.split("-")[0] for f in found) == ["blaze", "hog"]  # "blaze-low" when scored < 0.6
    hog, blaze = sorted(found, key=lambda f: f.detector != "hog")
    assert hog.box[2] < group.shape[1] - masked.shape[1] <= blaze.box[0]  # one face on each side
    alone = faces.detect_faces(bare, robust=True)
    assert [f.detector for f in alone] == ["hog"]  # BlazeFace's box of the same face is not a second face


@pytest.mark.parametrize("height, width", [(1024, 768), (300, 1024), (1024, 1024), (800, 800)])
def test_tiles_cover_the_photo_and_hold_every_small_face_whole(height, width):
    windows = blazeface.tiles(height, width)
    covered = np.zeros((height, width), bool)
    for left, top, right, bottom in windows:
        covered[top:bottom, left:right] = True
    assert covered.all()
    half = min(right - left for left, _, right, _ in windows) // 2
    rng = np.random.default_rng(0)
    for _ in range(50):  # a face of half a window, anywhere, fits whole in some window
        x, y = rng.integers(0, width - half), rng.integers(0, height - half)
        assert any(lt <= x and x + half <= r and t <= y and y + half <= b for lt, t, r, b in windows)
    assert blazeface.tiles(512, 700) == []  # small photos: the whole-photo pass sees their faces


def test_a_small_masked_face_in_a_big_photo_is_found_in_a_tile(monkeypatch):
    import cv2

    canvas = np.full((1200, 1600, 3), 128, np.uint8)
    canvas[-500:, -500:] = cv2.resize(read_rgb(HARD), (500, 500))  # the face: ~9% of the photo's width
    found = faces.detect_faces(canvas, robust=True)
    assert [f.detector for f in found] == ["blaze"]
    left, top, right, bottom = found[0].box
    assert 1100 < left < right < 1600 and 700 < top < bottom < 1200
    monkeypatch.setattr(blazeface, "TILE_FROM", 10**6)  # the whole-photo pass alone misses it
    assert not any(f.detector == "blaze" for f in faces.detect_faces(canvas, robust=True))


def test_fast_mode_keeps_blazeface_and_drops_the_slow_fallbacks(monkeypatch):
    from unmask_cli import pipeline

    monkeypatch.setattr(faces, "_cnn_detector", lambda: pytest.fail("--fast ran dlib's CNN"))
    (face,) = pipeline.find_faces(read_rgb(HARD), robust=False)
    assert face.detector == "blaze"
