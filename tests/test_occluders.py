import numpy as np
import pytest

from unmask_cli.face_template import TEMPLATE_68
from unmask_cli.occluders import MOUTH, draw_hand, skin_tone

SIZE = 128
SKIN = np.array([0.78, 0.58, 0.47], np.float32)
BACKGROUND = np.array([0.2, 0.35, 0.8], np.float32)  # a blue wall: far from any skin tone


def _face() -> np.ndarray:
    """A flat skin-coloured face on a blue background, with dark eyes, in the template's coordinates."""
    import cv2

    face = np.broadcast_to(BACKGROUND, (SIZE, SIZE, 3)).copy()
    hull = cv2.convexHull((TEMPLATE_68 * SIZE).astype(np.int32))
    cv2.fillConvexPoly(face, hull, SKIN.tolist())
    cv2.rectangle(face, (0, 0), (SIZE, int(0.3 * SIZE)), SKIN.tolist(), -1)  # forehead
    for eye in (TEMPLATE_68[36:42], TEMPLATE_68[42:48]):
        cv2.fillConvexPoly(face, (eye * SIZE).astype(np.int32), (0.1, 0.1, 0.1))
    return face


def test_skin_tone_reads_the_cheeks():
    assert np.allclose(skin_tone(_face()), SKIN, atol=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_a_hand_is_drawn_over_the_mouth_in_the_faces_skin_tone(seed):
    face = _face()
    out, cover = draw_hand(face, np.random.default_rng(seed))
    assert out.shape == face.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    changed = np.abs(out - face).max(-1) > 0.05
    x, y = (MOUTH * SIZE).astype(int)
    assert changed[y - 10 : y + 11, x - 10 : x + 11].mean() > 0.1  # on the mouth (one finger across it at least)
    assert not changed[: int(0.3 * SIZE)].any()  # the eyes and the forehead stay the face's own
    # the hand's pixels: nearer the person's skin than the wall's blue (lit and shaded, but the same tone)
    hand_pixels = out[changed & (np.abs(out - BACKGROUND).sum(-1) > 0.3)]
    assert np.median(np.abs(hand_pixels - SKIN).sum(-1)) < np.median(np.abs(hand_pixels - BACKGROUND).sum(-1))
    assert np.array_equal(out, draw_hand(face, np.random.default_rng(seed))[0])
    assert cover.shape == face.shape[:2] and (cover[changed] > 0).mean() > 0.8  # what changed is the hand's


def test_hands_mostly_cover_the_mouth_and_differ_from_draw_to_draw():
    face = _face()
    outs = [draw_hand(face, np.random.default_rng(seed))[0] for seed in range(20)]
    covered = [np.abs(o - face).max(-1) > 0.05 for o in outs]
    x, y = (MOUTH * SIZE).astype(int)
    assert np.median([c[y - 10 : y + 11, x - 10 : x + 11].mean() for c in covered]) > 0.6
    overlaps = [(a & b).sum() / (a | b).sum() for i, a in enumerate(covered) for b in covered[i + 1 :]]
    assert min(overlaps) < 0.6  # poses vary: up from below, across from either side


def test_a_hand_in_front_of_a_mask_takes_the_skin_of_the_face_without_it():
    face = _face()
    masked = face.copy()
    masked[int(0.55 * SIZE) :, int(0.2 * SIZE) : int(0.8 * SIZE)] = (0.1, 0.1, 0.1)  # a black mask over the cheeks
    out, cover = draw_hand(masked, np.random.default_rng(0), skin_from=face)
    hand = out[cover > 0.99]
    assert np.median(np.abs(hand - SKIN).sum(-1)) < np.median(np.abs(hand - 0.1).sum(-1))
