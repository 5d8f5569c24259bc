"""The face track of a video, and aligned grey face crops built on it.

One tracking policy serves every consumer (OF-FD's windows and the learned spotters' crops): find the face
(``find_face``: detection on a downscaled copy, landmarks at full resolution, nearest to the last place),
verify it near its tracked place every ``check_s`` seconds (``verify_near``: the detector on a local region,
no landmarks), and find it again when a check fails. What was seen goes into a ``FaceTrack`` (one record per
processed frame: found, box, crop transform, landmarks where measured).

Crops (``track_crops``): the crop follows the head smoothly, so two crops of one face differ only by facial
motion. The first check of a face segment fixes the canonical crop (landmarks -> ``crop_transform``); every
frame after it is mapped onto that first frame by a similarity (translation and scale, plus roll with
``rotate``) fitted to the rigid landmarks (nasal ridge, nose tip, inner eye corners: points expressions barely
move), tracked with pyramidal Lucas–Kanade from the last checked frame (``face.motion.track_points``, with its
forward-backward test), as OF-FD's alignment does. Landmarks alone jitter by about a crop pixel from check to
check; a transform held fixed and re-anchored when the face had drifted too far (the policy before cache
version 3) made a frame pair across the jump differ everywhere, which reference-frame spotters read as a
large expression. When LK loses the points, the fit holds until the next check, which re-anchors on the
landmarks. When a check fails, the frames after the last good check are marked "no face" (their crops are
zeros), never filled in by guessing. Frames are streamed with a delay of one check interval.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from microexp.face.align import CropSpec, crop_transform, warp
from microexp.face.landmarks import RIGID, FaceBox, LandmarkDetector


@dataclass(frozen=True)
class TrackConfig:
    """Crop geometry (square, in units u around the inner-eye-corner midpoint) and tracking cadence."""

    size: int = 128
    x_range: tuple[float, float] = (-4.0, 4.0)
    y_range: tuple[float, float] = (-3.0, 5.0)
    rotate: bool = False
    check_s: float = 0.2
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


@dataclass
class FaceTrack:
    """Where the face is in one video, per processed frame (OF-FD's working rate, or every decoded frame).

    ``transforms`` map source pixels to the consumer's canonical crop (OF-FD: the head-following crop of
    the window that measured the frame last); ``landmarks`` are kept only where they were measured.
    """

    index: np.ndarray  # (N,) original frame index of each processed frame
    time: np.ndarray  # (N,) seconds
    found: np.ndarray  # (N,) bool
    boxes: np.ndarray  # (N, 4) float left, top, right, bottom in source px; NaN where unknown
    transforms: np.ndarray  # (N, 2, 3) source -> canonical crop; zeros where none
    landmarks: dict[int, np.ndarray]  # processed position -> (68, 2) source px

    def _pos(self, frame: int) -> int | None:
        """The processed position nearest to original frame ``frame`` (None for an empty track)."""
        if self.index.size == 0:
            return None
        i = int(np.searchsorted(self.index, frame))
        if i >= self.index.size:
            return self.index.size - 1
        if i > 0 and frame - self.index[i - 1] <= self.index[i] - frame:
            return i - 1
        return i

    def face_mask(self, n_frames: int) -> np.ndarray:
        """Per original frame 0 … n_frames − 1: face found at the nearest processed frame."""
        if self.index.size == 0:
            return np.zeros(n_frames, dtype=bool)
        return np.array([self.found[self._pos(f)] for f in range(n_frames)], dtype=bool)

    def _segment(self, frame: int) -> tuple[int, int] | None:
        """Processed positions (first, last) of the face segment holding original frame ``frame``."""
        pos = self._pos(frame)
        if pos is None or not self.found[pos]:
            return None
        lo, hi = pos, pos
        while lo > 0 and self.found[lo - 1]:
            lo -= 1
        while hi + 1 < self.found.size and self.found[hi + 1]:
            hi += 1
        return lo, hi

    def _nearest(self, frame: int, measured) -> int | None:
        seg = self._segment(frame)
        if seg is None:
            return None
        near = [k for k in measured if seg[0] <= k <= seg[1]]
        return min(near, key=lambda k: (abs(int(self.index[k]) - frame), k)) if near else None

    def face_since(self, frame: int) -> int | None:
        """Original frame where the face segment holding ``frame`` begins (None if no face there): what came
        before it was not seen."""
        seg = self._segment(frame)
        return None if seg is None else int(self.index[seg[0]])

    def landmarks_at(self, frame: int) -> np.ndarray | None:
        """Landmarks measured nearest to original frame ``frame`` within its face segment; None if no face."""
        k = self._nearest(frame, self.landmarks)
        return None if k is None else self.landmarks[k]

    def box_at(self, frame: int) -> FaceBox | None:
        """The face box measured nearest to original frame ``frame`` within its face segment; None if no face."""
        k = self._nearest(frame, np.flatnonzero(~np.isnan(self.boxes[:, 0])) if self.boxes.size else [])
        if k is None:
            return None
        left, top, right, bottom = (float(v) for v in self.boxes[k])
        return FaceBox(int(left), int(top), int(right), int(bottom), 0.0)


class FaceTrackBuilder:
    """Collects what a tracker saw, in any order (OF-FD revisits frames in overlapping windows)."""

    def __init__(self):
        self.frames: dict[int, tuple[int, float, bool]] = {}  # pos -> (original index, time, found)
        self.boxes: dict[int, tuple[float, float, float, float]] = {}
        # one 2×3 transform per processed frame: a growing array (48 bytes a frame), not a dict of arrays
        # (≈0.3 kB a frame, the largest part of what grew with video length)
        self._transforms = np.zeros((0, 2, 3))
        self._has_transform = np.zeros(0, dtype=bool)
        self.landmarks: dict[int, np.ndarray] = {}

    def add(self, pos: int, box: FaceBox | None = None, transform: np.ndarray | None = None,
            landmarks: np.ndarray | None = None) -> None:
        if box is not None:
            self.boxes[pos] = (box.left, box.top, box.right, box.bottom)
        if transform is not None:
            if pos >= len(self._transforms):
                size = max(pos + 1, 2 * len(self._transforms), 1024)
                self._transforms = np.concatenate([self._transforms, np.zeros((size - len(self._transforms), 2, 3))])
                self._has_transform = np.concatenate([self._has_transform,
                                                      np.zeros(size - len(self._has_transform), dtype=bool)])
            self._transforms[pos] = transform
            self._has_transform[pos] = True
        if landmarks is not None:
            self.landmarks[pos] = np.asarray(landmarks, dtype=np.float32)

    def frame(self, pos: int, index: int, time: float, found: bool) -> None:
        """Record a processed frame (for trackers that know found/not found per frame as they go)."""
        self.frames[pos] = (int(index), float(time), bool(found))

    def build(self, index: np.ndarray | None = None, time: np.ndarray | None = None,
              found: np.ndarray | None = None) -> FaceTrack:
        """The track; without arguments the per-frame records of ``frame()`` give index, time and found."""
        if index is None:
            rows = [self.frames[k] for k in sorted(self.frames)]
            index = np.array([r[0] for r in rows], dtype=int)
            time = np.array([r[1] for r in rows], dtype=float)
            found = np.array([r[2] for r in rows], dtype=bool)
        n = len(index)
        boxes = np.full((n, 4), np.nan)
        transforms = np.zeros((n, 2, 3))
        for k, b in self.boxes.items():
            if k < n and found[k]:
                boxes[k] = b
        m = min(n, len(self._transforms))
        take = self._has_transform[:m] & np.asarray(found[:m], dtype=bool)
        transforms[:m][take] = self._transforms[:m][take]
        lms = {k: v for k, v in self.landmarks.items() if k < n and found[k]}
        return FaceTrack(np.asarray(index, dtype=int), np.asarray(time, dtype=float), np.asarray(found, bool),
                         boxes, transforms, lms)


def verify_near(det: LandmarkDetector, gray: np.ndarray, center: tuple[float, float],
                half: float) -> FaceBox | None:
    """Cheap check that a face is still near ``center`` (detector on a local region, no landmarks)."""
    h, w = gray.shape[:2]
    cx, cy = center
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
    if x1 - x0 < 40 or y1 - y0 < 40:
        return None
    region = gray[y0:y1, x0:x1]
    scale = min(1.0, 200.0 / max(region.shape))
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes = det.detect(region, upsample=0 if scale < 1.0 or half > 100 else 1)
    if not boxes:
        return None
    b = min(boxes, key=lambda b: (b.center[0] / scale + x0 - cx) ** 2 + (b.center[1] / scale + y0 - cy) ** 2)
    return FaceBox(int(b.left / scale) + x0, int(b.top / scale) + y0, int(b.right / scale) + x0,
                   int(b.bottom / scale) + y0, b.score)


def find_face(det: LandmarkDetector, gray: np.ndarray, near=None, max_side: int = 640):
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


def similarity_fit(src: np.ndarray, dst: np.ndarray, rotate: bool = False) -> np.ndarray:
    """Least-squares similarity ``(a, b, tx, ty)`` mapping points ``src`` (N, 2) onto ``dst``
    (``x' = a·x − b·y + tx``, ``y' = b·x + a·y + ty``); ``b = 0`` (no roll) unless ``rotate``."""
    p, q = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    pm, qm = p.mean(0), q.mean(0)
    x, y = p - pm, q - qm
    den = max(float((x * x).sum()), 1e-9)
    a = float((x * y).sum()) / den
    b = float((x[:, 0] * y[:, 1] - x[:, 1] * y[:, 0]).sum()) / den if rotate else 0.0
    return np.array([a, b, qm[0] - (a * pm[0] - b * pm[1]), qm[1] - (b * pm[0] + a * pm[1])])


def fit_matrix(f: np.ndarray) -> np.ndarray:
    a, b, tx, ty = f
    return np.array([[a, -b, tx], [b, a, ty]])


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The similarity ``second ∘ first`` (apply ``first``, then ``second``) as parameters."""
    m = np.vstack([fit_matrix(second), [0, 0, 1]]) @ np.vstack([fit_matrix(first), [0, 0, 1]])
    return np.array([m[0, 0], m[1, 0], m[0, 2], m[1, 2]])


IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


def track_crops(frames: Iterable, fps: float, config: TrackConfig | None = None,
                detector: LandmarkDetector | None = None,
                progress: Callable[[int, int | None], None] | None = None,
                total: int | None = None, track: FaceTrackBuilder | None = None) -> Iterator[TrackedFrame]:
    """Stream ``TrackedFrame``s (grey or BGR ``Frame`` records in, 0-based order kept).

    Pass a ``FaceTrackBuilder`` as ``track`` to get the video's ``FaceTrack`` (``track.build()``) once the
    stream is exhausted: one record per decoded frame, with the crop transforms and checked landmarks.
    """
    from microexp.face.motion import compose, track_points

    cfg = config or TrackConfig()
    det = detector or LandmarkDetector()
    spec = cfg.spec()
    size = (cfg.size, cfg.size)
    every = max(1, int(round(cfg.check_s * fps)))
    zero_m = np.zeros((2, 3), np.float32)
    blank = np.zeros(size[::-1], np.uint8)
    pending: deque[tuple[int, TrackedFrame]] = deque()  # crops since the last successful check
    M0 = None  # the face segment's canonical crop transform (its first check's landmarks)
    key = None  # (grey, rigid points, fit onto the segment's first frame) of the last checked frame
    fit = IDENTITY  # the current frame's similarity onto the segment's first frame
    win = 21
    box = None  # the face as last seen
    last = None
    builder = track if track is not None else FaceTrackBuilder()

    def emit(k: int, f: TrackedFrame) -> TrackedFrame:
        builder.frame(k, f.index, f.time, f.face)
        if f.face:
            builder.add(k, transform=f.transform)
        return f

    def flush(face_ok: bool) -> Iterator[TrackedFrame]:
        while pending:
            k, f = pending.popleft()
            if not face_ok:
                f.face, f.crop, f.transform = False, blank, zero_m
            yield emit(k, f)

    def look(gray):
        """The shared policy: verify near the tracked place; find the face anew when that fails."""
        if box is not None:
            seen = verify_near(det, gray, box.center, float(box.width))
            if seen is not None:
                return seen, det.landmarks(gray, seen)
        return find_face(det, gray, None if box is None else box.center, cfg.detect_max_side)

    def follow(gray) -> np.ndarray | None:
        """This frame's fit onto the segment's first frame: LK from the last checked frame's rigid points."""
        moved, ok = track_points(key[0], gray, key[1], win)
        if ok.sum() < 3:
            return None
        return _then(similarity_fit(moved[ok], key[1][ok], cfg.rotate), key[2])

    for k, fr in enumerate(frames):
        gray = fr.image if fr.image.ndim == 2 else cv2.cvtColor(fr.image, cv2.COLOR_BGR2GRAY)
        last = gray
        check = k % every == 0
        lost = False
        if M0 is not None:
            now = follow(gray)
            lost = now is None
            fit = fit if lost else now  # LK failed between checks: hold the last fit until the next check
        if check:
            found = look(gray)
            if found is None:
                yield from flush(False)
                M0, key, box = None, None, None
            else:
                yield from flush(True)
                box, lm = found
                builder.add(k, box, landmarks=lm)
                pts = lm[list(RIGID)].astype(np.float32)
                if M0 is None:  # a new face segment: its canonical crop
                    M0, fit = crop_transform(lm, spec, rotate=cfg.rotate), IDENTITY
                    win = int(np.clip(2 * round(float(np.linalg.norm(lm[42] - lm[39]))) + 1, 11, 61))
                elif lost:  # LK lost the rigid points: the landmarks say where the face is
                    fit = _then(similarity_fit(pts, key[1], cfg.rotate), key[2])
                key = (gray, pts, fit)
        if M0 is None:
            yield emit(k, TrackedFrame(fr.index, fr.time, False, zero_m, blank))
        else:
            M = compose(M0, fit_matrix(fit))
            pending.append((k, TrackedFrame(fr.index, fr.time, True, M.astype(np.float32), warp(gray, M, size))))
            if check:  # the face was just seen on this very frame
                yield from flush(True)
        if progress:
            progress(fr.index + 1, total)
    if pending and last is not None:
        # the last frames are confirmed by one more check on the final frame
        yield from flush(look(last) is not None)
