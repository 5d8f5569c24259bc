"""``microexp.analyze``: spot, then recognise the emotion of every spotted expression.

The video is streamed twice: once by the spotter, and once more to pick up only the onset, apex and offset
frames of the spotted intervals (decoding is ≈10× faster than spotting), so memory stays flat in video length.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microexp.errors import ConfigError
from microexp.face.align import similarity_align
from microexp.face.landmarks import LICENCE_NOTE, LandmarkDetector
from microexp.io.video import VideoSource, prefetch
from microexp.records import Expression
from microexp.spotting.api import SpotResult, spot_video

RECOG_CROP = 128  # aligned face size handed to the recogniser and used for thumbnails


@dataclass
class Thumbs:
    onset: np.ndarray
    apex: np.ndarray
    offset: np.ndarray


@dataclass
class Result:
    """What ``analyze`` found in one video."""

    video: str
    spot: SpotResult
    expressions: list[Expression]
    thumbnails: list[Thumbs | None]
    settings: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.spot.info.fps

    @property
    def n_frames(self) -> int:
        return self.spot.n_frames

    @property
    def face_frames(self) -> int:
        return self.spot.face_frames

    def frame_times(self) -> np.ndarray:
        from microexp.spotting.outputs import frame_time_table

        return frame_time_table(self.spot)

    def no_face_ranges(self) -> list[tuple[int, int]]:
        """Inclusive frame ranges where no face was found."""
        mask = ~self.spot.face_mask()
        out, start = [], None
        for i, m in enumerate(mask):
            if m and start is None:
                start = i
            if not m and start is not None:
                out.append((start, i - 1))
                start = None
        if start is not None:
            out.append((start, len(mask) - 1))
        return out


def grab_frames(path: str | Path, wanted: set[int], fps: float | None = None) -> dict[int, np.ndarray]:
    """Decode once more and keep only the wanted frame indices (BGR)."""
    if not wanted:
        return {}
    last = max(wanted)
    out = {}
    for fr in prefetch(VideoSource(path, fps=fps).frames()):
        if fr.index in wanted:
            out[fr.index] = fr.image
        if fr.index >= last:
            break
    return out


def analyze(path: str | Path, fps: float | None = None, spotter: str = "offd", recognizer: str = "default",
            preset: str = "default", weights: str | Path | None = None,
            progress: Callable[[int, int | None], None] | None = None) -> Result:
    """Spot expressions in a video or frame folder, then classify each one's emotion."""
    from microexp.recognition.api import recognize

    if spotter != "offd":
        from microexp.spotting import learned

        spot = learned.spot_with_model(path, model=spotter, weights=weights, fps=fps)
    else:
        spot = spot_video(path, fps=fps, preset=preset, progress=progress)
    rec_weights = None if recognizer == "default" else recognizer
    if rec_weights is not None and not Path(rec_weights).exists():
        raise ConfigError(f"recogniser weights not found: {rec_weights} (use 'default' or a checkpoint path)")
    from microexp.recognition import macro

    rate = spot.info.fps
    starts = _not_before(spot.intervals)
    wanted = {i for iv in spot.intervals for i in (iv.onset, iv.apex, iv.offset)}
    for iv, nb in zip(spot.intervals, starts, strict=True):
        if iv.kind == "mae":  # macro path: reference face before the onset, apex averaged (recognition/macro.py)
            wanted |= macro.wanted_frames(iv.onset, iv.apex, rate, not_before=nb, last=spot.n_frames - 1)
    frames = grab_frames(path, wanted, fps=fps)
    det = LandmarkDetector()
    expressions, thumbs = [], []
    for iv, nb in zip(spot.intervals, starts, strict=True):
        on, ap, off = frames.get(iv.onset), frames.get(iv.apex), frames.get(iv.offset)
        read = None
        if iv.kind == "mae" and ap is not None:
            read = macro.recognize_macro(frames, iv.onset, iv.apex, rate, not_before=nb, weights=rec_weights,
                                         detector=det)  # thumbnails below still show the spotted frames
        found = None if on is None else det.find(_gray(on))
        if found is None or ap is None:
            expressions.append(Expression(iv, "unknown", {}))
            thumbs.append(None)
            continue
        lm = found[1]
        # one transform (from the onset frame) for all three: the flow must see the face move, not the crop
        crops = [similarity_align(img, lm, RECOG_CROP)[0] for img in (on, ap, off if off is not None else ap)]
        if read is not None:
            rec = read.recognition
        else:
            rec = recognize(_gray(crops[0]), _gray(crops[1]), weights=rec_weights)
        expressions.append(Expression(iv, rec.emotion, rec.probabilities))
        thumbs.append(Thumbs(*crops))
    import microexp

    models = {
        "microexp": microexp.__version__,
        "spotter": spot.offd.config.name if spotter == "offd" else spotter,
        "recognizer": _recognizer_name(rec_weights),
        "landmarks": "dlib 68-point (iBUG 300-W)",
        "landmark_licence": LICENCE_NOTE,
        "python": platform.python_version(),
    }
    settings = {"fps": fps, "spotter": spotter, "preset": preset, "recognizer": recognizer,
                "work_rate_hz": spot.offd.rate}
    return Result(str(path), spot, expressions, thumbs, settings, models)


def _not_before(intervals) -> list[int]:
    """For each interval, the first frame after the previous interval (the macro reference never reaches back
    into another expression)."""
    out, prev = [], -1
    for iv in intervals:
        out.append(prev + 1)
        prev = max(prev, iv.offset)
    return out


def _recognizer_name(weights) -> str:
    if weights:
        return str(weights)
    try:
        from microexp.recognition.weights import load_default

        info = load_default(None)[1]
        return f"default ({info.get('arch', 'unknown')}, {info.get('meta', {}).get('trained_on', '')})"
    except Exception:  # noqa: BLE001 - the name is informational only
        return "default"


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
