"""Planted expressions: warp a real face clip with a real expression's motion at a chosen amplitude and time.

A motion template is the onset->apex flow of a real micro-expression (``microexp.synth.motion``), cleaned of
flow noise and normalised to a peak of 1. For every frame of a planted event the target face's 68 landmarks
are found, the template is carried onto that face by the similarity transform between the two faces'
stable landmarks (eyes, nose, jaw ends), scaled so its largest displacement is ``amplitude_pct`` % of the
target's inter-ocular distance times a raised-cosine onset->apex->offset profile, and the frame is
backward-warped. Everything else (face, noise, compression, head motion) stays real.

Labels follow ``microexp synth``: 0-based inclusive frames, ``onset`` the last untouched frame, ``offset`` the
first untouched one again, columns ``video, onset, apex, offset, type, emotion, au``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError, NoFaceError, VideoError
from microexp.synth.motion import expression_flow, iod, read_pair

SMOOTH_IOD = 0.1  # Gaussian sigma of the template, in IOD
STABLE = [0, 16, *range(27, 36), *range(36, 48)]  # jaw ends, nose, eyes: barely move in an expression
Progress = Callable[[int, int | None], None]
PLANT_NOTE = "planted: real video warped by microexp synth plant (expressions are synthetic); labels in the .csv"


@dataclass(frozen=True)
class MotionTemplate:
    """A real onset->apex displacement field (peak 1) in its source face's pixels, with that face's landmarks."""

    name: str
    field: np.ndarray  # (H, W, 2) float32
    landmarks: np.ndarray  # (68, 2)


@dataclass(frozen=True)
class Plant:
    """One planted expression: frames [onset, offset] (0-based inclusive), peak at apex."""

    kind: str  # "me" or "mae"
    onset: int
    apex: int
    offset: int
    amplitude_pct: float  # peak displacement in % of the target face's inter-ocular distance


def clean_field(flow: np.ndarray, mask: np.ndarray, lm: np.ndarray) -> np.ndarray | None:
    """Keep the expression, drop flow noise: gate out motion below the face's noise level (3x the median
    magnitude, at least a fifth of the max), zero outside the face, smooth over ``SMOOTH_IOD`` (about the
    scale Farneback resolves, so the planted peak is measured back), normalise to a peak of 1.
    None when nothing moves."""
    mag = np.linalg.norm(flow, axis=-1)
    inside = mag[mask]
    if inside.size == 0 or inside.max() <= 0:
        return None
    cut = max(3.0 * float(np.median(inside)), 0.2 * float(inside.max()))
    gate = np.clip((mag - 0.5 * cut) / (0.5 * cut), 0, 1)
    out = flow * gate[..., None]
    out[~mask] = 0
    out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), max(SMOOTH_IOD * iod(lm), 0.5))
    peak = float(np.linalg.norm(out, axis=-1).max())
    return None if peak < 1e-6 else out / peak


def load_template(path: str | Path) -> MotionTemplate:
    """Template from a real onset/apex pair: a 2-frame GIF or a folder of frames (first = onset, last = apex)."""
    from microexp.synth.face import find_landmarks

    onset, apex = read_pair(path)
    lm = find_landmarks(onset, str(path))
    flow, mask = expression_flow(onset, apex, lm)
    field = clean_field(flow, mask, lm)
    if field is None:
        raise InputError("motion source shows no motion between onset and apex", path)
    return MotionTemplate(Path(path).stem, field, lm)


def place(template: MotionTemplate, target_lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The template carried onto a target face (image of ``shape``): (H, W, 2) field with a peak of 1."""
    src = np.asarray(template.landmarks, np.float32)[STABLE]
    dst = np.asarray(target_lm, np.float32)[STABLE]
    S, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if S is None:
        raise NoFaceError("cannot align the motion template to the target face's landmarks")
    h, w = shape
    moved = cv2.warpAffine(template.field, S, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out = moved @ S[:, :2].T.astype(np.float32)  # vectors turn and scale with the face
    peak = float(np.linalg.norm(out, axis=-1).max())
    return out / max(peak, 1e-9)


def profile(p: Plant, f: int) -> float:
    """Raised-cosine rise onset->apex and fall apex->offset; exactly 0 at onset and offset (as in ``synth``)."""
    if f <= p.onset or f >= p.offset:
        return 0.0
    if f <= p.apex:
        return float(0.5 - 0.5 * np.cos(np.pi * (f - p.onset) / (p.apex - p.onset)))
    return float(0.5 + 0.5 * np.cos(np.pi * (f - p.apex) / (p.offset - p.apex)))


def validate(plants: list[Plant], fps: float) -> list[Plant]:
    """Frames ordered, no overlaps, amplitude in (0, 50] % IOD, and the MEGC type rule (ME <= 0.5 s < MaE)."""
    out = sorted(plants, key=lambda p: p.onset)
    for p in out:
        if p.kind not in ("me", "mae"):
            raise ConfigError(f"plant type must be 'me' or 'mae' (got {p.kind!r})")
        if not 0 <= p.onset < p.apex < p.offset:
            raise ConfigError(f"plant frames need 0 <= onset < apex < offset (got {p.onset}, {p.apex}, {p.offset})")
        if not 0 < p.amplitude_pct <= 50:
            raise ConfigError(f"plant amplitude must lie in (0, 50] % IOD (got {p.amplitude_pct})")
        dur = (p.offset - p.onset) / fps
        if (p.kind == "me") != (dur <= 0.5):
            raise ConfigError(f"a {p.kind.upper()} from frame {p.onset} to {p.offset} lasts {dur:.3f} s at "
                              f"{fps:g} fps; MEGC types <= 0.5 s as ME, longer as MaE")
    for a, b in zip(out, out[1:]):
        if b.onset < a.offset:
            raise ConfigError(f"planted expressions overlap (frames {a.onset}-{a.offset} and {b.onset}-{b.offset})")
    return out


def plant_frames(frames: Iterable[np.ndarray], plants: list[Plant], template: MotionTemplate, fps: float,
                 source: str = "") -> Iterator[np.ndarray]:
    """Yield the frames with every plant applied; landmarks are found on each frame a plant moves.

    Raises ``NoFaceError`` when no face is found on any frame of a plant, ``VideoError`` when the clip ends
    before a plant does.
    """
    from microexp.face import LandmarkDetector

    plants = validate(list(plants), fps)
    det = None
    last_lm = None
    n = 0
    for f, img in enumerate(frames):
        n = f + 1
        active = [p for p in plants if p.onset < f < p.offset]
        if not active:
            yield img
            continue
        det = det or LandmarkDetector()
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        near = None if last_lm is None else tuple(last_lm.mean(0))
        found = det.find(gray, near=near)
        if found is not None:
            last_lm = found[1]
        elif last_lm is None:
            raise NoFaceError(f"no face found on frame {f}, inside a planted expression", source or None)
        field = place(template, last_lm, img.shape[:2])
        disp = sum(profile(p, f) * p.amplitude_pct / 100 * iod(last_lm) for p in active) * field
        h, w = img.shape[:2]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        yield cv2.remap(img, gx - disp[..., 0], gy - disp[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if plants and plants[-1].offset > n - 1:
        raise VideoError(f"clip has {n} frames but a planted expression ends at frame {plants[-1].offset}",
                         source or None)


def labels_frame(plants: list[Plant], video: str) -> pd.DataFrame:
    """The ``microexp synth`` label table (``video, onset, apex, offset, type, emotion, au``)."""
    from microexp.synth.generate import LABEL_COLUMNS

    rows = [(video, p.onset, p.apex, p.offset, p.kind, "", "flow") for p in sorted(plants, key=lambda p: p.onset)]
    return pd.DataFrame(rows, columns=LABEL_COLUMNS).astype({"onset": int, "apex": int, "offset": int})


def plant_video(src: str | Path, dst: str | Path, plants: list[Plant], template: MotionTemplate | str | Path,
                fps: float | None = None, crf: int = 18, video: str | None = None,
                progress: Progress | None = None) -> pd.DataFrame:
    """Write ``dst`` (H.264), ``dst.csv`` (labels) and ``dst.json`` (plants, template, source); returns labels."""
    from microexp.io.atomic import write_json, write_with
    from microexp.io.video import VideoSource, write_video
    from microexp.synth.generate import labels_path

    dst = Path(dst)
    if dst.suffix.lower() not in (".mp4", ".mkv", ".mov", ".avi"):
        raise ConfigError("output video must end in .mp4, .mkv, .mov or .avi", dst)
    if Path(src).resolve() == dst.resolve():
        raise ConfigError("output video must differ from the input video", dst)
    if not isinstance(template, MotionTemplate):
        template = load_template(template)
    source = VideoSource(src, fps=fps)
    rate = source.info.fps
    plants = validate(list(plants), rate)
    total = source.info.n_frames

    def frames():
        for fr in source.frames():
            if progress is not None and (fr.index % 25 == 0):
                progress(fr.index + 1, total)
            yield fr.image

    write_video(dst, plant_frames(frames(), plants, template, rate, str(src)), rate, crf=crf, comment=PLANT_NOTE)
    labels = labels_frame(plants, video or dst.stem)
    write_with(labels_path(dst), lambda tmp: labels.to_csv(tmp, index=False))
    write_json(dst.with_suffix(".json"), {
        "synthetic": True, "planted": True, "note": PLANT_NOTE, "generator": "microexp.synth.plant",
        "frame_base": 0, "video": video or dst.stem, "source_video": str(src), "fps": rate,
        "template": template.name, "plants": [asdict(p) for p in plants]})
    return labels


def even_plants(n_frames: int, fps: float, kind: str, amplitude_pct: float, duration_s: float,
                apex_fraction: float = 0.47, gap_s: float = 1.0, edge_s: float = 0.5,
                face: np.ndarray | None = None) -> list[Plant]:
    """As many plants of one kind and duration as fit, evenly spaced with ``gap_s`` between them.

    ``face`` (per frame, True where a face is visible) keeps plants on frames that show the face.
    """
    length = int(round(duration_s * fps))
    gap, edge = int(round(gap_s * fps)), int(round(edge_s * fps))
    out, f = [], edge
    while f + length <= n_frames - 1 - edge:
        if face is None or bool(np.all(face[f:f + length + 1])):
            apex = int(np.clip(f + round(apex_fraction * length), f + 1, f + length - 1))
            out.append(Plant(kind, f, apex, f + length, amplitude_pct))
            f += length + gap
        else:
            f += max(1, int(round(0.1 * fps)))
    return out
