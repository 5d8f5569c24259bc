"""Eulerian video magnification (linear, Laplacian pyramid) of an onset->apex face sequence.

Many micro-expression recognition papers amplify the subtle motion before computing flow (the meb toolkit
offers it as a preprocessing step). Linear EVM (Wu et al., SIGGRAPH 2012): decompose every frame into a
Laplacian pyramid (OpenCV ``pyrDown``/``pyrUp``), take each level's temporal variation relative to the first
(onset) frame, band-limit it in time with a first-order IIR band-pass, multiply it by ``alpha`` (attenuated linearly on
levels whose wavelength is below ``lambda_c``, where the first-order approximation breaks), and add it back. The onset frame itself is never changed, and a
static sequence stays exactly static (its variation is zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from microexp.errors import InputError


@dataclass(frozen=True)
class MagnifyConfig:
    """Amplification ``alpha``, pyramid depth, spatial cut-off ``lambda_c`` (pixels), temporal band (fractions
    of the frame rate; ``low = 0`` keeps the slow onset->apex drift, which is what an ME is at 30-200 fps)."""

    alpha: float = 10.0
    levels: int = 4
    lambda_c: float = 16.0
    low: float = 0.0
    high: float = 0.4


def _pyramid(img: np.ndarray, levels: int) -> list[np.ndarray]:
    out, cur = [], img
    for _ in range(levels):
        down = cv2.pyrDown(cur)
        up = cv2.pyrUp(down, dstsize=(cur.shape[1], cur.shape[0]))
        out.append(cur - up)
        cur = down
    out.append(cur)
    return out


def _collapse(pyr: list[np.ndarray]) -> np.ndarray:
    cur = pyr[-1]
    for lap in reversed(pyr[:-1]):
        cur = cv2.pyrUp(cur, dstsize=(lap.shape[1], lap.shape[0])) + lap
    return cur


def magnify(frames: Sequence[np.ndarray], config: MagnifyConfig | None = None) -> list[np.ndarray]:
    """Magnified copies of ``frames`` (grey or colour, equal sizes; uint8 in -> uint8 out, float stays float)."""
    cfg = config or MagnifyConfig()
    if len(frames) == 0:
        return []
    shape = np.asarray(frames[0]).shape
    if any(np.asarray(f).shape != shape for f in frames):
        raise InputError("all frames to magnify must have the same size")
    if min(shape[:2]) < 2 ** (cfg.levels + 1):
        raise InputError(f"frames of {shape[:2]} are too small for a {cfg.levels}-level pyramid")
    if cfg.alpha < 0 or not 0 <= cfg.low < cfg.high <= 1:
        raise InputError(f"bad magnification settings: {cfg}")
    as_u8 = np.asarray(frames[0]).dtype == np.uint8
    first = _pyramid(np.asarray(frames[0], np.float32), cfg.levels)
    lo_state = [np.zeros_like(p) for p in first]
    hi_state = [np.zeros_like(p) for p in first]
    # Laplacian level k holds wavelengths around 2 ** (k + 1) pixels; finer bands get a smaller alpha
    alphas = [cfg.alpha * min(1.0, 2.0 ** (k + 1) / cfg.lambda_c) for k in range(cfg.levels + 1)]
    out = []
    for f in frames:
        pyr = _pyramid(np.asarray(f, np.float32), cfg.levels)
        amplified = []
        for k, (p, p0) in enumerate(zip(pyr, first, strict=True)):
            delta = p - p0
            # first-order IIR band-pass: difference of two exponential low-passes of the variation
            hi_state[k] = hi_state[k] + cfg.high * (delta - hi_state[k])
            lo_state[k] = lo_state[k] + cfg.low * (delta - lo_state[k])
            band = hi_state[k] - lo_state[k]
            amplified.append(p + alphas[k] * band)
        img = _collapse(amplified)
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8) if as_u8 else img)
    return out
