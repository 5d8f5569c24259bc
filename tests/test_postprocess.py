"""Score-curve post-processing on curves with worked-out answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microexp.errors import InputError
from microexp.spotting.postprocess import (
    curve_threshold,
    moilanen_threshold,
    nms,
    split_curve,
    spot_curve,
    window_mean,
)


def test_window_mean_counts_and_values():
    s = np.arange(10, dtype=float)
    sm = window_mean(s, 2)  # windows of 4: mean(j..j+3) = j + 1.5
    assert sm.size == 10 - 4 + 1
    np.testing.assert_allclose(sm, np.arange(7) + 1.5)
    assert window_mean(s, 2, drop_last=True).size == 10 - 4
    assert window_mean(s[:3], 2).size == 0


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=60), st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_window_mean_matches_naive(values, k):
    s = np.asarray(values)
    sm = window_mean(s, k)
    naive = [s[j:j + 2 * k].mean() for j in range(len(s) - 2 * k + 1)]
    np.testing.assert_allclose(sm, naive, atol=1e-9)


def test_moilanen_threshold():
    c = np.array([0.0, 0.0, 0.0, 4.0])
    assert moilanen_threshold(c, 0.0) == pytest.approx(1.0)
    assert moilanen_threshold(c, 1.0) == pytest.approx(4.0)
    assert moilanen_threshold(c, 0.5) == pytest.approx(2.5)


def _bump_curve(n, centres, k, height=1.0):
    s = np.full(n, 0.05)
    for c in centres:
        s[c:c + k] = height  # SOFTNet-style: score j is the pair (j, j+k); a burst of k high scores
    return s


def test_spot_curve_pair_indexing_gives_2k_plus_1_spans():
    k = 5
    s = _bump_curve(200, [50, 120], k)
    peaks = spot_curve(s, k, 0.5)
    assert len(peaks) == 2
    for pk, c in zip(peaks, [50, 120], strict=True):
        assert pk.offset - pk.onset == 2 * k
        # the smoothed curve [j, j+2k) covers the burst [c, c+k) fully for j in [c+k-2k, c]: plateau start
        assert c - k <= pk.onset <= c
        assert pk.onset <= pk.apex <= pk.offset


def test_per_frame_scores_give_a_span_centred_on_the_expression():
    """refcnn3d-style scores (one per frame): high on frames 40..52 -> the span [40, 52] around frame 46."""
    k = 6
    s = np.zeros(120)
    s[40:53] = 1.0
    peaks = spot_curve(s, k, 0.5)
    assert [(pk.onset, pk.apex, pk.offset) for pk in peaks] == [(40, 46, 52)]


def test_spans_are_clipped_to_the_video():
    k = 5
    s = np.zeros(30)
    s[19:29] = 1.0  # plateau of the smoothed curve at its last index: find_peaks needs a right neighbour
    s[17] = 0.5
    peaks = spot_curve(s, k, 0.3, n_frames=25)
    assert peaks and all(0 <= pk.onset <= pk.apex <= pk.offset <= 24 for pk in peaks)


def test_peak_distance_suppresses_close_peaks():
    k = 3
    s = np.zeros(100)
    s[40:43] = 1.0
    s[47:50] = 1.0  # two bursts 7 apart
    assert len(spot_curve(s, k, 0.3, distance=1)) >= 2
    assert len(spot_curve(s, k, 0.3, distance=20)) == 1


def test_flat_curve_gives_no_peaks_and_short_curve_nothing():
    assert spot_curve(np.ones(50), 3, 0.6) == []
    assert spot_curve(np.ones(3), 3, 0.6) == []


def test_split_curve():
    parts = split_curve(np.arange(10), [3, 7])
    assert [p.tolist() for p in parts] == [[0, 1, 2], [3, 4, 5, 6, 7, 8, 9]]
    with pytest.raises(InputError):
        split_curve(np.arange(10), [3, 6])


def test_nms_keeps_best_of_overlapping():
    spans = [(0, 10), (1, 11), (30, 40), (2, 12)]
    scores = [0.5, 0.9, 0.3, 0.1]
    keep = nms(spans, scores, 0.5)
    assert keep == [1, 2]


def test_flat_curve_gives_no_interval():
    """A flat (untrained) curve must not produce a forced peak per video once the absolute tests are on."""
    rng = np.random.default_rng(0)
    flat = 0.25 + rng.normal(0, 0.01, 600)  # a constant predictor at the training prior, plus noise
    assert len(spot_curve(flat, 4, 0.6)) >= 1  # the relative threshold alone always passes the top peak
    assert spot_curve(flat, 4, 0.6, floor=0.5) == []
    assert spot_curve(flat, 4, 0.6, min_contrast=5.0) == []
    high = 0.9 + rng.normal(0, 0.01, 600)  # flat but high: only the contrast test can reject it
    assert spot_curve(high, 4, 0.6, floor=0.5, min_contrast=5.0) == []


def test_absolute_tests_keep_real_peaks():
    rng = np.random.default_rng(1)
    s = 0.05 + rng.normal(0, 0.01, 300)
    s[100:110] += 0.9
    s[200:210] += 0.8
    peaks = spot_curve(s, 4, 0.6, floor=0.5, min_contrast=5.0)
    assert [p.apex for p in peaks] == pytest.approx([105, 205], abs=3)
    assert curve_threshold(window_mean(s, 4), 0.6, floor=0.5, min_contrast=5.0) >= 0.5


def test_refcnn3d_intervals_stay_inside_the_face_run_around_their_apex():
    """The span [40, 52] around 46; no face on 0..43 cuts its onset to 44, no face at the apex drops it."""
    from microexp.spotting.refcnn3d import curve_intervals

    s = np.zeros(120)
    s[40:53] = 1.0
    meta = {"k": 6, "p": 0.5, "floor": None, "min_contrast": None}
    face = np.ones(120, bool)
    assert [(iv.onset, iv.apex, iv.offset) for iv in curve_intervals(s, meta, "me", 120, face)] == [(40, 46, 52)]
    face[:44] = False
    assert [(iv.onset, iv.apex, iv.offset) for iv in curve_intervals(s, meta, "me", 120, face)] == [(44, 46, 52)]
    face[50] = False
    assert [(iv.onset, iv.apex, iv.offset) for iv in curve_intervals(s, meta, "me", 120, face)] == [(44, 46, 49)]
    face[46] = False
    assert curve_intervals(s, meta, "me", 120, face) == []
