"""Score-curve post-processing shared by every spotter: smoothing, peaks → intervals, merging and NMS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from microexp.errors import InputError

Span = tuple[int, int]  # inclusive (onset, offset)


def runs(indices: Sequence[int] | np.ndarray, max_gap: int = 3) -> list[Span]:
    """Group sorted frame indices into runs; a gap of less than ``max_gap`` frames joins them."""
    idx = np.asarray(indices, dtype=int)
    if idx.size == 0:
        return []
    breaks = np.nonzero(np.diff(idx) >= max_gap)[0]
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def merge_overlapping(spans: Sequence[Span], theta: float, passes: int = 2) -> list[Span]:
    """OF-FD's ``nms2``: union-merge intervals whose intersection over the shorter one exceeds ``theta``.

    Each new interval is compared with every kept one and merged into all it overlaps; zero-length
    intervals count as length 1 (the reference code divides by zero there).
    """
    out = [tuple(map(int, s)) for s in spans]
    for _ in range(passes):
        kept: list[list[int]] = []
        for on, off in out:
            merged = False
            for k in kept:
                inter = min(off, k[1]) - max(on, k[0])
                if inter <= 0:
                    continue
                ov = max(inter / max(k[1] - k[0], 1), inter / max(off - on, 1))
                if ov > theta:
                    k[0], k[1] = min(k[0], on), max(k[1], off)
                    merged = True
            if not merged:
                kept.append([on, off])
        out = [(a, b) for a, b in kept]
    return out


def iou(a: Span, b: Span) -> float:
    """IoU of inclusive frame sets."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def nms(spans: Sequence[Span], scores: Sequence[float], iou_threshold: float = 0.5) -> list[int]:
    """Greedy non-maximum suppression on 1-D intervals; returns kept indices, best first."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    keep: list[int] = []
    for i in order:
        if all(iou(spans[i], spans[j]) < iou_threshold for j in keep):
            keep.append(int(i))
    return keep


def peaks_to_spans(curve: np.ndarray, threshold: float, k: int, distance: int | None = None) -> list[Span]:
    """Peaks above ``threshold`` at least ``distance`` apart (default k), each widened to [peak−k, peak+k].

    This is the SOFTNet / 3D-CNN post-processing: one interval of 2k+1 frames per detected peak.
    """
    from scipy.signal import find_peaks

    curve = np.asarray(curve, dtype=float)
    peaks, _ = find_peaks(curve, height=threshold, distance=max(1, distance or k))
    n = curve.size
    return [(max(0, int(p) - k), min(n - 1, int(p) + k)) for p in peaks]


# ---------------------------------------------------------------------------------------------------------
# Score curve -> intervals: the SOFTNet / 3D-CNN / SL-Swin procedure (spotting-3dcnn.md §3.8, metrics.md §6.3.3)


class CurvePeak(NamedTuple):
    """One detected peak as an inclusive frame span with the smoothed score at its peak."""

    onset: int
    apex: int
    offset: int
    score: float


def window_mean(scores: np.ndarray, k: int, drop_last: bool = False) -> np.ndarray:
    """``s̃_j = mean(s_j … s_{j+2k−1})`` over every complete window (``len − 2k + 1`` values).

    ``drop_last`` keeps ``len − 2k`` values, as the MEGC2022 test path and SOFTNet do; the difference decides
    whether a peak in the last window can be found, so both are needed to reproduce published files.
    """
    s = np.asarray(scores, dtype=float).reshape(-1)
    w = 2 * int(k)
    if w <= 0:
        return s.copy()
    n = s.size - w + (0 if drop_last else 1)
    if n <= 0:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(s)])
    return (c[w:w + n] - c[:n]) / w


def moilanen_threshold(curve: np.ndarray, p: float) -> float:
    """``mean + p·(max − mean)``: relative to the video's own curve, so no absolute score scale is assumed."""
    c = np.asarray(curve, dtype=float)
    if c.size == 0:
        return float("inf")
    m = float(c.mean())
    return m + float(p) * (float(c.max()) - m)


def curve_threshold(curve: np.ndarray, p: float, floor: float | None = None,
                    min_contrast: float | None = None) -> float:
    """The height a peak must reach: Moilanen's relative threshold, raised by two absolute tests.

    The relative threshold alone always passes the highest peak of a video, so a flat (untrained or
    uninformative) curve still yields about one interval per video. ``floor`` is an absolute minimum score;
    ``min_contrast`` asks the peak to stand that many robust standard deviations (1.4826 · MAD) above the
    curve's median. Either one makes a flat curve yield nothing; both off reproduces the published procedure.
    """
    c = np.asarray(curve, dtype=float)
    thr = moilanen_threshold(c, p)
    if c.size == 0:
        return thr
    if floor is not None:
        thr = max(thr, float(floor))
    if min_contrast is not None:
        med = float(np.median(c))
        spread = 1.4826 * float(np.median(np.abs(c - med)))
        thr = max(thr, med + float(min_contrast) * max(spread, 1e-6))
    return thr


def spot_curve(scores: np.ndarray, k: int, p: float = 0.60, *, distance: int | None = None,
               drop_last: bool = False, n_frames: int | None = None, floor: float | None = None,
               min_contrast: float | None = None) -> list[CurvePeak]:
    """Smooth over 2k scores, threshold at ``p`` (Moilanen), find peaks ≥ ``distance`` apart (default k).

    Peak j of the smoothed curve (the mean of scores j … j + 2k − 1) becomes the span ``[j, j + 2k]`` with
    apex j + k. For scores that belong to one frame (refcnn3d: frame t against t ± k) this is the span the
    window covers, i.e. the 3D-CNN spec's ``s̃_t = mean(s_{t−k} … s_{t+k−1})`` → ``[t − k, t + k]``; for
    SOFTNet/SL-Swin pair scores (j, j + k) it is their published convention. Spans are clipped to
    ``[0, n_frames − 1]`` when ``n_frames`` is given; ``floor`` / ``min_contrast``: see ``curve_threshold``.
    """
    from scipy.signal import find_peaks

    k = int(k)
    sm = window_mean(scores, k, drop_last=drop_last)
    if sm.size == 0:
        return []
    thr = curve_threshold(sm, p, floor, min_contrast)
    peaks, _ = find_peaks(sm, height=thr, distance=max(1, int(distance if distance is not None else k)))
    out = []
    for j in peaks:
        on, apex, off = int(j), int(j) + k, int(j) + 2 * k
        if n_frames is not None:
            on, off = max(0, on), min(int(n_frames) - 1, off)
            apex = min(max(apex, on), off)
        if on <= off:
            out.append(CurvePeak(on, apex, off, float(sm[j])))
    return out


def split_curve(curve: np.ndarray, lengths: Sequence[int]) -> list[np.ndarray]:
    """Cut a concatenation of per-video curves back into videos; the lengths must add up exactly."""
    c = np.asarray(curve, dtype=float).reshape(-1)
    total = int(np.sum(lengths))
    if total != c.size:
        raise InputError(f"curve has {c.size} scores but the video lengths add up to {total}")
    edges = np.cumsum([0, *map(int, lengths)])
    return [c[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
