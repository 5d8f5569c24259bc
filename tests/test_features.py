"""Flow, strain, LCN and the top-p ROI feature: synthetic inputs with known answers."""

import cv2
import numpy as np
import pytest
from skimage import data

from microexp.errors import ConfigError
from microexp.features import METHODS, compute_flow, lcn, optical_strain, top_p_mean


@pytest.fixture(scope="module")
def face_patch():
    g = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(g[50:178, 150:278])


@pytest.mark.parametrize("method", METHODS)
def test_known_shift_gives_known_flow(face_patch, method):
    dx, dy = 1.5, -0.7
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(face_patch, M, (128, 128), borderMode=cv2.BORDER_REFLECT)
    flow = compute_flow(face_patch, moved, method)
    assert flow.shape == (128, 128, 2)
    med = np.median(flow[24:-24, 24:-24].reshape(-1, 2), axis=0)
    assert med == pytest.approx([dx, dy], abs=0.12)


def test_flow_rejects_unknown_method_and_size_mismatch(face_patch):
    with pytest.raises(ConfigError):
        compute_flow(face_patch, face_patch, "nope")
    with pytest.raises(ConfigError):
        compute_flow(face_patch, face_patch[:64], "farneback")


def test_strain_of_linear_field():
    # u = a·x, v = b·y  →  e_xx = a, e_yy = b, e_xy = 0  →  strain = sqrt(a² + b²)
    a, b = 0.02, -0.03
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    flow = np.dstack([a * xx, b * yy])
    s = optical_strain(flow)
    assert np.allclose(s, np.hypot(a, b), atol=1e-6)
    # pure translation has no strain
    assert np.allclose(optical_strain(np.ones((16, 16, 2), np.float32)), 0)


def test_lcn_removes_local_mean_and_gain(face_patch):
    # a linear brightness ramp has no local structure: the subtractive step removes it exactly
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = 3.0 * xx + 1.5 * yy + 20
    assert np.abs(lcn(ramp, divisive=False)[8:-8, 8:-8]).max() < 1e-3
    img = face_patch.astype(np.float32) * 0.5 + 40  # contrast and brightness change
    out = lcn(img)
    assert abs(out.mean()) < 0.05 * out.std()
    # LCN removes global gain and offset: the original and the changed image normalise alike
    assert np.corrcoef(out.ravel(), lcn(face_patch).ravel())[0, 1] > 0.99
    # and a smooth illumination gradient changes little
    big_y, big_x = np.mgrid[0:128, 0:128].astype(np.float32)
    lit = img + 0.3 * big_x + 0.2 * big_y
    assert np.corrcoef(lcn(lit).ravel(), out.ravel())[0, 1] > 0.98


def test_top_p_mean_picks_the_largest_vectors():
    flow = np.zeros((10, 10, 2), np.float32)
    flow[:2, :, 0] = 3.0  # 20 % of pixels move right by 3
    assert top_p_mean(flow, 0.2) == pytest.approx([3.0, 0.0])
    assert top_p_mean(flow, 1.0) == pytest.approx([0.6, 0.0])
