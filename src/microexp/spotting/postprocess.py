"""Score-curve post-processing shared by every spotter: smoothing, peaks → intervals, merging and NMS."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[int, int]  # inclusive (onset, offset)


def runs(indices: Sequence[int] | np.ndarray, max_gap: int = 3) -> list[Span]:
    """Group sorted frame indices into runs; a gap of less than ``max_gap`` frames joins them."""
    idx = np.asarray(indices, dtype=int)
    if idx.size == 0:
        return []
    breaks = np.nonzero(np.diff(idx) >= max_gap)[0]
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


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


def smooth(curve: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (window in frames, odd), edges handled by shrinking the window."""
    curve = np.asarray(curve, dtype=float)
    if window <= 1 or curve.size == 0:
        return curve.copy()
    k = np.ones(window)
    num = np.convolve(curve, k, mode="same")
    den = np.convolve(np.ones_like(curve), k, mode="same")
    return num / den


def peaks_to_spans(curve: np.ndarray, threshold: float, k: int, distance: int | None = None) -> list[Span]:
    """Peaks above ``threshold`` at least ``distance`` apart (default k), each widened to [peak−k, peak+k].

    This is the SOFTNet / 3D-CNN post-processing: one interval of 2k+1 frames per detected peak.
    """
    from scipy.signal import find_peaks

    curve = np.asarray(curve, dtype=float)
    peaks, _ = find_peaks(curve, height=threshold, distance=max(1, distance or k))
    n = curve.size
    return [(max(0, int(p) - k), min(n - 1, int(p) + k)) for p in peaks]
