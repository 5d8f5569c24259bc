"""Dense optical flow between two grey images: Farneback (OF-FD), DIS, TV-L1 (STSTNet/HTNet parity)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from microexp.errors import ConfigError

METHODS = ("farneback", "dis", "tvl1")


@dataclass(frozen=True)
class FarnebackParams:
    """OF-FD's parameters (identical in both reference repositories)."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 5
    poly_n: int = 7
    poly_sigma: float = 1.5


def compute_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "farneback",
                 params: FarnebackParams | None = None, faithful: bool = False) -> np.ndarray:
    """Flow from ``prev`` to ``nxt`` as an (H, W, 2) float32 array of (dx, dy) in pixels.

    ``tvl1`` uses reduced iterations (≈8× faster, similar accuracy) unless ``faithful=True``.
    """
    a, b = _gray_u8(prev), _gray_u8(nxt)
    if a.shape != b.shape:
        raise ConfigError(f"flow images differ in size: {a.shape} vs {b.shape}")
    if method == "farneback":
        p = params or FarnebackParams()
        return cv2.calcOpticalFlowFarneback(a, b, None, p.pyr_scale, p.levels, p.winsize, p.iterations,
                                            p.poly_n, p.poly_sigma, 0)
    if method == "dis":
        return _dis().calc(a, b, None)
    if method == "tvl1":
        return _tvl1(faithful).calc(a, b, None)
    raise ConfigError(f"unknown flow method {method!r}; choose one of {', '.join(METHODS)}")


def _dis():
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def _tvl1(faithful: bool):
    if not hasattr(cv2, "optflow"):
        raise ConfigError("TV-L1 needs opencv-contrib-python-headless (cv2.optflow is missing)")
    if faithful:
        return cv2.optflow.DualTVL1OpticalFlow_create()
    return cv2.optflow.DualTVL1OpticalFlow_create(nscales=3, warps=3, innnerIterations=10, outerIterations=5,
                                                  epsilon=0.05)


def _gray_u8(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


def top_p_mean(flow: np.ndarray, p: float) -> np.ndarray:
    """Mean (dx, dy) of the ``p`` fraction of pixels with the largest magnitude (OF-FD's ROI feature)."""
    v = flow.reshape(-1, 2)
    if v.shape[0] == 0:
        return np.zeros(2, dtype=np.float32)
    k = max(1, int(round(v.shape[0] * p)))
    mag = np.einsum("ij,ij->i", v, v)
    idx = np.argpartition(mag, v.shape[0] - k)[v.shape[0] - k:] if k < v.shape[0] else slice(None)
    return v[idx].mean(axis=0)
