"""OF-FD on never-neutral footage (``spotting/offd_lag.py``, docs/spotting.md "Never-neutral footage").

An interval that reaches its window's last analysed frame while the next window's reference lies inside it is
*open*; the next window measures each frame against the frame ``k`` before it (spec §5 ``reference: lag``), so
a change of a held expression becomes an interval of its own instead of "different from a non-neutral
reference until the window ends". Built on the first frame of ``../shared/video/single_face.mp4``.
"""

import cv2
import numpy as np

from microexp.io.video import Frame
from microexp.spotting.api import spans_to_intervals
from microexp.spotting.offd import OFFDConfig, WindowTracker, finalize, run_offd, with_overrides
from microexp.spotting.offd_lag import LagReference, covering, open_spans, split_at_pauses
from microexp.synth.motion import brow_frames

FPS = 15.0  # working rate 15 Hz: a 100-frame window (6.67 s); keeps the test short


def ramp(t, t0, t1):
    """0 before t0, 1 after t1, a raised-cosine half in between."""
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 * (1 - np.cos(np.pi * x))


# brows up over 0.2–0.7 s and held, lowered over 8.5–9.0 s: OF-FD's ±1 s prominence test and ⅓-height growth
# localise a held step to its rise, so nothing here is open: ordinary footage, where the lagged reference must
# change nothing
SECONDS, AMP = 11.0, 4.0
T = np.arange(int(SECONDS * FPS)) / FPS
HELD = AMP * (ramp(T, 0.2, 0.7) - ramp(T, 8.5, 9.0))


def run(face, **overrides):
    img, lm, det = face
    frames = [Frame(i, i / FPS, im) for i, im in enumerate(brow_frames(img, lm, HELD))]
    return run_offd(iter(frames), FPS, with_overrides(OFFDConfig(), **overrides), det)


def test_open_spans_and_covering():
    # window of 100 frames: the last analysed frame is 98; the next reference at 99 (hop rule for a long span)
    assert open_spans([(3, 98), (40, 60)], 100, 99) == [(3, 98)]
    assert open_spans([(3, 97)], 100, 99) == []  # ended before the window did
    assert open_spans([(70, 98)], 100, 50) == []  # the next reference lies before it: measured again from there
    assert open_spans([(3, 98)], 100, None) == []  # the video ended: nothing follows
    assert covering([(10, 40), (50, 60)], 30) == [(10, 40)] and covering([(10, 40)], 10) == []


def test_split_at_pauses_cuts_only_at_valleys_deep_on_both_sides():
    cfg, rate = OFFDConfig(), 30.0
    x = np.arange(120)
    bumps = 4 * np.exp(-((x - 30) / 8.0) ** 2) + 5 * np.exp(-((x - 80) / 8.0) ** 2)  # a pause near 55
    got = split_at_pauses([(10, 100)], bumps, cfg, rate)
    assert len(got) == 2 and got[0][0] == 10 and got[1][1] == 100 and 45 <= got[0][1] <= 60
    shallow = 4 + np.exp(-((x - 30) / 8.0) ** 2) + np.exp(-((x - 80) / 8.0) ** 2)  # never below ⅔ of the peaks
    assert split_at_pauses([(10, 100)], shallow, cfg, rate) == [(10, 100)]


def test_echo_suppression_spares_changes_found_against_the_lagged_reference():
    cfg, rate = OFFDConfig(), 30.0
    spans = [(100, 120), (130, 160)]  # the second starts < 0.5 s after the first and is longer than 0.5 s
    assert finalize(spans, cfg, rate) == [(100, 120)]
    assert finalize(spans, cfg, rate, exempt=lambda sp: sp == (130, 160)) == spans


def test_lagged_reference_sees_changes_not_states(face):
    """A brow step held from frame 3: against the window's first frame it stays; against t − k it is gone
    once the step is more than k frames old."""
    img, lm, det = face
    frames = [cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in brow_frames(img, lm, [0, 0, 0] + [AMP] * 9)]
    first, lagged = WindowTracker(OFFDConfig(), det, threads=1), WindowTracker(OFFDConfig(), det, threads=1)
    t1, t2 = first.start(frames[0]), lagged.start(frames[0])
    lag = LagReference(3)
    a = np.array([first.measure(t1, f) for f in frames[1:]]).max(axis=1)
    b = np.array([lag.measure_async(lagged, t2, f)() for f in frames[1:]]).max(axis=1)
    assert a[:2].max() < 0.5 and b[:2].max() < 0.5  # still face
    assert a[3:].min() > 3.0  # the held step, against the first frame
    assert b[2:5].min() > 3.0  # the step is in the last k frames: seen
    assert b[6:].max() < 0.5  # older than k frames: against t − k nothing has changed


def test_held_expression_on_a_neutral_start_is_not_open_and_nothing_changes(face):
    res = run(face)
    ivs = spans_to_intervals(res, FPS)
    assert not res.open_ends and not res.lagged and not any(iv.open for iv in ivs)
    assert any(0.2 <= iv.onset / FPS <= 0.6 for iv in ivs), ivs  # the raise
    assert any(8.3 <= iv.onset / FPS <= 8.9 for iv in ivs), ivs  # the lowering
    assert spans_to_intervals(run(face, after_open="window_first"), FPS) == ivs


def test_reference_lag_option_measures_every_window_against_t_minus_k(face):
    """The spec's ``reference: lag`` for every window: a raise held to the end is found by its rise only."""
    img, lm, det = face
    heights = AMP * ramp(T[:45], 0.5, 1.0)  # 3 s, one window
    frames = [Frame(i, i / FPS, im) for i, im in enumerate(brow_frames(img, lm, heights))]
    res = run_offd(iter(frames), FPS, with_overrides(OFFDConfig(), reference="lag"), det)
    assert res.lagged == [0]
    ivs = spans_to_intervals(res, FPS)
    assert len(ivs) == 1 and 0.3 <= ivs[0].onset / FPS <= 0.8 and ivs[0].offset / FPS <= 2.0, ivs
