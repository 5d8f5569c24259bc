"""Head motion between two aligned crops, from points that expressions barely move.

OF-FD measures expressions as displacement from a reference frame, so head motion must be removed first.
The reference code tracked one 16-px nose-tip strip with Farneback flow; on real video that strip has too
little texture and context (a 6-px shift of a real face reads as 0.17 px there), and it cannot see roll or
zoom. Here pyramidal Lucas–Kanade tracks the rigid landmarks (nasal ridge and tip, subnasale, inner eye
corners) and a robust similarity (or, faithful to the reference, a pure translation) is fitted to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MODES = ("similarity", "translation")


@dataclass
class HeadMotion:
    """``A`` maps current-crop coordinates onto the reference crop (2×3); ``residual`` is the anchors' median
    displacement from the reference (canonical px): OF-FD subtracts it from every ROI vector."""

    A: np.ndarray
    residual: np.ndarray
    size: float  # largest displacement that ``A`` undoes over the measured extent (canonical px)
    ok: bool


MAX_STEP_SCALE = 0.1  # a similarity step changing scale by more than 10 % ...
MAX_STEP_ROLL = np.radians(10)  # ... or rolling more than 10° between two frames is a tracking failure


def track_points(ref: np.ndarray, cur: np.ndarray, pts: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the reference points ``pts`` (N, 2) are in ``cur`` (pyramidal LK); returns (points, found mask).

    A point counts as found only if tracking it back from ``cur`` lands within 0.5 px of where it started
    (forward-backward check): under a head turn or an occlusion LK converges somewhere wrong.
    """
    p0 = np.ascontiguousarray(pts, dtype=np.float32).reshape(-1, 1, 2)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    p1, st, _ = cv2.calcOpticalFlowPyrLK(ref, cur, p0, None, winSize=(win, win), maxLevel=3, criteria=crit)
    if p1 is None:
        return pts.astype(np.float32), np.zeros(len(pts), bool)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, ref, p1, None, winSize=(win, win), maxLevel=3, criteria=crit)
    ok = st.ravel().astype(bool) & st2.ravel().astype(bool)
    ok &= np.linalg.norm((back - p0).reshape(-1, 2), axis=1) < 0.5
    return p1.reshape(-1, 2), ok


def head_motion(ref: np.ndarray, cur: np.ndarray, anchors: np.ndarray, mode: str = "similarity",
                win: int = 31, extent: np.ndarray | None = None) -> HeadMotion:
    """Estimate the rigid motion of the face from ``ref`` to ``cur`` (same-size grey crops).

    ``size`` is the largest displacement the correction makes over ``extent`` (points, e.g. the corners of
    the regions that are measured; default the anchors): a small roll moves far regions more than the anchors.
    """
    moved, found = track_points(ref, cur, anchors, win)
    eye = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    if found.sum() < 2:
        return HeadMotion(eye, np.zeros(2, np.float32), 0.0, False)
    src, dst = moved[found], anchors[found].astype(np.float32)
    residual = np.median(src - dst, axis=0).astype(np.float32)
    A = None
    if mode == "similarity" and len(src) >= 3:
        A, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if A is not None:
        scale, roll = float(np.hypot(A[0, 0], A[1, 0])), float(np.arctan2(A[1, 0], A[0, 0]))
        if abs(scale - 1) > MAX_STEP_SCALE or abs(roll) > MAX_STEP_ROLL:
            return HeadMotion(eye, residual, 0.0, False)  # not a head motion: leave the crop where it is
    if A is None:  # translation only (or the robust fit failed)
        A = eye.copy()
        A[:, 2] = -residual
    pts = anchors if extent is None else extent
    undo = pts @ A[:, :2].T + A[:, 2] - pts  # how far A moves each point of the current crop
    return HeadMotion(A.astype(np.float64), residual, float(np.sqrt((undo ** 2).sum(1)).max()), True)


def compose(A: np.ndarray, M: np.ndarray) -> np.ndarray:
    """The 2×3 transform ``A ∘ M`` (apply M, then A)."""
    return (np.vstack([A, [0, 0, 1]]) @ np.vstack([M, [0, 0, 1]]))[:2]
