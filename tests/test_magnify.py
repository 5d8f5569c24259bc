"""Eulerian magnification: a small known motion grows, a static sequence is left exactly as it is."""

from __future__ import annotations

import numpy as np
import pytest

from microexp.errors import InputError
from microexp.features.magnify import MagnifyConfig, magnify


def _blob(cx: float, size: int = 64, sigma: float = 6.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return (60 + 120 * np.exp(-((xx - cx) ** 2 + (yy - size / 2) ** 2) / (2 * sigma ** 2))).astype(np.float32)


def _centroid_x(img: np.ndarray) -> float:
    w = np.clip(img - 60.0, 0, None)
    return float((w * np.arange(img.shape[1])[None, :]).sum() / w.sum())


def test_small_shift_is_amplified():
    shift = 0.4
    seq = [_blob(32 + shift * min(1.0, t / 5)) for t in range(16)]  # ramps to +0.4 px, then holds
    out = magnify(seq, MagnifyConfig(alpha=4.0, levels=3, lambda_c=8.0))
    moved = _centroid_x(out[-1]) - _centroid_x(out[0])
    assert _centroid_x(seq[-1]) - _centroid_x(seq[0]) == pytest.approx(shift, abs=0.05)
    assert 2.5 * shift < moved < 6.0 * shift  # about (1 + alpha) times the motion
    assert np.array_equal(out[0], seq[0])  # the onset frame is never changed


def test_static_sequence_unchanged_and_uint8_roundtrip():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    out = magnify([frame] * 6, MagnifyConfig(alpha=20.0))
    assert all(o.dtype == np.uint8 and np.array_equal(o, frame) for o in out)
    colour = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    assert np.array_equal(magnify([colour, colour])[1], colour)


def test_bad_input():
    with pytest.raises(InputError):
        magnify([np.zeros((40, 40)), np.zeros((40, 41))])
    with pytest.raises(InputError):
        magnify([np.zeros((8, 8))])
    assert magnify([]) == []


def test_flow_from_sequence_magnified_flow_is_larger():
    from microexp.recognition.api import flow_from_sequence

    seq = [np.clip(_blob(64 + 0.3 * t, size=128, sigma=10.0), 0, 255).astype(np.uint8) for t in range(6)]
    plain = flow_from_sequence(seq)
    amp = flow_from_sequence(seq, magnify=MagnifyConfig(alpha=8.0))
    assert plain.shape == amp.shape == (3, 28, 28)
    assert not np.allclose(plain, amp)
    with pytest.raises(InputError):
        flow_from_sequence(seq[:1])
