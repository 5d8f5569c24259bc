"""Macro-expression path on a real clip: crying reads negative, a broad laugh positive, under mirror/resize/re-time.

Onset/apex frames were picked by looking at WolfgangLanger_Pexels.mp4 (23.976 fps): crying intensifies from
frame 0 (already sad, eyes closed) to 56 (mouth stretched); the laugh starts at 244 (near-neutral, slight
smile) and is broad at 320. The clip has no neutral face before the crying, so that reading is a change
within an expression.
"""

from __future__ import annotations

import pytest

from microexp.errors import InputError
from microexp.recognition.macro import MacroConfig, apex_frames, recognize_macro, reference_candidates

from conftest import shared_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FPS = 23.976
CRY = (0, 56)
LAUGH = (244, 320)
JOINED = (160, 338)  # one interval from the look-up with a hand over the mouth to the laugh (mirrored, analyze)


def test_reference_and_apex_frames_scale_with_fps():
    cfg = MacroConfig(lookback_s=0.5, step_s=0.1, apex_span_s=0.2)
    assert reference_candidates(100, 20.0, cfg) == [90, 92, 94, 96, 98, 100]
    assert reference_candidates(100, 20.0, cfg, not_before=95) == [96, 98, 100]
    assert reference_candidates(3, 20.0, cfg) == [1, 3]
    assert apex_frames(10, 20.0, cfg) == [6, 8, 10, 12, 14]
    assert apex_frames(1, 20.0, cfg, last=3) == [1, 3]
    with pytest.raises(InputError):
        reference_candidates(10, 0.0)


def test_reference_is_searched_at_most_max_rise_before_the_apex():
    cfg = MacroConfig(lookback_s=0.5, max_rise_s=4.0, step_s=0.1)
    # onset 10, apex 200 at 20 fps: 9.5 s apart, so the search ends at apex - 4 s = frame 120
    assert reference_candidates(10, 20.0, cfg, apex=200) == [110, 112, 114, 116, 118, 120]
    # an onset within 4 s of the apex is searched as before, and never after the onset
    assert reference_candidates(100, 20.0, cfg, apex=150) == reference_candidates(100, 20.0, cfg)
    assert reference_candidates(100, 20.0, cfg, apex=180) == reference_candidates(100, 20.0, cfg)
    # the previous expression still bounds it
    assert reference_candidates(10, 20.0, cfg, not_before=115, apex=200) == [116, 118, 120]


@pytest.fixture(scope="module")
def clip():
    import cv2

    path = shared_path("video", "WolfgangLanger_Pexels.mp4")
    cap = cv2.VideoCapture(str(path))
    frames = {}
    for i in range(JOINED[1] + 12):
        ok, img = cap.read()
        if not ok:
            break
        frames[i] = img
    cap.release()
    assert len(frames) == JOINED[1] + 12
    return frames


def _variants(frames):
    import cv2

    yield "original", frames, 1, FPS
    yield "mirrored", {i: f[:, ::-1].copy() for i, f in frames.items()}, 1, FPS
    yield "half size", {i: cv2.resize(f, (320, 180), interpolation=cv2.INTER_AREA) for i, f in frames.items()}, 1, FPS
    yield "half rate", {i // 2: f for i, f in frames.items() if i % 2 == 0}, 2, FPS / 2


@pytest.mark.parametrize("which,expected", [(CRY, "negative"), (LAUGH, "positive")])
def test_real_clip_macro_readings_are_stable(clip, which, expected):
    from microexp.face.landmarks import LandmarkDetector

    det = LandmarkDetector()
    onset, apex = which
    for name, frames, k, fps in _variants(clip):
        read = recognize_macro(frames, onset // k, apex // k, fps, detector=det)
        assert read is not None, name
        rec = read.recognition
        assert rec.emotion == expected, (name, rec.probabilities)
        assert rec.confidence > 0.6, (name, rec.probabilities)
        assert abs(sum(rec.probabilities.values()) - 1) < 1e-4
        assert read.reference <= onset // k and len(read.apex_frames) == 5


def test_an_interval_joining_two_expressions_is_read_from_the_face_before_its_apex(clip):
    """Regression check (the interval is the one ``analyze`` spots on the mirrored clip): searched before the
    onset, the reference is the end of the crying and the laugh read negative; searched before apex - 4 s it is
    the face between the hand leaving the mouth and the laugh, in every variant."""
    from microexp.face.landmarks import LandmarkDetector

    det = LandmarkDetector()
    onset, apex = JOINED
    for name, frames, k, fps in _variants(clip):
        read = recognize_macro(frames, onset // k, apex // k, fps, not_before=(onset - 1) // k, detector=det)
        assert read is not None, name
        assert read.reference * k >= apex - round(4.0 * FPS) - round(0.5 * FPS), name
        assert read.recognition.emotion == "positive", (name, read.recognition.probabilities)


def test_reference_search_never_reaches_into_the_previous_expression():
    from microexp.pipeline import _not_before
    from microexp.records import Interval

    ivs = [Interval(10, 20, 40, "mae"), Interval(30, 35, 38, "me"), Interval(60, 70, 90, "mae")]
    assert _not_before(ivs) == [0, 41, 41]
    assert reference_candidates(60, 20.0, MacroConfig(lookback_s=2.0), not_before=41)[0] == 42


def test_at_rest_needs_half_a_second_without_a_spotted_expression():
    """``Expression.rested``: a reading counts as against a resting face only when no spotted expression ran in
    the ``REST_S`` before its reference frame; an open previous expression never ended; fewer than ``REST_S``
    of face in view (from the video's start or the face's return) before the reference say nothing (None)."""
    from microexp.records import REST_S, at_rest

    fps = 30.0
    n = round(REST_S * fps)  # 15 frames
    assert at_rest(100 + n, 100, False, fps) is True
    assert at_rest(100 + n - 1, 100, False, fps) is False
    assert at_rest(100 + 10 * n, 100, True, fps) is False  # the previous expression ran on past its offset
    assert at_rest(n, -1, False, fps) is True and at_rest(n - 1, -1, False, fps) is None
    assert at_rest(100 + 2 * n, 100, False, 200.0) is False  # in seconds: 30 frames are 0.15 s at 200 fps
    assert at_rest(200, 100, False, 200.0) is True
    # the face came into view at 300, after the previous expression: only what was seen counts
    assert at_rest(300 + n - 1, 100, True, fps, seen_from=300) is None
    assert at_rest(300 + n, 100, True, fps, seen_from=300) is True
    assert at_rest(300 + n, 305, False, fps, seen_from=200) is False  # in view all along: the expression counts
