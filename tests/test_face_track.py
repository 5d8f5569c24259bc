"""One face track: OF-FD and the crop producer record where the face is the same way, and agree on it."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from microexp.face.landmarks import LandmarkDetector
from microexp.face.track import FaceTrack, FaceTrackBuilder, TrackConfig, track_crops
from microexp.io.video import Frame, VideoSource
from microexp.spotting.offd import OFFDConfig, run_offd

from conftest import shared_path


def small_track() -> FaceTrack:
    """Processed frames = every 2nd original frame; face in positions 0–3 and 6–8, none at 4–5."""
    b = FaceTrackBuilder()
    found = np.array([1, 1, 1, 1, 0, 0, 1, 1, 1], bool)
    for pos, lm_val in ((0, 1.0), (3, 2.0), (8, 3.0)):
        b.add(pos, landmarks=np.full((68, 2), lm_val))
    b.add(5, landmarks=np.full((68, 2), 9.0))  # measured where the face is then judged absent: dropped
    return b.build(np.arange(9) * 2, np.arange(9) / 15, found)


def test_landmarks_at_stays_in_the_face_segment():
    t = small_track()
    assert t.landmarks_at(0)[0, 0] == 1.0
    assert t.landmarks_at(4)[0, 0] == 2.0 and t.landmarks_at(5)[0, 0] == 2.0  # nearest measured: position 3 (6)
    assert t.landmarks_at(2)[0, 0] == 1.0  # ties and nearer go to the earlier one
    assert t.landmarks_at(9) is None  # no face at the nearest processed frame (position 4 or 5)
    assert t.landmarks_at(12)[0, 0] == 3.0  # segment 6–8 only has position 8: not the earlier segment's
    assert 5 not in t.landmarks


def test_face_mask_per_original_frame():
    t = small_track()
    mask = t.face_mask(18)
    assert mask.shape == (18,)
    assert mask[:8].all() and not mask[9:11].any() and mask[13:].all()
    assert FaceTrackBuilder().build(np.zeros(0, int), np.zeros(0), np.zeros(0, bool)).face_mask(3).sum() == 0


@pytest.fixture(scope="module")
def clip():
    src = VideoSource(shared_path("video", "single_face.mp4"))
    return [fr for fr in src.frames() if fr.index < 40], src.info.fps


@pytest.fixture(scope="module")
def detector():
    return LandmarkDetector()


def test_offd_and_crops_share_one_track_and_agree(clip, detector):
    frames, fps = clip
    cfg = replace(OFFDConfig(), window_s=0.8, hop_s=0.4)  # several windows: several landmark measurements
    res = run_offd(iter(frames), fps, cfg, detector)
    t = res.track
    n = res.proc_index.size
    assert isinstance(t, FaceTrack) and np.array_equal(t.index, res.proc_index) and np.array_equal(t.found, res.face)
    assert t.found.all() and len(t.landmarks) >= 3  # one per window reference
    assert t.transforms.shape == (n, 2, 3) and np.abs(t.transforms[1:]).sum(axis=(1, 2)).min() > 0
    checked = ~np.isnan(t.boxes[:, 0])
    assert checked.sum() >= n // 6  # the face is verified every 0.2 s

    builder = FaceTrackBuilder()
    crops = list(track_crops(iter(frames), fps, TrackConfig(size=64, check_s=1 / 30), detector, track=builder))
    c = builder.build()
    assert np.array_equal(c.index, [f.index for f in crops]) and c.found.all()
    assert np.allclose(c.transforms[5], crops[5].transform, atol=1e-5)
    # both tracks put the face in the same place (the crop track checks every frame here): on every OF-FD
    # window reference, within 2 % of the face width (a full detection vs. the local check gives slightly
    # different boxes, hence slightly different landmarks)
    width = np.nanmean(t.boxes[:, 2] - t.boxes[:, 0])
    common = sorted({int(t.index[k]) for k in t.landmarks} & {int(c.index[k]) for k in c.landmarks})
    assert len(common) >= 3, common
    for f in common:
        a, b = t.landmarks_at(f), c.landmarks_at(f)
        assert np.linalg.norm(a.mean(0) - b.mean(0)) < 0.02 * width, f
        assert np.abs(a - b).max() < 0.06 * width, f


def test_crop_track_marks_a_lost_face(detector):
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    empty = np.full_like(face, 120)
    frames = [Frame(i, i / 10, face if i < 12 else empty) for i in range(20)]
    builder = FaceTrackBuilder()
    out = list(track_crops(iter(frames), 10.0, TrackConfig(size=32, check_s=0.2), detector, track=builder))
    t = builder.build()
    assert np.array_equal(t.found, [f.face for f in out])
    assert t.landmarks_at(3) is not None and t.landmarks_at(15) is None
    assert np.isnan(t.boxes[15]).all() and (t.transforms[15] == 0).all()
    assert t.face_mask(20)[:11].all() and not t.face_mask(20)[12:].any()


def test_crops_follow_a_drifting_still_face_smoothly(detector):
    """A still real face drifting 12 px right and 4 px up in 1.5 s: every crop shows the same face.

    The old policy held one transform and re-anchored once the face had moved half a unit: one consecutive
    pair then differed by 23 grey levels on average, and pairs t ± 6 straddling it as much. Now consecutive
    crops and pairs t ± 6 differ by about the resampling floor (≈0.5), and the transforms follow the known
    drift to a tenth of a crop pixel."""
    img = next(iter(VideoSource(shared_path("video", "single_face.mp4")).frames(gray=True))).image
    n, fps, size = 45, 30.0, 64
    shifts = [(12.0 * i / n, -4.0 * i / n) for i in range(n)]
    frames = [Frame(i, i / fps, cv2.warpAffine(img, np.array([[1, 0, dx], [0, 1, dy]]), img.shape[::-1],
                                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
              for i, (dx, dy) in enumerate(shifts)]
    out = list(track_crops(iter(frames), fps, TrackConfig(size=size), detector))
    assert all(f.face for f in out)
    c = np.array([f.crop for f in out], np.float32)
    assert np.abs(np.diff(c, axis=0)).mean(axis=(1, 2)).max() < 1.0
    assert np.abs(c[6:] - c[:-6]).mean(axis=(1, 2)).max() < 1.0
    m0 = out[0].transform.astype(float)
    for f, (dx, dy) in zip(out, shifts):
        expect = m0.copy()
        expect[:, 2] -= m0[:, :2] @ [dx, dy]
        assert np.abs(f.transform - expect).max() < 0.2


def test_face_since_is_where_the_face_segment_begins():
    found = np.array([True, True, False, False, True, True, True])
    track = FaceTrack(index=np.arange(0, 14, 2), time=np.arange(7) / 15.0, found=found,
                      boxes=np.full((7, 4), np.nan), transforms=np.zeros((7, 2, 3)), landmarks={})
    assert track.face_since(2) == 0 and track.face_since(12) == 8 and track.face_since(9) == 8
    assert track.face_since(6) is None  # no face there
