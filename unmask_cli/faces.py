"""Faces: detection, the 68 dlib landmarks, alignment to an S×S crop and its exact inverse.

Alignment is a similarity transform fitted (least squares) from the eye and nose-bridge landmarks to a mean
FFHQ-style template (a tighter frame than FFHQ's). Those points stay visible above a face mask, so clean
training faces and masked faces at inference are framed the same way.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from unmask_cli.face_template import TEMPLATE_68

# Landmark index ranges of dlib's 68-point model.
JAW = slice(0, 17)
NOSE_BRIDGE = slice(27, 31)
NOSE = slice(27, 36)
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
EYES = slice(36, 48)
MOUTH = slice(48, 68)
ALIGN_POINTS = np.r_[27:31, 36:48]  # nose bridge + both eyes: unaffected by a mask
# The crop is FFHQ's square zoomed in 1.2x around a point below its centre: FFHQ's frame is loose
# (half of it hair and background), and a tighter frame spends the S×S pixels on the face and the mask.
CROP_ZOOM = 1.2
CROP_CENTER = np.array([0.5, 0.6])
CROP_TEMPLATE = (TEMPLATE_68 - CROP_CENTER) * CROP_ZOOM + 0.5
# Models are trained on crops framed this way; exported models record it and the pipeline checks it.
ALIGNMENT_ID = "ffhq68-mean/zoom1.2/centre0.5,0.6/eyes+bridge"
DETECT_MAX_SIDE = 1024  # detect on a downscaled copy of big photos; landmarks run at full resolution
CNN_MAX_SIDE = 640  # the CNN detector's cost grows fast with pixels; it finds faces down to ~40 px upsampled
CNN_MIN_SIDE = 32  # and it cannot run on a photo thinner than this once downscaled (a 50×4000 strip)
LOW_HOG_THRESHOLD = -0.5  # last resort for masked faces: weaker HOG responses
# BlazeFace's own threshold is 0.5; between 0.5 and this its hits are verified like other fallbacks' (on the real
# photos and their cut-outs, the hits under 0.6 were a hand, a wall, fabric and a face in a crowd)
BLAZE_TRUSTED_SCORE = 0.6
# dlib's shape predictor starts from the detector's box and, on a masked face, can settle a quarter of a face too
# low or too high, taking the mask's top edge for the lower lids. BlazeFace's eye points come from the face as a
# whole. Where dlib's eye centres stray further than this (in eye distances) from them, dlib fits the landmarks
# again in boxes placed from BlazeFace's eyes (`checked_landmarks`). On bare UTKFace faces the two agree to 0.03
# at the median; on the real masked photos 14% of the faces stray further.
EYES_DISAGREE = 0.3
# ... on faces big enough for BlazeFace's points to be precise: on faces 12-27 px wide in crowd photos its eye points
# lay too far apart, and dlib fitted to them framed the face twice too big
EYE_CHECK_MIN_DISTANCE = 15.0  # px between BlazeFace's eyes: faces of ~35 px and more
# Where dlib's HOG detector puts its box, measured on 149 bare UTKFace faces: its centre 0.066 eye distances along
# the eye line and 0.54 below it from the eyes' midpoint, its side 2.26 eye distances.
HOG_BOX_FROM_EYES = (0.066, 0.54, 2.26)
REFIT_BOXES = [(scale, shift) for scale in (1.0, 0.9, 1.1) for shift in (0.0, -0.08, 0.08)]
ROTATIONS = (-20.0, 20.0)  # head tilts the frontal detectors miss
# A photo stored on its side or upside down with no EXIF orientation to undo it (a scan, a screenshot, an app that
# strips EXIF): np.rot90's turns, tried in this order when nothing else finds a face
QUARTER_TURNS = (1, 3, 2)
TURN_SEARCH = True  # off only to measure what the search buys (benchmarks/turned_photos.py)
# Which way up, asked of BlazeFace's short-range model on a copy this small, and where it leans to a turn but not
# clearly, of both its models on a bigger copy (thorough); a turn must beat the photo as it is by TURN_MARGIN of its
# score. On 67 real masked photos upright none was turned (the thorough look ran on 7); turned a quarter either way
# or upside down, 37-45 of 67 were (the rest are left to BlazeFace's points, the faces' own check below and the last
# resort).
TURN_PROBE_SIDE = 256
TURN_PROBE_THOROUGH = 512
TURN_MARGIN = 0.15
# ... and a face found upright is upside down when BlazeFace's short-range model scores its loose frame (FLIP_FRAME
# px) turned over this much higher than as it is, or by the weak lead when the whole photo turned over leads by the
# weak margin too. Together, on the same photos: 0 of 67 upright taken for upside down, 51 of 67 upside down found.
FLIP_FRAME = 192
FLIP_LEAD = 0.15
FLIP_LEAD_WEAK = 0.02
TURN_MARGIN_WEAK = 0.05
WEAK_HOG_THRESHOLD = -0.9  # candidates that need verifying before use
WEAK_MAX_SIDE = 640
WEAK_MIN_FRACTION = 0.25  # a weak candidate's box must be at least this share of the photo's shorter side


class ModelFilesMissing(RuntimeError):
    pass


def model_dir() -> Path:
    """Folder of dlib's model files from `face-recognition-models`, found without importing the package.

    Importing it pulls in `pkg_resources`, which setuptools ≥ 81 no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissing("package 'face-recognition-models' is not installed (pip install unmask)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_file(name: str) -> Path:
    path = model_dir() / name
    if not path.is_file():
        raise ModelFilesMissing(f"dlib model file missing: {path}")
    return path


@cache
def _frontal_detector():
    import dlib

    return dlib.get_frontal_face_detector()


@cache
def _shape_predictor():
    import dlib

    return dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))


@cache
def _cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in photo pixels
    landmarks: np.ndarray  # 68×2 float32, x,y in photo pixels
    score: float
    detector: str = "hog"  # which detector found it: hog, blaze, cnn, hog-low, ...
    keypoints: np.ndarray | None = None  # BlazeFace's six points where it found this face (`blazeface.Detection`)


def landmarks_for_box(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    import dlib

    shape = _shape_predictor()(rgb, dlib.rectangle(*map(int, box)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_disagreement(landmarks: np.ndarray, keypoints: np.ndarray) -> float:
    """How far dlib's eye centres lie from BlazeFace's eye points, in BlazeFace's eye distances."""
    eyes = np.array([landmarks[LEFT_EYE].mean(0), landmarks[RIGHT_EYE].mean(0)])
    distance = max(float(np.linalg.norm(keypoints[1] - keypoints[0])), 1e-6)
    return float(np.linalg.norm(eyes - keypoints[:2], axis=1).max()) / distance


def box_from_eyes(keypoints: np.ndarray, scale: float = 1.0, shift: float = 0.0) -> tuple[int, int, int, int]:
    """The box dlib's HOG detector would draw around a face with these (BlazeFace) eye points; `scale` times that
    size, moved down by `shift` of its side."""
    left_eye, right_eye = keypoints[0].astype(np.float64), keypoints[1].astype(np.float64)
    distance = max(float(np.linalg.norm(right_eye - left_eye)), 1e-6)
    along = (right_eye - left_eye) / distance
    down = np.array([-along[1], along[0]])
    ahead, below, side = HOG_BOX_FROM_EYES
    side *= distance * scale
    centre = (left_eye + right_eye) / 2 + distance * (ahead * along + below * down) + (0.0, shift * side)
    return tuple(round(float(v)) for v in (*(centre - side / 2), *(centre + side / 2)))


def checked_landmarks(rgb: np.ndarray, landmarks: np.ndarray, keypoints: np.ndarray | None) -> np.ndarray:
    """dlib's landmarks, unless their eyes stray from BlazeFace's (`EYES_DISAGREE`) on a face big enough to tell
    (`EYE_CHECK_MIN_DISTANCE`): then dlib's fit from boxes placed around BlazeFace's eyes (a few sizes and heights:
    on a masked face the fit swings with the box), the one whose eyes agree best.

    BlazeFace's eyes win: where dlib cannot read a face it puts its mean shape where the box says, so its fit
    follows the box; BlazeFace looks at the whole face. On the 200 real photos they disagreed on 17 faces of 35 px
    and more found by trusted hits, and BlazeFace's eyes framed each of them better, looked at one by one
    (`benchmarks/eye_check.py`). Eye points outside the photo, or that no fit agrees with, leave dlib's landmarks
    as they are."""
    if keypoints is None or np.linalg.norm(keypoints[1] - keypoints[0]) < EYE_CHECK_MIN_DISTANCE:
        return landmarks
    height, width = rgb.shape[:2]
    eyes = keypoints[:2]
    if (eyes < 0).any() or (eyes[:, 0] >= width).any() or (eyes[:, 1] >= height).any():
        return landmarks
    if eye_disagreement(landmarks, keypoints) <= EYES_DISAGREE:
        return landmarks
    fits = [landmarks_for_box(rgb, box_from_eyes(keypoints, scale, shift)) for scale, shift in REFIT_BOXES]
    best = min(fits, key=lambda fit: eye_disagreement(fit, keypoints))
    return best if eye_disagreement(best, keypoints) <= EYES_DISAGREE else landmarks


def _downscaled(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return rgb, 1.0
    # at least a pixel each way: a 20000×33 strip shrunk to 1024 wide was 0 px high, an OpenCV error for a reason
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _corners(rect) -> tuple[int, int, int, int]:
    """A dlib rectangle as (left, top, right, bottom)."""
    return rect.left(), rect.top(), rect.right(), rect.bottom()


def _faces(rgb, boxes, scores, scale: float, detector: str) -> list[Face]:
    """Faces with landmarks from boxes (left, top, right, bottom) found on a copy of `rgb` scaled by `scale`."""
    faces = []
    for corners, score in zip(boxes, scores, strict=True):
        box = tuple(round(v / scale) for v in corners)
        faces.append(Face(box=box, landmarks=landmarks_for_box(rgb, box), score=float(score), detector=detector))
    return _largest_first(faces)


def _largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)


def _hog(rgb, small, scale, levels, threshold: float, detector: str) -> list[Face]:
    for level in levels:
        rects, scores, _ = _frontal_detector().run(small, level, threshold)
        if len(rects):
            return _faces(rgb, [_corners(r) for r in rects], scores, scale, detector)
    return []


def detect_faces(
    rgb: np.ndarray,
    upsample: int | None = None,
    robust: bool = False,
    blaze: bool | None = None,
    turn: bool | None = None,
) -> list[Face]:
    """Every frontal face in an RGB uint8 photo with its 68 landmarks, largest first.

    Big photos are detected on a downscaled copy (HOG cost grows with pixels) and the boxes scaled back;
    when nothing is found the photo is tried again upsampled once, so faces of ~40 px are still found.

    `robust` is for faces whose lower half is covered, which defeat the HOG detector about a third of the
    time: MediaPipe's BlazeFace adds the faces HOG missed (milliseconds; it finds most masked faces); when
    neither finds any, dlib's CNN (MMOD) detector (≈1 s per 256² photo on a laptop core, so only as a fallback),
    and last the HOG detector with a lowered threshold. `blaze` (default: as `robust`) runs BlazeFace without the
    slow fallbacks (`infer --fast`). With `turn` (default: as `robust`), a photo lying on its side or upside down
    (`photo_turn`, or when nothing else finds a face) is searched turned upright (`_quarter_turned`).
    """
    turn = TURN_SEARCH and robust if turn is None else turn  # `--fast` (not robust) skips the search
    small, scale = _downscaled(rgb, DETECT_MAX_SIDE)
    levels = [upsample] if upsample is not None else ([0, 1] if max(small.shape[:2]) < 1024 else [0])
    faces = _hog(rgb, small, scale, levels, 0.0, "hog")
    if robust if blaze is None else blaze:
        # BlazeFace runs on every photo (milliseconds): in a group photo HOG finds the bare faces and misses the
        # masked ones beside them. Its boxes that overlap a face HOG found are the same face.
        from unmask_cli.blazeface import box_iou

        blaze_faces = _blazeface(rgb, small, scale)
        faces = [_checked_by(face, blaze_faces, rgb) for face in faces]
        taken = [g.box for g in faces]
        extra = [f for f in blaze_faces if (box_iou(f.box, taken) < 0.3).all()]
        found_by_hog = bool(faces)
        faces = _largest_first(faces + extra)
        # dlib's landmarks need a face upright. BlazeFace finds faces lying on their side, and both it and HOG at
        # times take an upside-down face for an upright one, its forehead for the chin (a face painted on the hair).
        k, sure = photo_turn(rgb, small, faces, blaze_faces, found_by_hog) if turn else (0, True)
        # On the faces' own evidence (not sure), a face found upright is given up only for one HOG too finds upright
        # in the photo turned over: masked faces look much alike either way up (this check's first version, without
        # it, turned one upright man of the 200 real photos over).
        if k and (turned := _quarter_turned(rgb, (k,), hog_needed=not sure)):
            return turned
    if faces or not robust:
        return faces
    cnn_small, cnn_scale = _downscaled(rgb, CNN_MAX_SIDE)
    # dlib's CNN fails inside (a tensor error, not "nothing found") on strips a few pixels high
    too_thin = min(cnn_small.shape[:2]) < CNN_MIN_SIDE
    for level in () if too_thin else (0, 1) if max(cnn_small.shape[:2]) <= CNN_MAX_SIDE // 2 else (0,):
        found = _cnn_detector()(cnn_small, level)
        if found:
            return _faces(rgb, [_corners(d.rect) for d in found], [d.confidence for d in found], cnn_scale, "cnn")
    faces = _hog(rgb, small, scale, [1], LOW_HOG_THRESHOLD, "hog-low")
    if faces:
        return faces
    # Dark or tilted heads: equalized contrast, then the photo turned each way, mapping landmarks back.
    equalized = _equalize(small)
    faces = _hog(_equalize(rgb) if scale != 1.0 else equalized, equalized, scale, [1], LOW_HOG_THRESHOLD, "hog-eq")
    for angle in ROTATIONS if not faces else ():
        faces = _rotated(small, scale, angle)
        if faces:
            break
    return faces or (_quarter_turned(rgb) if turn else [])


def turn_scores(small: np.ndarray, thorough: bool = False) -> list[float]:
    """BlazeFace's best score on a small copy of the photo as it is and turned each quarter (np.rot90's k = 0..3):
    by its short-range model alone on a TURN_PROBE_SIDE copy (four calls of a few milliseconds), or `thorough`ly,
    both models on a TURN_PROBE_THOROUGH copy (for faces further away; ~4× the time)."""
    from unmask_cli import blazeface

    probe, _ = _downscaled(small, TURN_PROBE_THOROUGH if thorough else TURN_PROBE_SIDE)
    if not thorough:
        return [blazeface.best_score(np.rot90(probe, k)) for k in range(4)]
    turned = (blazeface.detect(np.ascontiguousarray(np.rot90(probe, k))) for k in range(4))
    return [max((found.score for found in faces), default=0.0) for faces in turned]


def _clear_turn(scores: list[float]) -> int:
    k = int(np.argmax(scores))
    return k if k and scores[k] >= BLAZE_TRUSTED_SCORE and scores[k] - scores[0] >= TURN_MARGIN else 0


def flip_leads(rgb: np.ndarray, faces: list[Face]) -> list[float]:
    """For the (up to 3) largest faces HOG or BlazeFace found: how much surer BlazeFace is of a face in a loose
    frame around it (placed from its landmarks) turned over than as it is. Upside-down faces lead."""
    from unmask_cli import blazeface

    leads = []
    for face in [face for face in faces if face.detector in ("hog", "blaze")][:3]:
        matrix = alignment_matrix(face.landmarks, FLIP_FRAME // 2)
        matrix[:, 2] += FLIP_FRAME // 4  # the aligned crop in the middle of a frame twice its side
        frame = cv2.warpAffine(rgb, matrix, (FLIP_FRAME, FLIP_FRAME), borderMode=cv2.BORDER_REPLICATE)
        # the short-range model alone (a face filling the frame's middle half): one call of ~3 ms each way
        leads.append(blazeface.best_score(np.rot90(frame, 2)) - blazeface.best_score(frame))
    return leads


def photo_turn(
    rgb: np.ndarray, small: np.ndarray, faces: list[Face], blaze_faces: list[Face], found_by_hog: bool
) -> tuple[int, bool]:
    """The quarter turn (np.rot90's k, 0 for none) that stands the photo's faces upright, and whether the whole
    photo says so (else the faces found upright do, and the turn wants confirming).

    Where HOG (which finds upright faces only) found none: the turn where BlazeFace is surest of a face, by a clear
    margin over the photo as it is, else the way BlazeFace's points say faces hang (`upright_turn`). Then, for the
    faces found upright: upside down when most of them lead clearly turned over (`flip_leads`), or lead a little
    and the whole photo turned over scores higher too.
    """
    scores = None
    if not found_by_hog:
        scores = turn_scores(small)
        # where the quick look leans to a turn but not clearly, a thorough one decides
        if k := _clear_turn(scores) or (int(np.argmax(scores)) and _clear_turn(turn_scores(small, thorough=True))):
            return k, True
        if k := upright_turn(blaze_faces):
            return k, True
    leads = flip_leads(rgb, faces)
    if not leads:
        return 0, True

    def most(threshold: float) -> bool:
        return 2 * sum(lead > threshold for lead in leads) > len(leads)

    if most(FLIP_LEAD):
        return 2, False
    if most(FLIP_LEAD_WEAK):
        scores = scores or turn_scores(small)
        return (2 if int(np.argmax(scores)) == 2 and scores[2] - scores[0] >= TURN_MARGIN_WEAK else 0), False
    return 0, True


def upright_turn(faces: list[Face]) -> int:
    """The quarter turn (`np.rot90`'s k, 0 for none) that stands BlazeFace's faces upright, by the majority of those
    with points: the way from between the eyes to the mouth points down in an upright face."""
    votes = [0, 0, 0, 0]
    for face in faces:
        if face.keypoints is not None:
            dx, dy = np.asarray(face.keypoints[3], float) - (np.asarray(face.keypoints[:2], float)).mean(0)
            # what each turn makes of the way down: k=1 turns (dx, dy) into (dy, -dx), k=2 (-dx, -dy), k=3 (-dy, dx)
            votes[int(np.argmax([dy, -dx, -dy, dx]))] += 1
    return int(np.argmax(votes)) if max(votes) > votes[0] else 0


def _quarter_turned(rgb: np.ndarray, turns: tuple[int, ...] = QUARTER_TURNS, hog_needed: bool = False) -> list[Face]:
    """Faces of a photo lying on its side or upside down: HOG's and BlazeFace's trusted hits on the photo turned
    each of `turns` (np.rot90's k), with their landmarks, box and eye points mapped back onto the photo as it is
    (with `hog_needed`, only where HOG finds one of them). Alignment then stands each face upright, and its restored
    crop goes back where it came from."""
    for k in turns:
        turned = np.ascontiguousarray(np.rot90(rgb, k))
        found = [f for f in detect_faces(turned, blaze=True, turn=False) if f.detector in ("hog", "blaze")]
        if found and (not hog_needed or any(f.detector == "hog" for f in found)):
            return _largest_first([turned_back(face, k, rgb.shape) for face in found])
    return []


def turned_back(face: Face, k: int, shape: tuple[int, ...]) -> Face:
    """`face`, found on `np.rot90(photo, k)`, in the coordinates of `photo` (of `shape`)."""
    h, w = shape[:2]

    def back(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        mapped = {1: (w - 1 - y, x), 2: (w - 1 - x, h - 1 - y), 3: (y, h - 1 - x)}[k % 4]
        return np.stack(mapped, axis=1).astype(np.float32)

    corners = back(np.array([face.box[:2], face.box[2:]], np.float32))
    box = (*np.floor(corners.min(0)).astype(int).tolist(), *np.ceil(corners.max(0)).astype(int).tolist())
    keypoints = None if face.keypoints is None else back(np.asarray(face.keypoints, np.float32))
    return Face(box, back(face.landmarks), face.score, f"{face.detector}-turn{90 * k}", keypoints)


def _checked_by(face: Face, blaze_faces: list[Face], rgb: np.ndarray) -> Face:
    """A HOG face with its landmarks checked by the eye points of the BlazeFace face most like it, if any."""
    from unmask_cli.blazeface import box_iou

    found = [f for f in blaze_faces if f.keypoints is not None]  # BlazeFace's trusted hits carry them
    overlaps = box_iou(face.box, [f.box for f in found]) if found else np.zeros(0)
    if not len(overlaps) or overlaps.max() < 0.3:
        return face
    return _with_keypoints(face, found[int(overlaps.argmax())].keypoints, rgb)


def _with_keypoints(face: Face, keypoints: np.ndarray, rgb: np.ndarray) -> Face:
    """`face` carrying BlazeFace's keypoints, its landmarks checked by them (`checked_landmarks`)."""
    return replace(face, keypoints=keypoints, landmarks=checked_landmarks(rgb, face.landmarks, keypoints))


def _blazeface(rgb: np.ndarray, small: np.ndarray, scale: float) -> list[Face]:
    """MediaPipe's BlazeFace, where its models and onnxruntime are installed (an inference install has both). Its
    boxes match HOG's closely (on 297 UTKFace faces: edges within 2% of the box; dlib's landmarks from either box
    differ by 1.8% of the eye distance), so they feed dlib's shape predictor as they are; its eye points check
    dlib's landmarks (`checked_landmarks`)."""
    from unmask_cli import blazeface

    if not blazeface.available():
        return []
    faces = []
    for found in blazeface.detect(small):
        name = "blaze" if found.score >= BLAZE_TRUSTED_SCORE else "blaze-low"
        (face,) = _faces(rgb, [found.box], [found.score], scale, name)
        if found.keypoints is not None and name == "blaze":  # a low score's points are no better than its box
            face = _with_keypoints(face, found.keypoints / scale, rgb)
        faces.append(face)
    return faces  # in BlazeFace's order: detect_faces sorts them with HOG's


def weak_candidates(rgb: np.ndarray, limit: int = 3) -> list[Face]:
    """Faint HOG responses (upsampled twice, threshold -0.9): mostly false alarms, but also masked faces under
    caps and in shadow that every detector above misses. Callers must verify them (the pipeline keeps one only
    if Mask G finds a mask where a mask belongs on it)."""
    small, scale = _downscaled(rgb, WEAK_MAX_SIDE)
    rects, scores, _ = _frontal_detector().run(small, 2 if max(small.shape[:2]) <= 400 else 1, WEAK_HOG_THRESHOLD)
    # Faces worth restoring fill a fair part of the photo; faint responses on small patches (logos, ears,
    # background people) were most of the false alarms on real masked photos.
    min_side = WEAK_MIN_FRACTION * min(small.shape[:2])
    keep = [i for i in np.argsort(scores)[::-1] if rects[i].width() >= min_side][:limit]
    return _faces(rgb, [_corners(rects[i]) for i in keep], [scores[i] for i in keep], scale, "weak")


def _equalize(rgb: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _rotated(small: np.ndarray, scale: float, angle: float) -> list[Face]:
    """Detect on the (downscaled) photo turned by `angle` degrees; landmarks mapped back to photo pixels."""
    h, w = small.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    turned = cv2.warpAffine(small, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(turn)
    faces = []
    for face in _hog(turned, turned, 1.0, [1], LOW_HOG_THRESHOLD, f"hog-rot{angle:+.0f}"):
        lm = transform_points(back, face.landmarks) / scale
        box = (*np.floor(lm.min(0)).astype(int).tolist(), *np.ceil(lm.max(0)).astype(int).tolist())
        faces.append(Face(box=tuple(box), landmarks=lm, score=face.score, detector=face.detector))
    return faces


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src→dst (Umeyama 1991), 2×3."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / s.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rot
    matrix[:, 2] = mu_d - scale * rot @ mu_s
    return matrix


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """2×3 matrix taking photo pixels to the S×S aligned crop."""
    return similarity_transform(landmarks[ALIGN_POINTS], CROP_TEMPLATE[ALIGN_POINTS] * size)


def head_turn(landmarks: np.ndarray) -> float:
    """How far a face is turned left or right, from its eyes and nose bridge: (a - b) / (a + b) of the bridge's
    distance to each eye's centre. 0 frontal, about ±0.25 for a face turned by a third, ±0.5 close to profile.
    Uses only the points a mask leaves visible."""
    bridge = landmarks[NOSE_BRIDGE].mean(0)
    a = float(np.linalg.norm(bridge - landmarks[LEFT_EYE].mean(0)))
    b = float(np.linalg.norm(bridge - landmarks[RIGHT_EYE].mean(0)))
    return (a - b) / (a + b) if a + b else 0.0


def crop_scale(matrix: np.ndarray) -> float:
    """Crop pixels per photo pixel of an alignment matrix (> 1: a small face enlarged to the crop)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


Box = tuple[slice, slice]  # rows, columns of a photo


def crop_footprint(
    matrix: np.ndarray, size: int, shape: tuple[int, int], margin: int = 2, height: int | None = None
) -> Box:
    """The box of a photo of `shape` (h, w) under the S×S crop made by `matrix` (the crop's corners mapped back;
    S × `height` for a taller one), `margin` photo px wider for interpolation, clipped to the photo: all a face's
    crop reads and its paste writes, so their cost follows the face and not the photo."""
    tall = size if height is None else height
    corners = np.array([[0, 0], [size, 0], [0, tall], [size, tall]], np.float32)
    back = transform_points(inverse_matrix(matrix), corners)
    h, w = shape
    x0, y0 = np.floor(back.min(0)).astype(int) - margin
    x1, y1 = np.ceil(back.max(0)).astype(int) + margin + 1
    return slice(min(max(y0, 0), h), min(max(y1, 0), h)), slice(min(max(x0, 0), w), min(max(x1, 0), w))


def warp_back(
    image: np.ndarray,
    matrix: np.ndarray,
    box: Box,
    flags: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_CONSTANT,
) -> np.ndarray:
    """`image` in crop pixels (made by `matrix`, photo → crop) warped back onto the photo box `box` only: the box's
    pixels (an empty array for an empty box, which warpAffine would read as "the image's own size")."""
    rows, cols = box
    height, width = rows.stop - rows.start, cols.stop - cols.start
    if height <= 0 or width <= 0:
        return np.zeros((max(height, 0), max(width, 0), *image.shape[2:]), image.dtype)
    inv = inverse_matrix(matrix).copy()
    inv[:, 2] -= (cols.start, rows.start)  # photo px → box px
    return cv2.warpAffine(image, inv, (width, height), flags=flags, borderMode=border, borderValue=0)


def align(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The S×S aligned crop and the matrix used; pixels outside the photo are mirrored in."""
    matrix = alignment_matrix(landmarks, size)
    warp = matrix
    # INTER_AREA is not supported by warpAffine; pre-shrink big faces so bilinear does not alias — only the box
    # the crop covers (shrinking the whole photo once per face made a big group photo slow)
    scale = crop_scale(matrix)
    if scale < 0.5:
        factor = 2 * scale
        rows, cols = crop_footprint(matrix, size, rgb.shape[:2], margin=int(np.ceil(2 / factor)) + 2)
        if rows.stop - rows.start > 1 and cols.stop - cols.start > 1:  # (landmarks off the photo: no box)
            rgb = cv2.resize(rgb[rows, cols], None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            warp = matrix.copy()
            warp[:, 2] += matrix[:, :2] @ (cols.start, rows.start)  # photo px = box px + the box's corner
            warp[:, :2] /= factor
    crop = cv2.warpAffine(rgb, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return crop, matrix


# Detectors whose hits are faces often enough to restore as found (on the 200 real masked photos: 199 of 199). The
# fallbacks after them (hog-low, hog-eq, hog-rot±20, weak) also fire on walls, text and fabric; their restorations
# must pass `restored_is_a_face`.
TRUSTED_DETECTORS = frozenset({"hog", "cnn", "blaze"})


def restored_is_a_face(crop: np.ndarray, threshold: float = 0.0) -> bool:
    """Does dlib's HOG detector, at its ordinary threshold, find a face where the template puts one in a restored
    S×S crop (uint8 RGB)? Once the mask is painted over, a real face is a whole frontal face; a false detection
    (a logo, text, bark, a wall) is a lower face pasted on something else, which HOG rarely takes for a face."""
    size = crop.shape[0]
    pad = size // 4
    canvas = cv2.copyMakeBorder(np.ascontiguousarray(crop), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    rects, _, _ = _frontal_detector().run(canvas, 1, threshold)
    centre = CROP_TEMPLATE.mean(0) * size + pad
    for rect in rects:
        x, y = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
        if abs(x - centre[0]) < 0.25 * size and abs(y - centre[1]) < 0.25 * size:
            return True
    return False


# where a mask must not be: each eye's centre (mean of its 6 points) and its upper-lid points
EYES_PROPER = (list(range(36, 42)), list(range(42, 48)), [37], [38], [43], [44])


def mask_where_a_mask_belongs(mask: np.ndarray) -> bool:
    """Does a crop's 0/1 mask cover the template's nose tip and mouth and leave its eyes free?

    True for a real face wearing a mask; a false detection rarely gives Mask G a mask in exactly that place. "Eyes
    free" means the eye centres and upper lids: a mask pulled up to the lower lids is worn, not misplaced (on real
    photos its top edge touches the template's lower-lid and corner points in 1 face of 20).
    """
    size = mask.shape[0]
    points = np.round(CROP_TEMPLATE * (size - 1)).astype(int).clip(0, size - 1)
    at = mask[points[:, 1], points[:, 0]] > 0
    mouth = at[48:68].mean()
    eye_points = np.array([CROP_TEMPLATE[group].mean(0) for group in EYES_PROPER])
    eye_points = np.round(eye_points * (size - 1)).astype(int).clip(0, size - 1)
    eyes_covered = (mask[eye_points[:, 1], eye_points[:, 0]] > 0).any()
    coverage = float((mask > 0).mean())  # a real mask covers roughly 15-60% of the crop
    return bool(at[30] and mouth >= 0.8 and not eyes_covered and 0.15 <= coverage <= 0.6)


def inverse_matrix(matrix: np.ndarray) -> np.ndarray:
    """2×3 matrix taking crop pixels back to photo pixels (for pasting a restored crop back)."""
    return cv2.invertAffineTransform(matrix)
