"""OF-FD on never-neutral footage: *open* intervals and the lagged reference (spec offd.md §5 ``reference: lag``).

OF-FD measures every frame of a window against the window's first frame and assumes that frame is neutral.
When a window-level interval reaches the window's last analysed frame and the next window's reference lies
inside it (the adaptive hop could not place the reference before it), the face never came back to the
reference: the interval is *open* (the expression continues; its offset is the window's, not the
expression's), and the next window's reference is itself an expression. That window therefore compares each
frame ``t`` with frame ``t − k`` of the same window (the lagged reference; the window's first frame while
``t − k`` lies before it), so what it finds are the *changes* of the face: an interval starts at a quiet
(turning) point and peaks where the face has changed most. Windows go on lagging while their own intervals are
open, and return to the first-frame reference after a window whose intervals all closed.

Head motion: every crop of a window is aligned to the window's reference geometry and keeps a residual
translation ``g_t`` (what ``WindowTracker.align`` returns); between two crops of the window the residual rigid
motion is ``g_t − g_{t−k}``, subtracted from every ROI vector as the residual against the reference is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from microexp.spotting.offd_config import OFFDConfig
from microexp.spotting.offd_signal import split_interval
from microexp.spotting.offd_track import RoiLayout, Track, WindowTracker, _roi_displacement

Span = tuple[int, int]


def lag_frames(cfg: OFFDConfig, rate: float) -> int:
    """k of the lagged reference in processed frames (``cfg.lag_s`` seconds, at least one frame)."""
    return cfg.frames(cfg.lag_s, rate)


def open_spans(spans: list[Span], length: int, next_start: int | None) -> list[Span]:
    """Window-relative spans that are *open*: they reach the window's last analysed frame (``length − 2``:
    the first and last samples are trimmed, spec §3.8) and the next window's reference (``next_start``,
    window-relative; None: no next window) lies inside them, so no window measures their end from a reference
    outside the expression."""
    if next_start is None:
        return []
    last = length - 2
    return [sp for sp in spans if sp[1] >= last and sp[0] < next_start]


def split_at_pauses(spans: list[Span], score: np.ndarray, cfg: OFFDConfig, rate: float) -> list[Span]:
    """Cut a lagged window's fused spans where the whole face pauses between two changes.

    Against t − k every movement is a change, and the channels' spans of successive changes overlap and are
    union-merged into one (spec §3.10). ``score`` (window frames; the largest channel prominence over T2) dips
    where every channel is near its local floor: S2's ``divide`` rule (spec §3.9.6: a valley deeper than
    max(0.7 px, ⅓ of the peak) on both sides, pieces ≥ 0.67 s, 0.27 s margins) is applied to it, again on each
    piece, until no such valley is left. The depth 0.7 px is taken over the smallest T2 (score units)."""
    min_len = cfg.frames(cfg.split_min_len_s, rate)
    margin = cfg.frames(cfg.split_margin_s, rate)
    depth = cfg.split_depth_px / min(cfg.t2.values())
    out: list[Span] = []
    todo = list(spans)
    while todo:
        on, off = todo.pop()
        parts = split_interval(score, on, off, min_len, margin, depth)
        if len(parts) == 1:
            out.append(parts[0])
        else:
            todo.extend(parts)
    return sorted(out)


def covering(spans: list[Span], pos: int) -> list[Span]:
    """Spans (window-relative) with ``pos`` inside: a reference taken there is in the middle of a change."""
    return [sp for sp in spans if sp[0] < pos <= sp[1]]


@dataclass(frozen=True)
class _LagTarget:
    """What ``_roi_displacement`` reads of a track: the reference patches (here frame t − k's) and the layout."""

    ref_patches: list[np.ndarray]
    layout: RoiLayout


class LagReference:
    """The last ``k`` aligned ROI patches and residuals of one window: frame t is measured against t − k."""

    def __init__(self, k: int):
        self.k = max(1, int(k))
        self.past: deque[tuple[list[np.ndarray], np.ndarray]] = deque(maxlen=self.k)

    def measure_async(self, tracker: WindowTracker, track: Track, gray: np.ndarray) -> Callable[[], np.ndarray]:
        """Align ``gray`` as ``WindowTracker.measure_async`` does, then ROI flows against frame t − k (against
        the window's first frame while fewer than k frames of the window have been measured)."""
        crop, g = tracker.align(track, gray)
        patches = [crop[a:b, c:d] for a, b, c, d in track.layout.boxes]
        if len(self.past) == self.k:
            ref_patches, g_ref = self.past[0]
            target, rel = _LagTarget(ref_patches, track.layout), g - g_ref
        else:
            target, rel = track, g
        self.past.append((patches, g))
        if tracker.pool is None:
            vals = _roi_displacement(tracker.cfg, target, crop, rel)
            return lambda: vals
        return tracker.pool.submit(_roi_displacement, tracker.cfg, target, crop, rel).result
