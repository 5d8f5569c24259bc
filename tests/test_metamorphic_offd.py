"""Metamorphic tests of OF-FD on a real face frame (issue 14 §2).

A still real face that drifts, rolls, zooms, brightens or is re-encoded has no expression: no interval and
channel values near zero. A real face with a planted brow raise gives the same interval (in seconds,
within one frame) when the clip is mirrored, resized or re-timed. Clips are built in memory from the first
frame of ``../shared/video/single_face.mp4`` (a 640×360 face, u ≈ 21 source px).
"""

import cv2
import numpy as np
import pytest

from microexp.io.video import Frame, VideoSource, write_video
from microexp.spotting.offd import OFFDConfig, get_preset, run_offd
from microexp.synth.motion import brow_raise, head_changes, rigid

NEAR_ZERO = 0.5  # canonical px (T1 = 1.6, T2 = 2.0 in the default preset)


def clip(images, fps):
    return [Frame(i, i / fps, im) for i, im in enumerate(images)]


N = 60  # 2 s at 30 fps
CHANGES = head_changes(N)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_still_face_moved_or_relit_gives_nothing(face, change):
    img, lm, det = face
    res = run_offd(iter(clip([CHANGES[change](img, lm, k) for k in range(N)], 30.0)), 30.0, None, det)
    assert res.face.all()
    assert res.spans == []
    assert np.nanmax(res.displacement) < NEAR_ZERO, (change, float(np.nanmax(res.displacement)))


def test_reencoding_gives_nothing(face, tmp_path):
    img, lm, det = face
    still = write_video(tmp_path / "still.mp4", [img] * N, 30.0, crf=35)  # low quality
    src = VideoSource(still)
    res = run_offd(src.frames(), src.info.fps, None, det)
    assert res.spans == [] and np.nanmax(res.displacement) < NEAR_ZERO
    # drifting face, x264's default quality, another frame rate: compression noise on the smooth lips and
    # cheeks (aperture problem) is the floor of the published ROI feature (1.4–1.6 px measured; documented)
    moving = write_video(tmp_path / "drift.mp4", [rigid(img, lm[30], dx=3 * k / 75) for k in range(75)], 25.0,
                         crf=23)
    src = VideoSource(moving)
    res = run_offd(src.frames(), src.info.fps, None, det)
    assert src.info.fps == pytest.approx(25.0) and res.spans == []
    assert np.nanpercentile(res.displacement, 95) < 1.2 and np.nanmax(res.displacement) < OFFDConfig().t2["brow"]


# ---- a planted expression: both brows raised by 4 source px (≈ 6 canonical px) from 1.2 s to 1.8 s


def planted(img, lm, fps, seconds=3.0, on=1.2, off=1.8, amp=4.0):
    return brow_raise(img, lm, fps, seconds, on, off, amp)


def seconds(res):
    return [(float(res.proc_time[a]), float(res.proc_time[b])) for a, b in res.spans]


@pytest.fixture(scope="module")
def reference(face):
    img, lm, det = face
    res = run_offd(iter(clip(planted(img, lm, 30.0), 30.0)), 30.0, None, det)
    got = seconds(res)
    assert len(got) == 1, got
    on, off = got[0]
    assert 1.15 <= on <= 1.4 and 1.6 <= off <= 1.85  # the planted bump above ≈1/3 of its height: 1.32–1.68 s
    return got


VARIANTS = {
    "mirrored": (30.0, lambda im: np.ascontiguousarray(im[:, ::-1])),
    "resized-0.75": (30.0, lambda im: cv2.resize(im, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)),
    "resized-1.5": (30.0, lambda im: cv2.resize(im, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)),
    "25fps": (25.0, lambda im: im),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_intervals_when_mirrored_resized_or_retimed(face, reference, variant):
    img, lm, det = face
    fps, post = VARIANTS[variant]
    res = run_offd(iter(clip([post(im) for im in planted(img, lm, fps)], fps)), fps, None, det)
    got = seconds(res)
    assert len(got) == len(reference), (variant, got, reference)
    for (a, b), (ra, rb) in zip(got, reference, strict=True):
        assert abs(a - ra) <= 1 / fps + 1e-6 and abs(b - rb) <= 1 / fps + 1e-6, (variant, got, reference)


def test_same_intervals_at_60fps_with_duplicated_frames(face, reference):
    img, lm, det = face
    frames = planted(img, lm, 30.0)
    dup = [Frame(2 * i + j, (2 * i + j) / 60, im) for i, im in enumerate(frames) for j in (0, 1)]
    res = run_offd(iter(dup), 60.0, None, det)
    assert res.rate == pytest.approx(30.0)
    assert np.allclose(np.ravel(seconds(res)), np.ravel(reference), atol=1 / 60)


# ---- the noise-floor ME preset (offd_me_noisefloor, docs/spotting.md): still faces stay quiet, a short weak
# expression is found where the published default's 2-Hz filter flattens it below T2

@pytest.mark.parametrize("change", sorted(CHANGES))
def test_me_noisefloor_preset_gives_nothing_on_a_still_face_moved_or_relit(face, change):
    img, lm, det = face
    cfg = get_preset("offd_me_noisefloor")
    res = run_offd(iter(clip([CHANGES[change](img, lm, k) for k in range(N)], 30.0)), 30.0, cfg, det)
    assert res.spans == [], change


def test_me_noisefloor_preset_finds_a_short_weak_micro_expression(face):
    """Both brows up by 3.5 % of the inter-ocular distance for 0.25 s (real MEs measure 1.7–4.3 %, 0.2–0.5 s):
    the default preset's 2-Hz filter leaves it below T2; the noise-floor preset finds it, typed ME, IoU ≥ 0.5."""
    from microexp.eval.spotting import iou_matrix
    from microexp.spotting.offd_stream import span_interval
    from microexp.synth.motion import iod

    img, lm, det = face
    fps, on, off = 30.0, 1.2, 1.45
    frames = brow_raise(img, lm, fps, 3.0, on, off, 0.035 * iod(lm))
    assert run_offd(iter(clip(frames, fps)), fps, None, det).spans == []
    res = run_offd(iter(clip(frames, fps)), fps, get_preset("offd_me_noisefloor"), det)
    ivs = [span_interval(s, res.proc_index, res.proc_time, res.score, res.config.me_mae_split_s) for s in res.spans]
    assert len(ivs) == 1 and ivs[0].kind == "me", ivs
    iou = iou_matrix([ivs[0].onset], [ivs[0].offset], [round(on * fps)], [round(off * fps)])
    assert iou[0, 0] >= 0.5, (ivs, iou)


@pytest.mark.parametrize("duration,kind", [(0.5, "me"), (0.7, "mae")])
def test_me_noisefloor_preset_types_by_duration(face, duration, kind):
    """MEGC's limit on real pixels: a 0.5-s brow raise is a micro-expression, a 0.7-s one is not (the preset's
    split is the measured detected length of a 0.5-s raise; the first split, 0.30 s, typed this one MaE)."""
    from microexp.spotting.offd_stream import span_interval
    from microexp.synth.motion import iod

    img, lm, det = face
    fps = 30.0
    frames = brow_raise(img, lm, fps, 3.0, 1.2, 1.2 + duration, 0.045 * iod(lm))
    res = run_offd(iter(clip(frames, fps)), fps, get_preset("offd_me_noisefloor"), det)
    ivs = [span_interval(s, res.proc_index, res.proc_time, res.score, res.config.me_mae_split_s) for s in res.spans]
    assert [i.kind for i in ivs] == [kind], ivs
