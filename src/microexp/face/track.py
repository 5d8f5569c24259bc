"""Aligned grey face crops for a whole video: one crop transform per frame, fixed between re-anchors.

Landmarks are found on a reference frame and the crop transform is kept until the face is lost or has
moved by more than ``max_drift_u`` (in half inner-canthal distances); per-frame re-alignment would add
jitter that reference-frame spotters read as motion. The face is verified every ``check_s`` seconds;
when a check fails, the frames after the last good check are marked "no face" (their crops are zeros),
never filled in by guessing. Frames are streamed with a delay of one check interval.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from microexp.face.align import CropSpec, crop_transform, warp
from microexp.face.landmarks import FaceBox, LandmarkDetector, half_inner_canthal


@dataclass(frozen=True)
class TrackConfig:
    """Crop geometry (square, in units u around the inner-eye-corner midpoint) and tracking cadence."""

    size: int = 128
    x_range: tuple[float, float] = (-4.0, 4.0)
    y_range: tuple[float, float] = (-3.0, 5.0)
    rotate: bool = False
    check_s: float = 0.2
    max_drift_u: float = 0.5
    max_scale_change: float = 0.1
    detect_max_side: int = 640

    def spec(self) -> CropSpec:
        side = max(self.x_range[1] - self.x_range[0], self.y_range[1] - self.y_range[0])
        return CropSpec(self.x_range, self.y_range, self.size / side)


@dataclass
class TrackedFrame:
    index: int
    time: float
    face: bool
    transform: np.ndarray  # (2, 3) float32; zeros when no face
    crop: np.ndarray  # (size, size) uint8; zeros when no face


def _find(det: LandmarkDetector, gray: np.ndarray, near, max_side: int):
    """Detect on a downscaled copy (HOG cost grows with area), landmarks on the full-resolution frame."""
    h, w = gray.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return det.find(gray, near=near)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    near_s = None if near is None else (near[0] * scale, near[1] * scale)
    found = det.find(small, near=near_s)
    if found is None:
        return None
    b = found[0]
    box = FaceBox(int(b.left / scale), int(b.top / scale), int(b.right / scale), int(b.bottom / scale), b.score)
    return box, det.landmarks(gray, box)


def track_crops(frames: Iterable, fps: float, config: TrackConfig | None = None,
                detector: LandmarkDetector | None = None,
                progress: Callable[[int, int | None], None] | None = None,
                total: int | None = None) -> Iterator[TrackedFrame]:
    """Stream ``TrackedFrame``s (grey or BGR ``Frame`` records in, 0-based order kept)."""
    cfg = config or TrackConfig()
    det = detector or LandmarkDetector()
    spec = cfg.spec()
    size = (cfg.size, cfg.size)
    every = max(1, int(round(cfg.check_s * fps)))
    zero_m = np.zeros((2, 3), np.float32)
    blank = np.zeros(size[::-1], np.uint8)
    pending: deque[TrackedFrame] = deque()  # crops since the last successful check
    M = None
    anchor = None  # (eye midpoint, u) of the current transform
    near = None
    last = None

    def anchor_of(lm):
        return (lm[39] + lm[42]) / 2.0, half_inner_canthal(lm)

    def flush(face_ok: bool) -> Iterator[TrackedFrame]:
        while pending:
            f = pending.popleft()
            if not face_ok:
                f.face, f.crop, f.transform = False, blank, zero_m
            yield f

    for k, fr in enumerate(frames):
        gray = fr.image if fr.image.ndim == 2 else cv2.cvtColor(fr.image, cv2.COLOR_BGR2GRAY)
        last = (fr, gray)
        check = k % every == 0
        if check:
            found = _find(det, gray, near, cfg.detect_max_side)
            if found is None:
                yield from flush(False)
                M, anchor = None, None
            else:
                yield from flush(True)
                box, lm = found
                near = box.center
                c, u = anchor_of(lm)
                moved = anchor is None or (np.linalg.norm(c - anchor[0]) > cfg.max_drift_u * anchor[1]
                                           or abs(u / max(anchor[1], 1e-6) - 1) > cfg.max_scale_change)
                if M is None or moved:
                    M = crop_transform(lm, spec, rotate=cfg.rotate)
                    anchor = (c, u)
        if M is None:
            yield TrackedFrame(fr.index, fr.time, False, zero_m, blank)
        else:
            pending.append(TrackedFrame(fr.index, fr.time, True, M.astype(np.float32), warp(gray, M, size)))
            if check:  # the face was just seen on this very frame
                yield from flush(True)
        if progress:
            progress(fr.index + 1, total)
    if pending and last is not None:
        # the last frames are confirmed by one more check on the final frame
        ok = _find(det, last[1], near, cfg.detect_max_side) is not None
        yield from flush(ok)
