"""Macro-expression reading: measure the apex against a reference face found before the onset.

Why: a spotted macro-expression often starts when the face is already expressive (the onset of a broad laugh
was spotted at a frame that was already laughing; the flow onset->apex then saw only a head turn and was read
"negative 0.93"). Flow recognisers read *change*, so the change has to start from a face that does not show the
expression yet. This is a **heuristic** built around the shipped micro-expression recogniser (no model was
trained on macro-expressions; we hold no macro-expression data we could name and train on):

1. Reference: among frames in ``[a - lookback_s, a]`` with ``a = max(onset, apex - max_rise_s)`` (never before
   ``not_before``, e.g. the end of the previous spotted expression), sampled every ``step_s``, take the face
   whose expressive landmarks (brows, eyes, mouth), after a similarity fit on rigid points (nose ridge, eye
   corners), lie farthest from the apex face. ``a`` is the onset unless the spotted onset lies more than
   ``max_rise_s`` before the apex: on never-neutral footage one spotted interval can join several expressions,
   and the expression at the apex almost always began at most ``max_rise_s`` earlier (onset->apex exceeds 4 s
   in none of the 252 CAS(ME)^2 macro-expressions and in 16 of 339 SAMM-LV ones,
   ``benchmarks/measure_real_me.py``). Shape distances are in inter-ocular units, so the choice does not depend
   on image size, mirroring or frame rate.
2. One crop transform from the reference face for every frame (as the micro path: the flow must see the face
   move, not the crop).
3. Probabilities averaged over apex frames ``apex ± apex_span_s`` and over the mirrored pair (the recogniser is
   not exactly mirror-symmetric; averaging makes the reading so by construction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from microexp.errors import InputError
from microexp.face.align import similarity_align
from microexp.face.landmarks import LandmarkDetector

if TYPE_CHECKING:  # the recogniser (torch) is imported where it runs: ``analyze`` builds a MacroConfig at start
    from microexp.recognition.api import Recognition

RIGID = (27, 28, 29, 30, 36, 39, 42, 45)  # nose ridge and eye corners: move little in expressions
EXPRESSIVE = tuple(range(17, 27)) + tuple(range(36, 48)) + tuple(range(48, 68))  # brows, eyes, mouth


@dataclass(frozen=True)
class MacroConfig:
    """Search window for the reference face and the apex frames averaged (all in seconds)."""

    lookback_s: float = 0.5
    max_rise_s: float = 4.0  # the reference is searched at most this long (+ lookback_s) before the apex
    step_s: float = 0.1
    apex_span_s: float = 0.2
    crop: int = 128


@dataclass
class MacroReading:
    """A macro-expression reading and the frames it used (for thumbnails and reports)."""

    recognition: Recognition
    reference: int
    apex_frames: list[int]
    shape_distance: float  # reference-to-apex landmark distance, inter-ocular units


def reference_anchor(onset: int, apex: int | None, fps: float, cfg: MacroConfig = MacroConfig()) -> int:
    """Newest frame searched for the reference: the onset, or ``apex - max_rise_s`` when the onset lies further
    back."""
    return onset if apex is None else max(onset, apex - round(cfg.max_rise_s * fps))


def reference_candidates(onset: int, fps: float, cfg: MacroConfig = MacroConfig(), not_before: int = 0,
                         apex: int | None = None) -> list[int]:
    """Frame indices searched for the reference face, the anchor (:func:`reference_anchor`) included, newest
    last."""
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    step = max(1, round(cfg.step_s * fps))
    anchor = reference_anchor(onset, apex, fps, cfg)
    lo = max(0, not_before, anchor - round(cfg.lookback_s * fps))
    return sorted(set(range(anchor, lo - 1, -step)))


def apex_frames(apex: int, fps: float, cfg: MacroConfig = MacroConfig(), last: int | None = None) -> list[int]:
    """Apex and its neighbours ``apex ± apex_span_s`` sampled every ``step_s`` (clipped to ``[0, last]``)."""
    step = max(1, round(cfg.step_s * fps))
    k = int(round(cfg.apex_span_s / cfg.step_s)) if cfg.step_s > 0 else 0
    out = {apex + j * step for j in range(-k, k + 1)}
    return sorted(i for i in out if i >= 0 and (last is None or i <= last))


def on_grid(indices, grid, lo: int = 0, hi: int | None = None) -> list[int]:
    """Each index moved to the nearest frame of ``grid`` (the frames a spotter processed: every 7th of a 200 fps
    video), kept within ``[lo, hi]``, deduplicated; unchanged when ``grid`` is None."""
    out = sorted(set(indices))
    if grid is not None and len(grid):
        g = np.asarray(grid)
        pos = np.clip(np.searchsorted(g, out), 1, len(g) - 1) if len(g) > 1 else np.zeros(len(out), int)
        near = [int(g[p - 1]) if len(g) > 1 and abs(i - g[p - 1]) <= abs(g[p] - i) else int(g[p])
                for i, p in zip(out, pos, strict=True)]
        out = sorted(set(near))
    return [i for i in out if i >= lo and (hi is None or i <= hi)]


def wanted_frames(onset: int, apex: int, fps: float, cfg: MacroConfig = MacroConfig(), not_before: int = 0,
                  last: int | None = None, grid=None) -> set[int]:
    """Every frame the macro path reads for one interval (to decode or keep them in one pass)."""
    refs = on_grid(reference_candidates(onset, fps, cfg, not_before, apex), grid, not_before,
                   reference_anchor(onset, apex, fps, cfg))
    return set(refs) | set(on_grid(apex_frames(apex, fps, cfg, last), grid, 0, last))


def _iod(lm: np.ndarray) -> float:
    return max(float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))), 1e-3)


def shape_distance(lm: np.ndarray, lm_apex: np.ndarray) -> float:
    """Mean distance of the expressive landmarks after a rigid-point similarity fit (inter-ocular units)."""
    M, _ = cv2.estimateAffinePartial2D(lm[list(RIGID)].astype(np.float32), lm_apex[list(RIGID)].astype(np.float32))
    if M is None:
        return 0.0
    p = lm[list(EXPRESSIVE)] @ M[:, :2].T + M[:, 2]
    return float(np.linalg.norm(p - lm_apex[list(EXPRESSIVE)], axis=1).mean() / _iod(lm_apex))


def _gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def recognize_macro(frames: Mapping[int, np.ndarray], onset: int, apex: int, fps: float, *,
                    cfg: MacroConfig = MacroConfig(), not_before: int = 0, weights=None,
                    detector: LandmarkDetector | None = None,
                    landmarks_of: Callable[[int, np.ndarray], np.ndarray | None] | None = None,
                    grid=None) -> MacroReading | None:
    """Read one macro-expression from decoded frames (BGR or grey, keyed by 0-based index).

    ``frames`` must hold :func:`wanted_frames` (with the same ``grid``: the frames the spotter processed, so
    that a 200 fps video needs no frame it did not already decode and keep); missing ones are skipped. ``landmarks_of(index, grey)`` gives a
    frame's 68 landmarks (``analyze`` passes one that reads them inside the face track's box, so no face is
    detected again); without it faces are detected. Returns None when no face is found on the apex or on any
    reference candidate.
    """
    from microexp.recognition.api import Recognition, flow_from_faces, recognize_flow

    if landmarks_of is None:
        det = detector or LandmarkDetector()

        def landmarks_of(_i, gray, near=None):
            found = det.find(gray, near=near)
            return None if found is None else found[1]
    if apex not in frames:
        raise InputError(f"apex frame {apex} was not decoded")
    lm_apex = landmarks_of(apex, _gray(frames[apex]))
    if lm_apex is None:
        return None
    best = None
    for i in on_grid(reference_candidates(onset, fps, cfg, not_before, apex), grid, not_before,
                     reference_anchor(onset, apex, fps, cfg)):
        if i not in frames or i == apex:
            continue
        lm = landmarks_of(i, _gray(frames[i]))
        if lm is None:
            continue
        d = shape_distance(lm, lm_apex)
        if best is None or d > best[0]:
            best = (d, i, lm)
    if best is None:
        return None
    dist, ref, lm_ref = best
    ref_crop, M = similarity_align(_gray(frames[ref]), lm_ref, cfg.crop)
    aps = [i for i in on_grid(apex_frames(apex, fps, cfg), grid) if i in frames]
    pairs = []
    for i in aps:
        crop = cv2.warpAffine(_gray(frames[i]), M, (cfg.crop, cfg.crop), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        pairs.append(flow_from_faces(ref_crop, crop))
        pairs.append(flow_from_faces(ref_crop[:, ::-1].copy(), crop[:, ::-1].copy()))
    _, probs = recognize_flow(np.stack(pairs), weights=weights)
    from microexp.recognition.weights import load_default

    classes = list(load_default(weights)[1].get("classes", []))
    mean = probs.mean(0)
    rec = Recognition(classes[int(mean.argmax())], {c: float(p) for c, p in zip(classes, mean, strict=True)})
    return MacroReading(rec, int(ref), aps, dist)
