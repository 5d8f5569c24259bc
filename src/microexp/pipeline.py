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
from microexp.io.video import VideoSource, input_warnings, prefetch, typical_face_width
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
    warnings: list[str] = field(default_factory=list)  # why the result may mislead (coarse input); one line each

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


def _stream_intervals(path: str | Path, intervals: list, fps: float | None):
    """Yield ``(interval, onset, apex, offset)`` BGR frames (``None`` where not decoded) in one streaming pass.

    Each interval is handed out as soon as its offset frame is decoded and its frames are dropped once no
    later interval needs them, so memory holds the frames of the intervals in flight, not of the whole video.
    """
    order = sorted(range(len(intervals)), key=lambda k: (intervals[k].onset, k))
    pending = [intervals[k] for k in order]
    if not pending:
        return
    wanted = {i for iv in pending for i in (iv.onset, iv.apex, iv.offset)}
    held: dict[int, np.ndarray] = {}

    def ready(upto: int | None):
        nonlocal pending
        done = [iv for iv in pending if upto is None or iv.offset <= upto]
        pending = [iv for iv in pending if not (upto is None or iv.offset <= upto)]
        for iv in done:
            yield iv, held.get(iv.onset), held.get(iv.apex), held.get(iv.offset)
        keep = min((iv.onset for iv in pending), default=None)
        for i in [i for i in held if keep is None or i < keep]:
            del held[i]

    last = max(wanted)
    for fr in prefetch(VideoSource(path, fps=fps).frames()):
        if fr.index in wanted:
            held[fr.index] = fr.image
            yield from ready(fr.index)
        if fr.index >= last or not pending:
            break
    yield from ready(None)


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
    det = LandmarkDetector()
    by_interval: dict[int, tuple[Expression, Thumbs | None]] = {}
    for iv, on, ap, off in _stream_intervals(path, spot.intervals, fps):
        found = None if on is None else det.find(_gray(on))
        if found is None or ap is None:
            by_interval[id(iv)] = (Expression(iv, "unknown", {}), None)
            continue
        lm = found[1]
        # one transform (from the onset frame) for all three: the flow must see the face move, not the crop
        crops = [similarity_align(img, lm, RECOG_CROP)[0] for img in (on, ap, off if off is not None else ap)]
        rec = recognize(_gray(crops[0]), _gray(crops[1]), weights=rec_weights)
        by_interval[id(iv)] = (Expression(iv, rec.emotion, rec.probabilities), Thumbs(*crops))
    expressions = [by_interval[id(iv)][0] for iv in spot.intervals]
    thumbs = [by_interval[id(iv)][1] for iv in spot.intervals]
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
    return Result(str(path), spot, expressions, thumbs, settings, models, input_warnings(spot.info, typical_face_width(spot)))


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
