"""Local contrast normalisation (Jarrett et al. 2009): subtractive then divisive, Gaussian-weighted."""

from __future__ import annotations

import cv2
import numpy as np


def lcn(img: np.ndarray, ksize: int = 9, sigma: float = 2.0, eps: float = 1e-4, divisive: bool = True) -> np.ndarray:
    """Remove the local mean, divide by the local standard deviation (floored at its image mean).

    Removes slow illumination change so that a spotter sees local texture motion only.
    """
    x = img.astype(np.float32)
    if x.ndim == 3:
        x = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)
    mean = cv2.GaussianBlur(x, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT)
    centred = x - mean
    if not divisive:
        return centred
    std = np.sqrt(cv2.GaussianBlur(centred * centred, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT))
    floor = max(float(std.mean()), eps)
    return centred / np.maximum(std, floor)
