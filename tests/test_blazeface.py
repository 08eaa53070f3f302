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


def test_a_box_guessed_around_a_face_too_small_for_its_view_gives_way_to_the_sharper_views_box():
    """The short-range model on a quarter tile (0.5 input px per photo px) sees a 20 px face at 10 px and boxes a
    region twice its size, scoring higher than the full-range model's right box (0.75 px per px). Faces don't nest:
    one of the two is kept, and it must be the sharper view's. A big face's box, with a part of it boxed by a finer
    view, stays: its view sees that part at 20 px, big enough to trust the big box."""
    face = np.array([[100.0, 100, 120, 120]])
    oversized = np.array([[90.0, 90, 130, 130]])
    kept = blazeface.weighted_nms(np.concatenate([oversized, face]), np.array([0.8, 0.6]), sharpness=[0.5, 0.75])
    assert len(kept) == 1 and np.allclose(kept[0][0], face[0]) and kept[0][1] == 0.6

    big = np.array([[100.0, 100, 200, 200]])
    part = np.array([[110.0, 140, 150, 190]])  # 40 px: 20 px at the big box's view
    kept = blazeface.weighted_nms(np.concatenate([big, part]), np.array([0.9, 0.6]), sharpness=[0.5, 1.5])
    assert len(kept) == 1 and np.allclose(kept[0][0], big[0])


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


def _tiles(height: int, width: int) -> list[tuple[int, int, int, int]]:
    return [window for level in blazeface.tile_levels(height, width) for window in level]


@pytest.mark.parametrize("height, width", [(1024, 768), (300, 1024), (1024, 1024), (800, 800)])
def test_tiles_cover_the_photo_and_hold_every_small_face_whole(height, width):
    windows = _tiles(height, width)
    covered = np.zeros((height, width), bool)
    for left, top, right, bottom in windows:
        covered[top:bottom, left:right] = True
    assert covered.all()
    half = min(right - left for left, _, right, _ in windows) // 2
    rng = np.random.default_rng(0)
    for _ in range(50):  # a face of half a window, anywhere, fits whole in some window
        x, y = rng.integers(0, width - half), rng.integers(0, height - half)
        assert any(lt <= x and x + half <= r and t <= y and y + half <= b for lt, t, r, b in windows)
    assert _tiles(512, 700) == []  # small photos: the whole-photo pass sees their faces


def test_big_photos_are_tiled_at_half_and_at_a_quarter_of_their_side():
    sizes = {right - left for left, _, right, _ in _tiles(768, 1024)}
    assert sizes == {512, 256}
    assert {right - left for left, _, right, _ in _tiles(800, 800)} == {400}  # 200 < MIN_TILE


def _masked_face_in_a_phone_photo(share: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 4000×3000 photo holding one of the README's masked faces, its detected box `share` of the photo's width."""
    import cv2

    photo = read_rgb(ROOT / "samples" / "masked" / "rmfd_0001_0004.jpg")
    left, top, right, bottom = faces.detect_faces(photo, robust=True)[0].box
    scale = share * 4000 / (right - left)
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((3000, 4000, 3), 110, np.uint8)
    canvas[900 : 900 + small.shape[0], 2100 : 2100 + small.shape[1]] = small
    box = (2100 + left * scale, 900 + top * scale, 2100 + right * scale, 900 + bottom * scale)
    return canvas, tuple(round(v) for v in box)


def test_a_face_of_2_5_percent_of_a_phone_photo_is_found_in_a_quarter_tile(monkeypatch):
    canvas, box = _masked_face_in_a_phone_photo(0.025)
    (found,) = faces.detect_faces(canvas, blaze=True)
    assert found.detector.startswith("blaze") and blazeface.box_iou(found.box, [box])[0] > 0.5
    monkeypatch.setattr(blazeface, "MIN_TILE", 512)  # half-size tiles alone (session 8) miss it
    assert faces.detect_faces(canvas, blaze=True) == []


def test_one_face_found_at_two_scales_is_one_face(monkeypatch):
    # the whole photo, half and quarter tiles each see the face: boxes of different sizes, one inside the other
    canvas, box = _masked_face_in_a_phone_photo(0.02)
    (found,) = faces.detect_faces(canvas, blaze=True)
    assert blazeface.box_iou(found.box, [box])[0] > 0.5
    monkeypatch.setattr(blazeface, "NESTED", 2.0)  # suppressing by IoU alone: the face twice
    assert len(faces.detect_faces(canvas, blaze=True)) == 2


def test_a_box_too_small_for_its_window_is_left_to_the_finer_windows(monkeypatch):
    # a face of a few pixels at the model's input: the coarse window guesses its box; the finer windows see it
    def fake_raw(rgb, variant):
        side = max(rgb.shape[:2])
        if side < 1000:  # a tile: nothing there
            return np.zeros((0, 4)), np.zeros(0)
        tiny = side * 10 / variant.size  # 10 px at the model's input
        return np.array([[100.0, 100.0, 100 + tiny, 100 + tiny]]), np.array([0.9])

    monkeypatch.setattr(blazeface, "_raw", fake_raw)
    assert blazeface.detect(np.zeros((768, 1024, 3), np.uint8)) == []  # tiled: dropped
    monkeypatch.setattr(blazeface, "TILE_FROM", 10**6)
    assert len(blazeface.detect(np.zeros((768, 1024, 3), np.uint8))) == 1  # nothing finer: kept


def test_a_small_face_boxed_twice_its_size_is_boxed_again_at_its_size(face_photos):
    """`blazeface.refine`: a box around a 24 px face but twice its size (what BlazeFace gives when it sees a face
    at 10 px) is looked at again in a window four times its width, where the face shows at ~48 px: the new box fits
    the face. Over a blank wall the box is left as it was."""
    import cv2

    photo = read_rgb(face_photos[0])
    box = blazeface.detect(photo)[0].box
    scale = 24 / (box[2] - box[0])
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((600, 800, 3), 110, np.uint8)
    frame[300 : 300 + small.shape[0], 400 : 400 + small.shape[1]] = small
    truth = np.array(box, float) * scale + [400, 300, 400, 300]
    centre, side = (truth[:2] + truth[2:]) / 2, 2 * (truth[2] - truth[0])
    oversized = np.concatenate([centre - side / 2, centre + side / 2])
    assert blazeface.box_iou(oversized, truth[None])[0] < 0.3
    assert blazeface.box_iou(blazeface.refine(frame, oversized), truth[None])[0] > 0.6

    wall = np.array([100.0, 100, 148, 148])
    assert np.array_equal(blazeface.refine(frame, wall), wall)


def _eyes(landmarks: np.ndarray) -> np.ndarray:
    return np.array([landmarks[faces.LEFT_EYE].mean(0), landmarks[faces.RIGHT_EYE].mean(0)])


def test_blazefaces_eye_points_are_dlibs_eye_centres_on_clean_faces(face_photos):
    """The check of dlib's landmarks rests on BlazeFace's first two points being the eyes, in dlib's order, and on
    a HOG-like box placed from them."""
    for path in face_photos:
        rgb = read_rgb(path)
        (hog,) = faces.detect_faces(rgb)
        (found,) = blazeface.detect(rgb)
        assert found.keypoints.shape == (6, 2)
        assert faces.eye_disagreement(hog.landmarks, found.keypoints) < 0.15, path
        assert blazeface.box_iou(faces.box_from_eyes(found.keypoints), [hog.box])[0] > 0.6, path


def test_landmarks_fitted_off_the_face_are_fitted_again_from_blazefaces_eyes(face_photos):
    """dlib's shape predictor started from a box a third of a face too low (as on some masked faces) puts the eyes
    on the cheeks; BlazeFace's eye points catch it and the fit from boxes around them finds the eyes again. Eye
    points outside the photo, or on a face too small for them to be precise, leave dlib's landmarks as they were."""
    for path in face_photos:
        rgb = read_rgb(path)
        (hog,) = faces.detect_faces(rgb)
        keypoints = blazeface.detect(rgb)[0].keypoints
        left, top, right, bottom = hog.box
        low = (bottom - top) // 3
        off = faces.landmarks_for_box(rgb, (left, top + low, right, bottom + low))
        assert faces.eye_disagreement(off, keypoints) > faces.EYES_DISAGREE, path
        checked = faces.checked_landmarks(rgb, off, keypoints)
        eye_distance = np.linalg.norm(keypoints[1] - keypoints[0])
        assert np.abs(_eyes(checked) - _eyes(hog.landmarks)).max() < 0.1 * eye_distance, path

        outside = keypoints - [0, keypoints[:2, 1].max() + 1]  # eye points above the photo's top edge
        assert faces.checked_landmarks(rgb, off, outside) is off
        tiny = (keypoints - keypoints[0]) * 0.1 + keypoints[0]  # a face of a few pixels: not checked
        assert faces.checked_landmarks(rgb, off, tiny) is off


def test_detection_checks_the_landmarks_of_faces_hog_found(face_photos, monkeypatch):
    """In `detect_faces`, BlazeFace's box of a face HOG found is not a second face, but its eye points check the
    landmarks dlib placed from HOG's box."""
    rgb = read_rgb(face_photos[0])
    (hog,) = faces.detect_faces(rgb)
    fit = faces.landmarks_for_box
    left, top, right, bottom = hog.box
    low = (bottom - top) // 3

    def off_from_hogs_box(image, box):  # dlib missing the eyes from HOG's box, as on a masked face
        return fit(image, (left, top + low, right, bottom + low) if tuple(box) == hog.box else box)

    monkeypatch.setattr(faces, "landmarks_for_box", off_from_hogs_box)
    (found,) = faces.detect_faces(rgb, robust=True)
    assert found.detector == "hog" and found.keypoints is not None
    eye_distance = np.linalg.norm(found.keypoints[1] - found.keypoints[0])
    assert np.abs(_eyes(found.landmarks) - _eyes(hog.landmarks)).max() < 0.1 * eye_distance
    monkeypatch.setattr(faces, "EYES_DISAGREE", float("inf"))  # unchecked: the eyes stay on the cheeks
    (unchecked,) = faces.detect_faces(rgb, robust=True)
    assert np.abs(_eyes(unchecked.landmarks) - _eyes(hog.landmarks)).max() > 0.2 * eye_distance
