"""Face detection (dlib HOG) and the iBUG 68-point landmarks (dlib shape predictor).

The 68-point model ships in the ``face-recognition-models`` wheel; it is located without importing that
package (its ``__init__`` needs the removed ``pkg_resources``). Licence note: the 68-point model was trained
on iBUG 300-W, whose licence excludes commercial use.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from microexp.errors import ModelError

LICENCE_NOTE = ("dlib 68-point landmark model: trained on iBUG 300-W; for non-commercial research use only "
                "(see README).")
DEBIAN_MODEL = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")


def landmark_model_path(user_path: str | Path | None = None) -> Path:
    """Resolve the 68-point model: user path, then face-recognition-models, then Debian's libdlib-data."""
    candidates = []
    if user_path:
        candidates.append(Path(user_path))
    env = os.environ.get("MICROEXP_LANDMARK_MODEL")
    if env:
        candidates.append(Path(env))
    spec = importlib.util.find_spec("face_recognition_models")
    if spec and spec.submodule_search_locations:
        candidates.append(Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat")
    candidates.append(DEBIAN_MODEL)
    for c in candidates:
        if c.is_file():
            return c
    raise ModelError("68-point landmark model not found; install face-recognition-models==0.3.0 "
                     "or pass its path", candidates[0] if user_path else None)


@dataclass(frozen=True)
class FaceBox:
    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)


class LandmarkDetector:
    """dlib HOG detector + 68-point predictor. One instance per worker (dlib objects are not shared)."""

    def __init__(self, model_path: str | Path | None = None, upsample: int = 0):
        import dlib

        self._dlib = dlib
        self.detector = _hog_detector()
        self.predictor = _predictor(str(landmark_model_path(model_path)))
        self.upsample = upsample

    def detect(self, gray: np.ndarray, upsample: int | None = None) -> list[FaceBox]:
        """All faces, largest first (HOG gives false positives on textures; callers keep the best one)."""
        rects, scores, _ = self.detector.run(_u8(gray), self.upsample if upsample is None else upsample, 0.0)
        boxes = [FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]
        return sorted(boxes, key=lambda b: -b.width)

    def landmarks(self, gray: np.ndarray, box: FaceBox) -> np.ndarray:
        """(68, 2) float32 array of (x, y) pixel coordinates."""
        return _shape(self.predictor, gray, box)

    def find(self, gray: np.ndarray, near: tuple[float, float] | None = None,
             min_size: int = 0) -> tuple[FaceBox, np.ndarray] | None:
        """The face to track: nearest to ``near`` when given, else the largest; small faces are upsampled."""
        boxes = self.detect(gray)
        if not boxes and min(gray.shape[:2]) < 1200:
            boxes = self.detect(gray, upsample=1)
        boxes = [b for b in boxes if b.width >= min_size]
        if not boxes:
            return None
        if near is not None:
            box = min(boxes, key=lambda b: (b.center[0] - near[0]) ** 2 + (b.center[1] - near[1]) ** 2)
        else:
            box = boxes[0]
        return box, self.landmarks(gray, box)


_local = threading.local()


def _hog_detector():
    """dlib's HOG face detector, once per thread (dlib objects are not shared between threads)."""
    det = getattr(_local, "hog", None)
    if det is None:
        det = _local.hog = _load_hog()
    return det


def hog_cache_path() -> Path:
    """Where dlib's frontal face detector is kept as dlib's own binary file (one per dlib version)."""
    import dlib

    from microexp.features.cache import default_cache_dir

    return default_cache_dir() / f"dlib_{dlib.__version__}_frontal_face_detector.svm"


def _load_hog():
    """``dlib.get_frontal_face_detector()`` decodes the detector from a compressed text in dlib's source: ~1 s
    of CPU at every start, holding the GIL. The very same detector saved with dlib's own ``save`` loads in
    ~10 ms, so it is built once, saved in the cache folder and read from there after (the same weights, so
    the same detections; a damaged or unwritable file only costs the build)."""
    import dlib

    path = hog_cache_path()
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:  # damaged (e.g. truncated by hand): build it again and write it over
            pass
    det = dlib.get_frontal_face_detector()
    try:
        from microexp.io.atomic import atomic_path

        with atomic_path(path) as tmp:
            det.save(str(tmp))
    except OSError:  # a read-only home: build it at every start, as before
        pass
    return det


def landmarks_in_box(gray: np.ndarray, box: FaceBox, model_path: str | Path | None = None) -> np.ndarray:
    """68 landmarks inside a known face box: no detection (the face track already says where the face is)."""
    return _shape(_predictor(str(landmark_model_path(model_path))), gray, box)


def _shape(predictor, gray: np.ndarray, box: FaceBox) -> np.ndarray:
    import dlib

    rect = dlib.rectangle(int(box.left), int(box.top), int(box.right), int(box.bottom))
    shape = predictor(_u8(gray), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


@lru_cache(maxsize=2)
def _predictor(path: str):
    import dlib

    return dlib.shape_predictor(path)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img if img.dtype == np.uint8 else np.clip(img, 0, 255).astype(np.uint8))


# iBUG-68 groups (0-based)
JAW = range(0, 17)
BROW_R = range(17, 22)  # image-left brow (subject's right)
BROW_L = range(22, 27)
NOSE_RIDGE = range(27, 31)
NOSE_BASE = range(31, 36)
EYE_R = range(36, 42)
EYE_L = range(42, 48)
MOUTH = range(48, 68)
INNER_EYE_CORNERS = (39, 42)  # image-left (subject's right) first
# Points that expressions barely move (nasal ridge and tip, subnasale, inner eye corners): the anchors
# from which head motion (translation, roll, scale) is estimated.
RIGID = (*NOSE_RIDGE, 33, *INNER_EYE_CORNERS)


def eye_corner_mid(lm: np.ndarray) -> np.ndarray:
    """Midpoint of the inner eye corners: the origin of the canonical crops."""
    return lm[list(INNER_EYE_CORNERS)].mean(axis=0)


def half_inner_canthal(lm: np.ndarray) -> float:
    """OF-FD unit u: half the distance between the inner eye corners (landmarks 39 and 42)."""
    a, b = INNER_EYE_CORNERS
    return float(np.linalg.norm(lm[b] - lm[a]) / 2)
