"""OF-FD's head-motion correction on a real face frame (regression for issue 14 §1).

A still face moved as a whole (translated, rolled, zoomed) has no expression: every ROI channel must stay
near zero. The code before the fix shifted the crop the wrong way (the motion doubled with each pass) and
tracked a 16-px nose strip that reads a 6-px shift of this face as 0.17 px: 4 px gave 5.9 px here.
"""

import cv2
import numpy as np
import pytest

from microexp.face.align import apply_to_points, crop_transform, shift_transform, warp
from microexp.face.motion import compose, head_motion
from microexp.spotting.offd import OFFDConfig, WindowTracker, get_preset

from conftest import shared_path

NEAR_ZERO = 0.5  # canonical px: a quarter of T2 (2.0), far below T1 (1.6)


@pytest.fixture(scope="module")
def still():
    """First frame of a real face clip (grey) and its landmarks."""
    import av

    from microexp.face.landmarks import LandmarkDetector

    path = shared_path("video", "single_face.mp4")
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="bgr24")
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    det = LandmarkDetector()
    return gray, det.find(gray)[1], det


def moved(img, centre, dx=0.0, dy=0.0, roll=0.0, zoom=1.0):
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, zoom)
    M[:, 2] += (dx, dy)
    return cv2.warpAffine(img, M, img.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("move", [dict(dx=4), dict(dy=-4), dict(dx=4, dy=3), dict(roll=2), dict(roll=-2),
                                  dict(zoom=1.02), dict(dx=3, roll=1.5, zoom=0.98)])
def test_rigid_motion_of_a_still_face_reads_zero(still, move):
    gray, lm, det = still
    tracker = WindowTracker(OFFDConfig(), det, threads=1)
    track = tracker.start(gray)
    assert tracker.measure(track, gray).max() < 0.05  # the reference frame against itself
    values = tracker.measure(track, moved(gray, lm[30], **move))
    assert values.max() < NEAR_ZERO, (move, np.round(values, 2))


def test_the_window_follows_the_head(still):
    """After a 4-px move the crop transform has moved with the head: the next frame needs no new re-warp."""
    gray, lm, det = still
    tracker = WindowTracker(OFFDConfig(), det, threads=1)
    track = tracker.start(gray)
    img = moved(gray, lm[30], dx=4)
    tracker.measure(track, img)
    nose_now = apply_to_points(track.M, lm[[30]] + [4, 0])
    nose_ref = apply_to_points(track.M0, lm[[30]])
    assert np.abs(nose_now - nose_ref).max() < 0.3  # the same face point lands on the same crop pixel
    M = track.M.copy()
    tracker.measure(track, img)
    assert np.abs(track.M - M).max() < 1e-9  # already aligned: no further correction


def test_head_motion_undoes_a_shift_and_matches_shift_transform(still):
    """``compose(A, M)`` brings moved content back; ``shift_transform`` moves content by −(dx, dy)."""
    gray, lm, _ = still
    cfg = OFFDConfig()
    M = crop_transform(lm, cfg.crop)
    ref = warp(gray, M, cfg.crop.size)
    anchors = apply_to_points(M, lm[[27, 28, 29, 30, 33, 39, 42]])
    cur = warp(gray, shift_transform(M, -3.0, 2.0), cfg.crop.size)  # content moves by (+3, −2)
    hm = head_motion(ref, cur, anchors, "translation")
    assert hm.residual == pytest.approx([3.0, -2.0], abs=0.15)
    back = warp(gray, compose(hm.A, shift_transform(M, -3.0, 2.0)), cfg.crop.size)
    assert head_motion(ref, back, anchors, "translation").size < 0.15


def test_presets_scale_from_the_crop_their_constants_were_set_on():
    """SAMM constants were set on the 320-px crop of 9 u: no ×1.11 rescaling (T1 stays 1.3 px)."""
    samm = get_preset("offd_samm_megc2022")
    assert samm.crop.size == (320, 320) and samm.scale() == pytest.approx(1.0)
    assert samm.t1 * samm.scale() == pytest.approx(1.3)
    assert get_preset("offd_sammlv_he").scale() == pytest.approx(1.0)
    assert OFFDConfig().scale() == 1.0
    from dataclasses import replace

    from microexp.face.align import CropSpec

    half = replace(OFFDConfig(), crop=CropSpec(px_per_u=16.0))  # a coarser crop halves every px constant
    assert half.scale() == 0.5
