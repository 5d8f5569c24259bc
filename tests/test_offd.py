"""OF-FD stages on synthetic signals with worked-out answers (spec offd.md §7 'without licensed videos')."""

import numpy as np
import pytest

from microexp.errors import ConfigError
from microexp.io.video import Frame
from microexp.spotting.offd import (
    OFFDConfig,
    analyse_window,
    detect_channel,
    finalize,
    get_preset,
    grow,
    ideal_lowpass,
    next_hop,
    resample_stream,
    split_interval,
    with_overrides,
    working_rate,
)
from microexp.spotting.postprocess import iou, merge_overlapping, nms, peaks_to_spans, runs


def bump(n, centre, width, height):
    t = np.arange(n)
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def test_lowpass_bin_arithmetic():
    n, rate = 198, 30.0
    assert round(2.0 * n / rate) == 13 and round(5.0 * n / rate) == 33
    t = np.arange(n) / rate
    # periodic in the window (whole numbers of cycles): bin 3 (0.45 Hz) is kept, bin 40 (6.1 Hz) removed
    slow, fast = np.sin(2 * np.pi * 3 * rate / n * t), 0.5 * np.sin(2 * np.pi * 40 * rate / n * t)
    out = ideal_lowpass(slow + fast + 3, 2.0, rate)
    assert np.abs(out - np.abs(slow + 3)).max() < 0.05  # fast part gone, slow part kept (as |ifft|)


def test_detect_and_grow_a_clear_bump():
    n = 198
    y = bump(n, 100, 6, 4.0) + 0.2
    d = y - y.mean()
    cores = detect_channel(y, d, t1=1.6, t2=2.0, td=0.5, radius=30, gap=3)
    assert len(cores) == 1
    s, e = cores[0]
    assert s <= 100 <= e
    on, off = grow(y, s, e, 0.33, 30)
    # the grown interval spans the part of the bump above ≈1/3 of its height: |t−100| ≤ 6·sqrt(2 ln 3) ≈ 8.9
    assert 88 <= on <= 93 and 107 <= off <= 112


def test_small_or_flat_bumps_are_not_detected():
    n = 198
    y = bump(n, 100, 6, 1.0) + 0.2  # below T2
    assert detect_channel(y, y - y.mean(), 1.6, 2.0, 0.5, 30, 3) == []
    ramp = np.linspace(0, 6, n)  # a slow drift is tall but has no local prominence in ±30 frames... partly
    cores = detect_channel(ramp, np.zeros(n), 1.6, 2.0, 0.5, 30, 3)
    assert cores == []  # the detrended copy (zeros) fails the Td test


def test_split_at_a_deep_valley():
    y = bump(120, 40, 5, 4) + bump(120, 80, 5, 4)
    parts = split_interval(y, 25, 95, min_len=20, margin=8, depth=0.7)
    assert len(parts) == 2 and parts[0][1] < 60 < parts[1][0]
    assert split_interval(bump(120, 60, 15, 4), 25, 95, 20, 8, 0.7) == [(25, 95)]


def test_merge_overlapping_zero_length_and_chains():
    assert merge_overlapping([(10, 20), (15, 30)], 0.2) == [(10, 30)]
    assert merge_overlapping([(10, 20), (19, 40)], 0.2) == [(10, 20), (19, 40)]  # 1/10 overlap ≤ θ
    assert merge_overlapping([(5, 5), (5, 5)], 0.2) == [(5, 5), (5, 5)]  # zero length: no division by zero
    assert merge_overlapping([(0, 10), (20, 30), (5, 25)], 0.2) == [(0, 30)]  # two passes chain merges


def test_runs_iou_nms_peaks():
    assert runs([1, 2, 4, 9, 10], 3) == [(1, 4), (9, 10)]
    assert iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert iou((0, 0), (0, 0)) == 1.0
    assert nms([(0, 10), (1, 11), (30, 40)], [0.5, 0.9, 0.7]) == [1, 2]
    curve = bump(100, 50, 3, 1.0)
    assert peaks_to_spans(curve, 0.5, k=6) == [(44, 56)]


def test_adaptive_hop():
    W = 200
    assert next_hop([], W, 100) == 100
    assert next_hop([(90, 130)], W, 100) == 150  # ends before 0.75 W: start 0.1 W after it
    assert next_hop([(60, 170)], W, 100) == 40  # starts after 0.25 W: start 0.1 W before it
    assert next_hop([(10, 199)], W, 100) == 199  # spans almost all: min(off, 0.945 W) + 0.05 W
    assert next_hop([(80, 120), (90, 140)], W, 100) == 160  # the one ending last decides


def test_finalize_length_gates_and_echo():
    cfg = OFFDConfig()
    rate = 30.0
    spans = [(0, 5), (100, 120), (130, 160), (300, 560)]
    out = finalize(spans, cfg, rate)
    # (0,5) too short (< 12), (300,560) too long (> 200); (130,160) starts 10 frames after (100,120)
    # ends and is longer than 15 frames: echo-suppressed
    assert out == [(100, 120)]
    assert finalize(spans, with_overrides(cfg, echo_suppress=False), rate) == [(100, 120), (130, 160)]
    # an "echo" stronger than the interval before it is an expression of its own (microexp): kept
    strength = {(100, 120): 2.0, (130, 160): 5.0}
    assert finalize(spans, cfg, rate, peak=strength.get) == [(100, 120), (130, 160)]
    assert finalize(spans, cfg, rate, peak={(100, 120): 5.0, (130, 160): 2.0}.get) == [(100, 120)]


def test_analyse_window_finds_expression_in_one_channel():
    rng = np.random.default_rng(0)
    n = 200
    sig = np.abs(rng.normal(0, 0.15, (3, n)))
    sig[1] += bump(n, 120, 4, 4.0)
    sig[:, 0] = 0
    spans, filtered, score = analyse_window(sig, ["brow", "mouth", "nose"], OFFDConfig(), 30.0)
    assert len(spans) == 1
    on, off = spans[0]
    assert on <= 120 <= off and off - on < 30
    assert score[120] > 1 and np.nanmax(score[:80]) < 1


def test_presets_and_rates():
    assert get_preset("samm_lv").name == "offd_sammlv_he"
    assert get_preset("default").crop.size == (256, 256)
    assert get_preset("offd_samm_megc2022").crop.size == (320, 320)
    me = get_preset("me")  # microexp's noise-floor preset: the default but 5 Hz, its own thresholds and gates
    assert me.name == "offd_me_noisefloor" and me.lowpass_hz == 5.0 and me.channels == get_preset("default").channels
    # the gate is the 0.2-s shortest ME scaled by the ⅓-height width of a raised cosine; the ME/MaE split is
    # measured on planted raises (test_metamorphic_offd.py::test_me_noisefloor_preset_types_by_duration)
    width = 1 - np.arccos(1 / 3) / np.pi
    assert me.min_len_s == pytest.approx(0.2 * width, abs=0.005) and me.min_len_s < me.me_mae_split_s < 0.5
    with pytest.raises(ConfigError):
        get_preset("nope")
    with pytest.raises(ConfigError):
        with_overrides(OFFDConfig(), not_an_option=1)
    assert working_rate(200, 30) == pytest.approx(200 / 7)
    assert working_rate(30, 30) == 30


def test_resample_stream_strides_and_vfr():
    frames = [Frame(i, i / 200, np.zeros((2, 2), np.uint8)) for i in range(200)]
    got = [i for i, _, _ in resample_stream(frames, 200 / 7)]
    assert got[:4] == [0, 7, 14, 21]
    times = np.cumsum([0, 0.01, 0.05, 0.03, 0.04, 0.03, 0.05, 0.02])
    vfr = [Frame(i, t, np.zeros((2, 2), np.uint8)) for i, t in enumerate(times)]
    out = list(resample_stream(vfr, 30))
    assert [round(t * 30) for _, t, _ in out] == pytest.approx(list(range(len(out))), abs=1)
    assert all(abs(t - k / 30) <= 0.025 for k, (_, t, _) in enumerate(out))


@pytest.mark.parametrize("radius", [1, 5, 30, 250])
def test_window_floor_equals_the_reference_loop(radius):
    from microexp.spotting.offd import window_floor

    y = np.random.default_rng(radius).normal(size=198)
    naive = np.array([y[max(0, j - radius):j + radius].min() for j in range(y.size)])
    assert np.array_equal(window_floor(y, radius), naive)


def test_lazy_emd_gives_the_eager_answer():
    """EMD runs only when a candidate passes T2; the detections must equal those with EMD always run."""
    from microexp.spotting.offd import emd_detrend

    rng = np.random.default_rng(3)
    y = ideal_lowpass(np.abs(rng.normal(0, 0.3, 198)) + bump(198, 90, 5, 3.0) + np.linspace(0, 2, 198), 5.0, 30.0)
    calls = []

    def lazy():
        calls.append(1)
        return emd_detrend(y)

    eager = detect_channel(y, emd_detrend(y), 1.4, 1.9, 0.8, 30, 3)
    assert detect_channel(y, lazy, 1.4, 1.9, 0.8, 30, 3) == eager and eager
    assert len(calls) == 1
    flat = np.full(198, 0.1)
    assert detect_channel(flat, lazy, 1.4, 1.9, 0.8, 30, 3) == [] and len(calls) == 1


def test_grow_uses_the_valley_on_each_side():
    """A deeper valley after the bump must not move the onset (the reference's cliff fallback did)."""
    n = 198
    rng = np.random.default_rng(1)
    base = bump(n, 100, 6, 4.0) + 0.02 * rng.normal(size=n)
    deep = base - bump(n, 125, 4, 1.5)  # deeper valley on the right only
    (on, off), (on_deep, off_deep) = grow(base, 96, 104, 0.33, 30), grow(deep, 96, 104, 0.33, 30)
    assert on == on_deep and 89 <= on <= 92  # the first frame below 1/3 of the height (100 − 8.9)
    assert 108 <= off <= 111 and off_deep >= off  # the right side measures against its own (deeper) valley
