"""Shared fixtures. Data under ../shared is read in place; tests that need it skip with a clear reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MICROEXP_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared, or skip the calling test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared data that is not present here: {p}")
    return p


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip(f"../shared is absent ({SHARED}); real-data tests skipped")
    return SHARED


@pytest.fixture
def one_torch_thread():
    """Tiny models: one intra-op thread avoids OpenMP spin-waiting on a shared 2-core machine and keeps
    training bit-reproducible (float sums in torch depend on the thread count)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def face():
    """The first frame of ``single_face.mp4`` (BGR), its 68 landmarks and the detector that found them."""
    import av
    import cv2

    from microexp.face.landmarks import LandmarkDetector

    with av.open(str(shared_path("video", "single_face.mp4"))) as c:
        img = next(c.decode(video=0)).to_ndarray(format="bgr24")
    det = LandmarkDetector()
    lm = det.find(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))[1]
    return img, lm, det
