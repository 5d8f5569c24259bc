"""Alignment: similarity transform on the eyes, and the OF-FD canonical crop around the inner eye corners."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from microexp.face.landmarks import EYE_L, EYE_R, eye_corner_mid, half_inner_canthal


@dataclass(frozen=True)
class CropSpec:
    """Square crop in units u (half inner-canthal distance) around the inner-eye-corner midpoint."""

    x_range: tuple[float, float] = (-4.0, 4.0)
    y_range: tuple[float, float] = (-3.0, 5.0)
    px_per_u: float = 32.0

    @property
    def size(self) -> tuple[int, int]:
        w = round((self.x_range[1] - self.x_range[0]) * self.px_per_u)
        h = round((self.y_range[1] - self.y_range[0]) * self.px_per_u)
        return w, h


def crop_transform(lm: np.ndarray, spec: CropSpec, rotate: bool = False) -> np.ndarray:
    """2×3 affine mapping source pixels to canonical crop pixels (translation + scale, optional roll).

    OF-FD uses no rotation (``rotate=False``); for users' videos with head roll ``rotate=True`` levels the eyes.
    """
    u = max(half_inner_canthal(lm), 1e-3)
    c = eye_corner_mid(lm)
    s = spec.px_per_u / u
    angle = 0.0
    if rotate:
        d = lm[list(EYE_L)].mean(0) - lm[list(EYE_R)].mean(0)
        angle = float(np.arctan2(d[1], d[0]))
    cos, sin = np.cos(-angle) * s, np.sin(-angle) * s
    # canonical coordinates: origin at crop's top-left, c maps to (-x0, -y0) * px_per_u
    ox = -spec.x_range[0] * spec.px_per_u
    oy = -spec.y_range[0] * spec.px_per_u
    return np.array([[cos, -sin, ox - (cos * c[0] - sin * c[1])],
                     [sin, cos, oy - (sin * c[0] + cos * c[1])]], dtype=np.float64)


def warp(img: np.ndarray, M: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Apply a crop transform; pixels outside the frame are filled by edge replication (all sides clamped)."""
    return cv2.warpAffine(img, M, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def apply_to_points(M: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    return (pts @ M[:, :2].T + M[:, 2]).astype(np.float32)


def shift_transform(M: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Move the crop window by (dx, dy) canonical pixels (the crop content moves by −(dx, dy))."""
    out = M.copy()
    out[0, 2] -= dx
    out[1, 2] -= dy
    return out


def similarity_align(img: np.ndarray, lm: np.ndarray, size: int = 128, eye_y: float = 0.35,
                     eye_dist: float = 0.42) -> tuple[np.ndarray, np.ndarray]:
    """Eye-levelled square face crop (for recognition and thumbnails); returns (crop, 2×3 transform)."""
    le, re = lm[list(EYE_R)].mean(0), lm[list(EYE_L)].mean(0)
    d = re - le
    angle = np.degrees(np.arctan2(d[1], d[0]))
    scale = eye_dist * size / max(float(np.hypot(*d)), 1e-3)
    center = (le + re) / 2
    M = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(angle), float(scale))
    M[0, 2] += size / 2 - center[0]
    M[1, 2] += eye_y * size - center[1]
    return cv2.warpAffine(img, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), M
