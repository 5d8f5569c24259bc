"""OF-FD's signal functions: one window's channel curves in, window-relative intervals out (spec §3.8–3.11).

Pure functions of arrays; no video, no face. Pixel constants arrive already scaled to the crop in use.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from microexp.spotting.offd_config import OFFDConfig
from microexp.spotting.postprocess import merge_overlapping, runs


def ideal_lowpass(x: np.ndarray, cutoff_hz: float, rate_hz: float) -> np.ndarray:
    """Zero FFT bins from the one nearest ``cutoff_hz`` up to its mirror, then |ifft| (as the reference does)."""
    n = x.size
    spec = np.fft.fft(x)
    b = int(round(cutoff_hz * n / rate_hz))
    if 0 < b < n - b:
        spec[b:n - b] = 0
    return np.abs(np.fft.ifft(spec))


def emd_detrend(y: np.ndarray) -> np.ndarray:
    """Signal minus its EMD residue (PyEMD appends the residue as its last row)."""
    try:
        from microexp.spotting.emd import emd_class  # PyEMD's EMD without its plotting/ensemble imports

        imfs = emd_class()().emd(y, np.arange(y.size, dtype=float))
    except Exception:  # noqa: BLE001 - EMD can fail on degenerate signals; fall back to mean removal
        return y - y.mean()
    if imfs.ndim != 2 or imfs.shape[0] < 2:
        return y - y.mean()
    return imfs[:-1].sum(axis=0)


def window_floor(y: np.ndarray, radius: int) -> np.ndarray:
    """``min(y[max(0, j - radius):j + radius])`` for every j, vectorised (the window the reference uses)."""
    pad = np.full(radius, np.inf)
    yp = np.concatenate([pad, y, pad])
    return np.lib.stride_tricks.sliding_window_view(yp, 2 * radius).min(axis=1)[: y.size]


def detect_channel(y: np.ndarray, d, t1: float, t2: float, td: float, radius: int,
                   gap: int) -> list[tuple[int, int]]:
    """Candidates ≥ T1, prominence test over ±radius on the signal (T2) and its detrended copy (Td).

    ``d`` may be a callable returning the detrended copy: EMD is the slowest step after flow, and most
    channels of most windows have no candidate at all, so it is computed only when one passes T2.
    """
    ys = y - y.min()
    cand = np.nonzero(ys >= t1)[0]
    keep = []
    n = ys.size
    for s, e in runs(cand, gap):
        for j in range(s, e + 1):  # the reference code skipped each run's last frame: fixed
            lo, hi = max(0, j - radius), min(n, j + radius)
            if ys[j] - ys[lo:hi].min() > t2:
                if callable(d):
                    d = d()
                if d[j] - d[lo:hi].min() > td:
                    keep.append(j)
    return runs(keep, gap)


def grow(y: np.ndarray, s: int, e: int, frac: float, radius: int) -> tuple[int, int]:
    """Boundary growth (``expend``): extend the core to where the bump falls below ``frac`` of its
    prominence over the valley on *that* side (within ``radius``).

    The reference code took one valley over ±radius around each end; when the deeper valley lay on the
    far side it fell back to "the lowest point of the 10 frames before the core", which on a flat baseline
    is a coin toss (a 0.75× resize of a real clip moved an onset by 7 frames). Each side's own valley
    makes the boundary a property of the bump.
    """
    n = y.size
    high = float(y[s:e + 1].max())
    onset = s
    lo = max(0, s - radius)
    if lo < s:
        imin = lo + int(np.argmin(y[lo:s]))
        level = float(y[imin]) + frac * (high - float(y[imin]))
        onset = imin
        for j in range(s - 1, imin - 1, -1):
            if y[j] < level:
                onset = j
                break
            if y[j] > y[j + 1]:  # rising again going left: another bump begins
                onset = min(j + 2, s)
                break
    offset = e
    hi = min(n, e + radius + 1)
    if e + 1 < hi:
        imin = e + 1 + int(np.argmin(y[e + 1:hi]))
        level = float(y[imin]) + frac * (high - float(y[imin]))
        offset = imin
        for j in range(e + 1, imin + 1):
            if y[j] < level:
                offset = j
                break
            if y[j] > y[j - 1]:
                offset = max(j - 2, e)
                break
    return int(onset), int(max(offset, onset))


def split_interval(y: np.ndarray, on: int, off: int, min_len: int, margin: int, depth: float) -> list[tuple[int, int]]:
    """S2's ``divide``: cut an interval at a deep valley between two peaks."""
    if off - on < min_len or off - margin <= on + margin:
        return [(on, off)]
    v = on + margin + int(np.argmin(y[on + margin:off - margin]))
    left, right = float(y[on:v].max()) if v > on else 0.0, float(y[v + 1:off + 1].max()) if v < off else 0.0
    if left - y[v] > max(depth, 0.33 * left) and right - y[v] > max(depth, 0.33 * right):
        return [(on, v - 1), (v + 1, off)]
    return [(on, off)]


def analyse_window(signals: np.ndarray, groups: list[str], cfg: OFFDConfig,
                   rate: float) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Detect intervals in one window's channel curves; returns (window-relative spans, filtered, score)."""
    c, n = signals.shape
    filtered = np.full((c, n), np.nan)
    score = np.zeros(n)
    if n < 8:
        return [], filtered, score
    t1, t2s, td = cfg.t1, cfg.t2, cfg.td
    s = cfg.scale()
    radius = cfg.frames(cfg.local_min_radius_s, rate)
    gap = cfg.frames(cfg.run_gap_s, rate)
    spans: list[tuple[int, int]] = []
    for ch in range(c):
        x = signals[ch, 1:-1]
        y = ideal_lowpass(x, cfg.lowpass_hz, rate)
        if cfg.detrend == "emd":
            d = partial(emd_detrend, y)
        else:
            d = y - y.mean()
        filtered[ch, 1:-1] = y
        t2 = t2s[groups[ch]] * s
        floor = window_floor(y, radius)
        score[1:-1] = np.maximum(score[1:-1], (y - floor) / t2)
        for cs, ce in detect_channel(y, d, t1 * s, t2, td * s, radius, gap):
            on, off = grow(y, cs, ce, cfg.grow_fraction, radius)
            parts = [(on, off)]
            if cfg.split:
                parts = split_interval(y, on, off, cfg.frames(cfg.split_min_len_s, rate),
                                       cfg.frames(cfg.split_margin_s, rate), cfg.split_depth_px * s)
            spans.extend((a + 1, b + 1) for a, b in parts)  # trimmed sample i is window frame i + 1
    return merge_overlapping(spans, cfg.fuse_overlap), filtered, score


def finalize(spans: list[tuple[int, int]], cfg: OFFDConfig, rate: float, prev: tuple[int, int] | None = None,
             peak: Callable[[tuple[int, int]], float] | None = None,
             exempt: Callable[[tuple[int, int]], bool] | None = None) -> list[tuple[int, int]]:
    """Video-level length filter, union-merge and echo suppression (spec §3.11).

    ``prev``: the last interval already final before these (echo suppression looks back at it).
    ``peak``: an interval's strength (max score). The reference drops every long interval that starts
    < 0.5 s after the previous one as an "echo" of it; an echo (the face returning towards a reference
    taken inside an expression) is never stronger than the expression, so with ``peak`` an interval
    stronger than the one before it is kept (on WolfgangLanger_Pexels.mp4 the strongest stretch, 7× the
    threshold, was dropped after a 2.5× interval).
    ``exempt``: intervals that are never echoes (found against the lagged reference, ``offd_lag``: a face
    returning from an expression is a change there, not an artefact of the reference).
    """
    return echo_stage(merge_stage(spans, cfg, rate), cfg, rate, prev, peak, exempt)


def merge_stage(spans: list[tuple[int, int]], cfg: OFFDConfig, rate: float) -> list[tuple[int, int]]:
    """``finalize``'s first part: length gates, then union-merge; sorted."""
    lo = cfg.frames(cfg.min_len_s, rate)
    hi = cfg.frames(cfg.max_len_s, rate) if cfg.max_len_s else None
    kept = [sp for sp in spans if sp[1] - sp[0] >= lo and (hi is None or sp[1] - sp[0] <= hi)]
    kept = merge_overlapping(sorted(kept), cfg.fuse_overlap)
    kept.sort()
    return kept


def echo_stage(kept: list[tuple[int, int]], cfg: OFFDConfig, rate: float, prev: tuple[int, int] | None = None,
               peak: Callable[[tuple[int, int]], float] | None = None,
               exempt: Callable[[tuple[int, int]], bool] | None = None) -> list[tuple[int, int]]:
    """``finalize``'s second part: echo suppression, scanning in order and looking back only."""
    if cfg.echo_suppress:
        gap, min_len = cfg.frames(cfg.echo_gap_s, rate), cfg.frames(cfg.echo_min_len_s, rate)
        out: list[tuple[int, int]] = [] if prev is None else [prev]
        for sp in kept:
            if out and sp[0] - out[-1][1] < gap and sp[1] - sp[0] > min_len and not (exempt and exempt(sp)):
                if peak is None or peak(sp) <= peak(out[-1]):
                    continue
            out.append(sp)
        kept = out if prev is None else out[1:]
    return kept
