"""Optical strain: magnitude of the symmetric flow gradient (the third STSTNet input channel)."""

from __future__ import annotations

import numpy as np


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """sqrt(e_xx² + e_yy² + 2·e_xy²) with e = ½(∇u + ∇uᵀ), central differences; (H, W) float32."""
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    exy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x ** 2 + v_y ** 2 + 2 * exy ** 2).astype(np.float32)
