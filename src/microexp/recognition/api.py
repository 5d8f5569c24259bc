"""Emotion recognition for aligned onset/apex face pairs or ready-made flow images.

``recognize_flow`` is the low-level entry used by the ``analyze`` pipeline: it takes the canonical encoding
(N x 3 x 28 x 28, channels u, v, optical strain, each min-max scaled to [0, 1] per image) and runs the shipped
default recogniser (or a checkpoint given by ``weights``). ``recognize`` builds that encoding from two aligned
grey face crops with ``microexp.features`` and returns one :class:`Recognition`.

The encoding (``encode_flow``) was matched against the published HTNet/STSTNet flow images of the same
samples: DIS flow on the face crop, optical strain at full resolution, area resampling to 28 x 28, then
per-channel min-max (see docs/recognition.md for the per-channel correlations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from microexp.errors import InputError, ModelError
from microexp.recognition.data import CLASSES

FLOW_SIZE = 28


@dataclass
class Recognition:
    """One recognised expression: the top class and all class probabilities."""

    emotion: str
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return float(self.probabilities.get(self.emotion, 0.0))


def encode_flow(flow: np.ndarray, strain: np.ndarray | None = None, size: int = FLOW_SIZE) -> np.ndarray:
    """(H, W, 2) flow (+ optional strain) -> 3 x size x size float32 (u, v, strain), each channel in [0, 1]."""
    import cv2

    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2 or min(flow.shape[:2]) < 2:
        raise InputError(f"flow must be H x W x 2 with H, W >= 2, got shape {flow.shape}")
    if strain is None:
        from microexp.features.strain import optical_strain

        strain = optical_strain(flow)
    chans = []
    for c in (flow[..., 0], flow[..., 1], np.asarray(strain, dtype=np.float32)):
        r = cv2.resize(np.ascontiguousarray(c), (size, size), interpolation=cv2.INTER_AREA)
        lo, hi = float(r.min()), float(r.max())
        chans.append((r - lo) / (hi - lo) if hi > lo else np.zeros_like(r))
    return np.stack(chans).astype(np.float32)


def flow_from_faces(onset_face_gray: np.ndarray, apex_face_gray: np.ndarray, method: str = "dis") -> np.ndarray:
    """Onset->apex encoding (3 x 28 x 28) from two aligned face crops of equal size."""
    from microexp.features.flow import compute_flow

    a, b = np.asarray(onset_face_gray), np.asarray(apex_face_gray)
    if a.shape[:2] != b.shape[:2]:
        raise InputError(f"onset and apex crops differ in size: {a.shape} vs {b.shape}")
    if min(a.shape[:2]) < 16:
        raise InputError(f"face crop too small for optical flow: {a.shape}")
    return encode_flow(compute_flow(a, b, method=method))


def flow_from_sequence(faces_gray, method: str = "dis", magnify=None) -> np.ndarray:
    """Onset->apex encoding from an aligned onset..apex crop sequence (first = onset, last = apex).

    ``magnify`` (a :class:`microexp.features.magnify.MagnifyConfig`) amplifies the sequence's motion by
    Eulerian magnification before the flow, as many recognition papers do; None reads the frames as they are.
    """
    seq = [np.asarray(f) for f in faces_gray]
    if len(seq) < 2:
        raise InputError(f"need at least an onset and an apex crop, got {len(seq)}")
    if magnify is not None:
        from microexp.features.magnify import magnify as evm

        seq = evm(seq, magnify)
    return flow_from_faces(seq[0], seq[-1], method=method)


def recognize_flow(flow_uvs, *, weights: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """Classify N encoded flows; returns (labels, probabilities N x C in the checkpoint's class order)."""
    from microexp.recognition.weights import load_default

    x = np.asarray(flow_uvs, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1:] != (3, FLOW_SIZE, FLOW_SIZE):
        raise InputError(f"flow_uvs must be N x 3 x {FLOW_SIZE} x {FLOW_SIZE}, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("flow_uvs contains NaN or infinite values")
    model, info = load_default(weights)
    if info.get("input", "uvs01-28") != "uvs01-28":
        raise ModelError(f"this checkpoint reads {info.get('input')}, not 3 x 28 x 28 flow encodings",
                         weights or "default weights")
    classes = list(info.get("classes", CLASSES))
    if len(x) == 0:
        return [], np.zeros((0, len(classes)), dtype=np.float32)
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(x)), dim=1).numpy().astype(np.float32)
    return [classes[i] for i in probs.argmax(1)], probs


def recognize(onset_face_gray: np.ndarray, apex_face_gray: np.ndarray, *, weights: str | Path | None = None,
              method: str = "dis") -> Recognition:
    """Recognise the emotion between an aligned onset and apex face crop with the default recogniser."""
    from microexp.recognition.weights import load_default

    x = flow_from_faces(onset_face_gray, apex_face_gray, method=method)
    labels, probs = recognize_flow(x[None], weights=weights)
    classes = list(load_default(weights)[1].get("classes", CLASSES))
    return Recognition(labels[0], {c: float(p) for c, p in zip(classes, probs[0], strict=True)})
