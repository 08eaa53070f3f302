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
        assert blazeface._iou(np.array(hog.box, float), np.array([found[0][0]], float))[0] > 0.6, path


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
