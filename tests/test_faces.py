import numpy as np
import pytest

from unmask_cli.faces import (
    ALIGN_POINTS,
    CROP_TEMPLATE,
    align,
    detect_faces,
    inverse_matrix,
    similarity_transform,
    transform_points,
)
from unmask_cli.images import read_rgb


def test_landmarks_on_real_photos(face_photos):
    for path in face_photos:
        rgb = read_rgb(path)
        faces = detect_faces(rgb)
        assert len(faces) == 1, path
        lm = faces[0].landmarks
        assert lm.shape == (68, 2)
        left, _, right, _ = faces[0].box
        # Eyes above the nose tip above the mouth, all inside a slightly grown box.
        assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean()
        assert (lm[:, 0] > left - 20).all() and (lm[:, 0] < right + 20).all()
        assert lm[36:42, 0].mean() < lm[42:48, 0].mean()


def test_alignment_puts_eyes_on_the_template(aligned_faces):
    for _, lm in aligned_faces:
        err = np.abs(lm[ALIGN_POINTS] - CROP_TEMPLATE[ALIGN_POINTS] * 128).mean()
        assert err < 4.0


def test_alignment_follows_rotation(face_photos):
    import cv2

    rgb = read_rgb(face_photos[0])
    h, w = rgb.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    rotated = cv2.warpAffine(rgb, turn, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    upright_crop, _ = align(rgb, detect_faces(rgb)[0].landmarks, 128)
    rotated_crop, _ = align(rotated, detect_faces(rotated)[0].landmarks, 128)
    # The aligned crops of the upright and the tilted photo show the same face, the same way up.
    inner = (slice(30, 100), slice(30, 100))
    diff = np.abs(upright_crop[inner].astype(int) - rotated_crop[inner].astype(int)).mean()
    assert diff < 20


def test_inverse_matrix_round_trips_points():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 500, (20, 2))
    angle, scale, shift = 0.4, 0.3, np.array([12.0, -40.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    assert np.allclose(transform_points(m, src), dst, atol=1e-3)
    back = transform_points(inverse_matrix(m), transform_points(m, src))
    assert np.allclose(back, src, atol=1e-2)


def test_mask_where_a_mask_belongs():
    import cv2

    from unmask_cli.faces import mask_where_a_mask_belongs

    size = 128
    pts = CROP_TEMPLATE * (size - 1)
    lower = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(np.vstack([pts[2:15], pts[28:29]])).astype(np.int32))
    cv2.fillConvexPoly(lower, hull, 1)
    assert mask_where_a_mask_belongs(lower)  # nose, mouth and chin covered, eyes free
    over_eyes = lower.copy()
    over_eyes[int(pts[36:48, 1].min()) - 3 :, :] = 1
    assert not mask_where_a_mask_belongs(over_eyes)
    up_to_lower_lids = lower.copy()  # worn high: the top edge reaches the lower lids, the eyes stay open
    up_to_lower_lids[int(pts[[40, 41, 46, 47], 1].max()) :, int(pts[36, 0]) : int(pts[45, 0]) + 1] = 1
    assert mask_where_a_mask_belongs(up_to_lower_lids)
    one_eye = lower.copy()
    one_eye[int(pts[36:42, 1].min()) - 2 :, : int(pts[39, 0]) + 2] = 1
    assert not mask_where_a_mask_belongs(one_eye)
    speck = np.zeros_like(lower)
    speck[int(pts[30, 1]) - 2 : int(pts[30, 1]) + 2, int(pts[30, 0]) - 2 : int(pts[30, 0]) + 2] = 1
    assert not mask_where_a_mask_belongs(speck)  # a blob on the nose tip alone is not a face mask


def test_a_restored_crop_must_look_like_a_face(aligned_faces):
    """The check fallback detections must pass: real faces yes; texture, a face upside down or sideways no."""
    import cv2

    from unmask_cli.faces import restored_is_a_face

    for crop, _ in aligned_faces:
        assert restored_is_a_face(crop)
    crop = aligned_faces[0][0]
    noise = np.random.default_rng(0).integers(0, 256, crop.shape, dtype=np.uint8)
    assert not restored_is_a_face(cv2.GaussianBlur(noise, (0, 0), 1.5))
    assert not restored_is_a_face(np.ascontiguousarray(crop[::-1]))
    assert not restored_is_a_face(np.ascontiguousarray(np.rot90(crop)))


@pytest.mark.parametrize("shape", [(50, 4000), (4000, 40)])
def test_a_thin_strip_finds_no_face_instead_of_failing_inside_dlib(shape):
    # dlib's CNN raised a tensor error on such strips once they were downscaled to a few pixels
    from unmask_cli.faces import detect_faces

    strip = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert detect_faces(strip, robust=True) == []


@pytest.mark.parametrize("corner", [(0.5, 0.5), (0.02, 0.03), (0.97, 0.95)])
def test_a_big_face_is_cropped_from_its_own_box_as_from_the_whole_photo(face_photos, corner):
    """A face far bigger than the crop is shrunk before warping; only the box under the crop is (the whole photo,
    once per face, made big group photos slow). The crop must be what shrinking the whole photo gives — to
    resampling, not missing a piece — also where the crop runs off the photo's edge and is mirrored in."""
    import cv2

    from unmask_cli.faces import alignment_matrix, crop_scale

    rgb = read_rgb(face_photos[0])
    lm = detect_faces(rgb)[0].landmarks
    big = cv2.resize(rgb, None, fx=12, fy=12, interpolation=cv2.INTER_CUBIC)
    photo = np.zeros((big.shape[0] * 2, big.shape[1] * 2, 3), np.uint8)
    photo[:] = (40, 90, 160)
    centre = lm.mean(0) * 12
    y, x = (int(corner[1] * photo.shape[0] - centre[1]), int(corner[0] * photo.shape[1] - centre[0]))
    ys, xs = (
        slice(max(y, 0), min(y + big.shape[0], photo.shape[0])),
        slice(max(x, 0), min(x + big.shape[1], photo.shape[1])),
    )
    photo[ys, xs] = big[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
    landmarks = lm * 12 + (x, y)
    crop, matrix = align(photo, landmarks, 128)
    scale = crop_scale(alignment_matrix(landmarks, 128))
    assert scale < 0.5  # the pre-shrunk path
    whole = cv2.resize(photo, None, fx=2 * scale, fy=2 * scale, interpolation=cv2.INTER_AREA)
    shrunk = matrix.copy()
    shrunk[:, :2] /= 2 * scale
    expected = cv2.warpAffine(whole, shrunk, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    diff = np.abs(crop.astype(int) - expected).mean(-1)
    inside = cv2.warpAffine(np.ones(photo.shape[:2], np.uint8), matrix, (128, 128), flags=cv2.INTER_NEAREST) > 0
    assert diff[inside].mean() < 1.5 and np.percentile(diff[inside], 99) < 12
    if not inside.all():  # mirrored in about an edge that resampling puts a fraction of a pixel apart
        assert diff[~inside].mean() < 8


@pytest.mark.parametrize("shape", [(33, 20000, 3), (20000, 33, 3)])
def test_a_strip_far_longer_than_wide_finds_nothing_without_an_error(shape):
    """Shrunk to detection's 1,024 px, a 20000×33 strip was 0 px high: an OpenCV error as the skip reason."""
    strip = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert detect_faces(strip, robust=True) == []
