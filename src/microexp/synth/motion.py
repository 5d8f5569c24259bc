"""Real expression motion: onset->apex optical flow of a real face with the head motion taken out.

One definition of "amplitude" serves the calibration (``benchmarks/measure_real_me.py``), the planted
expressions (``microexp.synth.plant``) and their tests: the largest onset->apex Farneback displacement over
the face after removing the best similarity motion of the face (the head), in units of the inter-ocular
distance (IOD, between the eye centres).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from microexp.errors import InputError
from microexp.features.flow import compute_flow


def iod(lm: np.ndarray) -> float:
    """Inter-ocular distance between the eye centres (landmarks 36-41 and 42-47)."""
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))


def face_mask(shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """Landmark hull grown upward by 0.5 IOD, so the skin above the brows counts as face."""
    pts = np.asarray(lm, np.float32)
    brows = pts[17:27].copy()
    brows[:, 1] -= 0.5 * iod(pts)
    hull = cv2.convexHull(np.vstack([pts, brows]).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def residual_flow(flow: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Flow minus the similarity motion that best explains it over ``mask`` (least median of squares)."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 10:
        return flow.copy()
    step = max(1, int(np.sqrt(len(xs) / 2000)))
    src = np.stack([xs[::step], ys[::step]], 1).astype(np.float32)
    dst = src + flow[ys[::step], xs[::step]]
    M, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if M is None:
        return flow - np.median(flow[mask], axis=0)
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    rigid = np.stack([M[0, 0] * gx + M[0, 1] * gy + M[0, 2] - gx, M[1, 0] * gx + M[1, 1] * gy + M[1, 2] - gy], -1)
    return (flow - rigid).astype(np.float32)


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def expression_flow(onset: np.ndarray, apex: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(residual flow, face mask): the non-rigid onset->apex motion of the face whose landmarks are ``lm``."""
    a, b = _gray(onset), _gray(apex)
    mask = face_mask(a.shape, lm)
    return residual_flow(compute_flow(a, b), mask), mask


@dataclass(frozen=True)
class Amplitude:
    """Onset->apex motion of a face in % of IOD: max, 99th and 95th percentile over the face, and the share
    of the face moving more than half the max (spatial extent)."""

    iod_px: float
    max_pct: float
    p99_pct: float
    p95_pct: float
    area_half_max: float


def measure_amplitude(onset: np.ndarray, apex: np.ndarray, lm: np.ndarray) -> Amplitude:
    res, mask = expression_flow(onset, apex, lm)
    mag = np.linalg.norm(res, axis=-1)[mask]
    d = iod(lm)
    return Amplitude(round(d, 2), 100 * float(mag.max()) / d, 100 * float(np.percentile(mag, 99)) / d,
                     100 * float(np.percentile(mag, 95)) / d, float((mag > 0.5 * mag.max()).mean()))


def read_pair(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Onset and apex BGR frames from a 2-frame GIF (first two frames) or a folder of frames (first, last)."""
    p = Path(path)
    if p.is_dir():
        from microexp.io.frames import list_frames

        files = list_frames(p)
        if len(files) < 2:
            raise InputError("motion source folder needs at least two frame images", p)
        imgs = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in (files[0], files[-1])]
    elif p.is_file() and p.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        try:
            frames = [np.array(f.convert("RGB"))[..., ::-1].copy()
                      for _, f in zip(range(2), ImageSequence.Iterator(Image.open(p)))]
        except OSError as err:
            raise InputError(f"cannot read GIF ({err})", p) from None
        if len(frames) < 2:
            raise InputError("motion source GIF needs two frames (onset, apex)", p)
        imgs = frames
    elif p.exists():
        raise InputError("motion source must be a 2-frame GIF or a folder of frames (onset first, apex last)", p)
    else:
        raise InputError("motion source not found", p)
    if any(i is None for i in imgs):
        raise InputError("cannot read a motion source frame (corrupt or not an image)", p)
    return imgs[0], imgs[1]


def rigid(img: np.ndarray, centre, dx: float = 0.0, dy: float = 0.0, roll: float = 0.0,
          zoom: float = 1.0) -> np.ndarray:
    """The image moved as a rigid head would: rotated by ``roll`` degrees and scaled by ``zoom`` about
    ``centre``, then shifted by (dx, dy) px; borders replicated."""
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, zoom)
    M[:, 2] += (dx, dy)
    return cv2.warpAffine(img, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def head_changes(n: int) -> dict:
    """What must not change a spotter's answer, over ``n`` frames of a still face: ``name -> f(img, lm, k)``
    giving frame k (drift 4 px right and 2 px up, roll 3°, zoom 3 %, a shaking head, 15 % brighter), the
    changes of the metamorphic tests and of ``benchmarks/offd_noise_floor.py``."""
    return {
        "drift": lambda img, lm, k: rigid(img, lm[30], dx=4 * k / n, dy=-2 * k / n),
        "roll": lambda img, lm, k: rigid(img, lm[30], roll=3 * k / n),
        "zoom": lambda img, lm, k: rigid(img, lm[30], zoom=1 + 0.03 * k / n),
        "shake": lambda img, lm, k: rigid(img, lm[30], dx=2 * np.sin(k / 3), dy=1.5 * np.cos(k / 4),
                                          roll=np.sin(k / 5)),
        "brighten": lambda img, lm, k: cv2.convertScaleAbs(img, alpha=1 + 0.15 * k / n),
    }


def brow_frames(img: np.ndarray, lm: np.ndarray, heights) -> list[np.ndarray]:
    """One frame of a still face per height: both brows raised by that many source px (a Gaussian weight around
    the brow landmarks, so only the brows move)."""
    from microexp.face.landmarks import BROW_L, BROW_R, half_inner_canthal

    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = 0.7 * half_inner_canthal(lm)
    g = np.zeros((h, w), np.float32)
    for i in (*BROW_R, *BROW_L):
        g = np.maximum(g, np.exp(-((xx - lm[i, 0]) ** 2 + (yy - lm[i, 1]) ** 2) / (2 * sigma ** 2)))
    return [cv2.remap(img, xx, (yy + a * g).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for a in heights]


def brow_raise(img: np.ndarray, lm: np.ndarray, fps: float, seconds: float, on: float, off: float,
               amp: float) -> list[np.ndarray]:
    """A clip of one still face whose brows rise by ``amp`` source px with a raised-cosine profile from ``on`` to
    ``off`` seconds: a known expression on real pixels, for invariance tests and the OF-FD typing table."""
    t = np.arange(int(round(seconds * fps))) / fps
    heights = [amp * 0.5 * (1 - np.cos(2 * np.pi * (x - on) / (off - on))) if on < x < off else 0.0 for x in t]
    return brow_frames(img, lm, heights)
