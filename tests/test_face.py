"""Face detection, 68 landmarks and the canonical OF-FD crop on a real face (scikit-image's astronaut)."""

import cv2
import numpy as np
import pytest
from skimage import data

from microexp.face import (
    CropSpec,
    LandmarkDetector,
    crop_transform,
    half_inner_canthal,
    similarity_align,
    warp,
)
from microexp.face.align import apply_to_points, shift_transform
from microexp.face.landmarks import landmark_model_path


@pytest.fixture(scope="module")
def astronaut():
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


@pytest.fixture(scope="module")
def detector():
    return LandmarkDetector()


def test_model_is_found_offline():
    assert landmark_model_path().stat().st_size > 90_000_000


def test_landmarks_on_real_face(astronaut, detector):
    box, lm = detector.find(astronaut)
    assert lm.shape == (68, 2)
    # the face is in the upper middle of the image, eyes above nose above mouth
    assert 150 < box.center[0] < 300 and 50 < box.center[1] < 200
    assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean()
    assert detector.find(np.full((200, 200), 128, np.uint8)) is None


def test_canonical_crop_places_eye_corners(astronaut, detector):
    _, lm = detector.find(astronaut)
    spec = CropSpec()
    M = crop_transform(lm, spec)
    pts = apply_to_points(M, lm[[39, 42]])
    mid = pts.mean(0)
    assert mid == pytest.approx([4 * 32, 3 * 32], abs=1e-3)
    assert np.linalg.norm(pts[1] - pts[0]) == pytest.approx(64, abs=1e-3)  # 2u = 64 px at 32 px/u
    crop = warp(astronaut, M, spec.size)
    assert crop.shape == (256, 256)
    # shifting the window by (dx, dy) moves content by (−dx, −dy)
    moved = apply_to_points(shift_transform(M, 3, -2), lm[[39]])
    assert moved[0] == pytest.approx(apply_to_points(M, lm[[39]])[0] + [-3, 2], abs=1e-4)


def test_scale_free_unit(astronaut, detector):
    _, lm = detector.find(astronaut)
    big = cv2.resize(astronaut, None, fx=2, fy=2)
    _, lm2 = detector.find(big)
    assert half_inner_canthal(lm2) == pytest.approx(2 * half_inner_canthal(lm), rel=0.1)


def test_similarity_align_levels_the_eyes(astronaut, detector):
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((256, 256), 12, 1.0), (512, 512))
    _, lm = detector.find(rot)
    crop, M = similarity_align(rot, lm, size=128)
    eyes = apply_to_points(M, np.stack([lm[36:42].mean(0), lm[42:48].mean(0)]))
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1.0
    assert crop.shape == (128, 128)
