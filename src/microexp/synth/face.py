"""Base faces: a still image placed on a canvas at a realistic size, with its 68 landmarks found once.

The default face is scikit-image's astronaut (ships inside the installed package, so a fresh install can
make a demo video offline). Tight face crops (e.g. the 224 px composite-set crops) are padded before
detection and set on a blurred, edge-replicated background so no mirrored second face appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from microexp.errors import InputError, NoFaceError

DEFAULT_FACE = "astronaut"


@dataclass(frozen=True)
class BaseFace:
    """A neutral frame (BGR canvas) and its landmarks in canvas pixels."""

    image: np.ndarray
    landmarks: np.ndarray  # (68, 2) float32
    subject: str

    @property
    def iod(self) -> float:
        """Inter-ocular distance (between eye centres): the unit of every displacement amplitude."""
        return float(np.linalg.norm(self.landmarks[42:48].mean(0) - self.landmarks[36:42].mean(0)))


def load_image(face: str | Path) -> tuple[np.ndarray, str]:
    """BGR image and subject name for a path, or the bundled astronaut for ``'astronaut'``."""
    if str(face) == DEFAULT_FACE:
        from skimage import data

        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), DEFAULT_FACE
    p = Path(face)
    if not p.is_file():
        raise InputError("face image not found", p)
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("cannot read face image (corrupt or not an image)", p)
    return img, p.stem


def find_landmarks(img: np.ndarray, source: str = "") -> np.ndarray:
    """68 landmarks of the largest face; tight crops are padded first (HOG misses faces that touch the border)."""
    det = _detector()
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    pad = max(8, int(0.3 * max(gray.shape)))
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if min(padded.shape) < 400:  # small crops: enlarge so the 80 px HOG window fits the face comfortably
        f = 400 / min(padded.shape)
        big = cv2.resize(padded, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    else:
        f, big = 1.0, padded
    boxes = det.detect(big) or det.detect(big, upsample=1)
    if not boxes:
        raise NoFaceError("no face found in the base image", source or None)
    best = max(boxes, key=lambda b: b.score)  # the largest box can be a textured false positive
    return (det.landmarks(big, best) / f - pad).astype(np.float32)


@lru_cache(maxsize=1)
def _detector():
    from microexp.face import LandmarkDetector

    return LandmarkDetector()


@lru_cache(maxsize=64)
def prepare_face(face: str, width: int, height: int, face_px: int) -> BaseFace:
    """Scale and place the face so its jaw spans ``face_px`` pixels, centred slightly above the middle."""
    img, subject = load_image(face)
    lm = find_landmarks(img, face)
    jaw = float(np.linalg.norm(lm[16] - lm[0]))
    if jaw < 10:
        raise NoFaceError("face in the base image is too small (jaw under 10 px)", face)
    s = face_px / jaw
    c = lm[[0, 16, 8, 27]].mean(0)
    target = np.array([width / 2, height * 0.47])
    M = np.array([[s, 0, target[0] - s * c[0]], [0, s, target[1] - s * c[1]]], dtype=np.float64)
    canvas = cv2.warpAffine(img, M, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.full(img.shape[:2], 255, np.uint8), M, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if inside.min() < 255:  # part of the canvas lies outside the image: blur the replicated streaks
        k = max(3, int(0.12 * min(width, height)) | 1)
        soft = cv2.GaussianBlur(cv2.erode(inside, np.ones((k, k), np.uint8)), (k, k), 0).astype(np.float32) / 255
        back = cv2.GaussianBlur(canvas, (0, 0), 0.08 * min(width, height))
        back = cv2.addWeighted(back, 0.85, np.full_like(back, 96), 0.15, 0)
        canvas = (canvas * soft[..., None] + back * (1 - soft[..., None])).astype(np.uint8)
    lm_canvas = (lm @ M[:, :2].T + M[:, 2]).astype(np.float32)
    canvas.setflags(write=False)
    lm_canvas.setflags(write=False)
    return BaseFace(canvas, lm_canvas, subject)
