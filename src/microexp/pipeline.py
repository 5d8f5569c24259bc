"""``microexp.analyze``: spot, then recognise the emotion of every spotted expression.

The spotter decodes the video once and finds the face once; it hands over the frames of each interval and the
face track, so the recogniser aligns the onset/apex/offset frames with the spotter's own landmarks instead of
decoding and detecting a second time. OF-FD hands each interval over as soon as it is final and then drops its
frames, so memory does not grow with the video's length (learned spotters read their crops from the cache and
decode once, for the interval frames only).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microexp.errors import ConfigError
from microexp.face.align import similarity_align
from microexp.face.landmarks import LICENCE_NOTE
from microexp.io.video import input_warnings, typical_face_width
from microexp.records import Expression, at_rest
from microexp.spotting.api import SpotResult, spot_video
from microexp.version import __version__

RECOG_CROP = 128  # aligned face size handed to the recogniser and used for thumbnails


@dataclass
class Thumbs:
    onset: np.ndarray
    apex: np.ndarray
    offset: np.ndarray
    reference: np.ndarray | None = None  # the face the reading compared with, when it is not the onset's


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
        return self.spot.frame_times()

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


def analyze(path: str | Path, fps: float | None = None, spotter: str = "offd", recognizer: str = "default",
            preset: str = "default", weights: str | Path | None = None,
            progress: Callable[[int, int | None], None] | None = None, cache_dir: str | Path | None = None) -> Result:
    """Spot expressions in a video or frame folder with any registered spotter, then classify each one's emotion.

    With OF-FD each interval is recognised as soon as the stream has settled it, and its frames are dropped
    (memory does not grow with the number of expressions); learned spotters hand their frames over at the end.
    """
    rec_weights = None if recognizer == "default" else recognizer
    if rec_weights is not None and not Path(rec_weights).exists():
        raise ConfigError(f"recogniser weights not found: {rec_weights} (use 'default' or a checkpoint path)")
    reader = IntervalReader(rec_weights)
    spot = spot_video(path, spotter=spotter, weights=weights, fps=fps, preset=preset, progress=progress,
                      keep_frames=True, cache_dir=cache_dir, keep=reader.keep())
    if [e.interval for e in reader.expressions] != spot.intervals:  # not read while spotting (learned spotters)
        reader.read_all(spot, path, fps)
    settings = {**spot.settings, "recognizer": recognizer}  # each setting once, as it was actually used
    models = {
        "microexp": __version__,
        "recognizer_model": _recognizer_name(rec_weights),
        "landmarks": "dlib 68-point (iBUG 300-W)",
        "landmark_licence": LICENCE_NOTE,
        "python": platform.python_version(),
    }
    return Result(str(path), spot, reader.expressions, reader.thumbnails, settings, models,
                  input_warnings(spot.info, typical_face_width(spot), spot.n_frames))


class IntervalReader:
    """The emotion of each spotted interval, one interval at a time, in order (``analyze``, ``watch --recognize``).

    Micro-expressions: the recogniser on the onset and apex frames, aligned with one similarity transform from
    the face track's landmarks at the onset. Macro-expressions: the macro path (``recognition/macro.py``: a
    reference face before the onset, or before apex - 4 s when the onset lies further back, never reaching back
    into the previous interval; apex frames averaged).
    ``keep()`` says which frames to hold while spotting; ``read`` takes one interval with them.
    """

    def __init__(self, weights=None):
        from microexp.recognition import macro

        self.weights = weights
        self.macro = macro.MacroConfig()
        self.expressions: list[Expression] = []
        self.thumbnails: list[Thumbs | None] = []
        self.previous_offset = -1
        self.previous_open = False

    def wanted(self, iv, fps: float) -> set[int]:
        """Frames read for one interval (macro: the face before the onset and the apex's neighbours)."""
        from microexp.recognition import macro

        three = {iv.onset, iv.apex, iv.offset}
        return three | macro.wanted_frames(iv.onset, iv.apex, fps, self.macro) if iv.kind == "mae" else three

    def keep(self):
        from microexp.spotting.api import Keep

        return Keep(self.macro.lookback_s, self.macro.apex_span_s, self.wanted, use=self.read)

    def read(self, iv, frames, track, grid, fps: float) -> Expression:
        """Recognise one interval from its frames (original index -> image) and the face track; ``grid``: the
        frames the spotter processed (the macro path reads only those)."""
        from microexp.recognition import macro
        from microexp.recognition.api import recognize

        not_before, previous_open = self.previous_offset + 1, self.previous_open
        if iv.offset >= self.previous_offset:
            self.previous_offset, self.previous_open = iv.offset, iv.open
        on, ap, off = (frames.get(i) for i in (iv.onset, iv.apex, iv.offset))
        read = None
        if iv.kind == "mae" and ap is not None:
            read = macro.recognize_macro(frames, iv.onset, iv.apex, fps, cfg=self.macro, not_before=not_before,
                                         weights=self.weights, landmarks_of=_track_landmarks(track), grid=grid)
        lm = track.landmarks_at(iv.onset) if track is not None else None
        if lm is None or on is None or ap is None:
            self.expressions.append(Expression(iv, "unknown", {}))
            self.thumbnails.append(None)
            return self.expressions[-1]
        # one transform (from the onset frame) for all three: the flow must see the face move, not the crop
        crops = [similarity_align(img, lm, RECOG_CROP)[0] for img in (on, ap, off if off is not None else ap)]
        rec = read.recognition if read is not None else recognize(_gray(crops[0]), _gray(crops[1]),
                                                                  weights=self.weights)
        ref = read.reference if read is not None else iv.onset
        ref_crop = None
        if ref != iv.onset and frames.get(ref) is not None:
            ref_crop = similarity_align(frames[ref], lm, RECOG_CROP)[0]
        seen = track.face_since(ref) if track is not None else None
        self.expressions.append(Expression(iv, rec.emotion, rec.probabilities, ref,
                                           at_rest(ref, not_before - 1, previous_open, fps, seen or 0)))
        self.thumbnails.append(Thumbs(*crops, reference=ref_crop))
        return self.expressions[-1]

    def read_all(self, spot: SpotResult, path: str | Path, fps: float | None) -> None:
        """Every interval after spotting, from the frames the spotter kept (one more decoding pass for any
        it did not keep)."""
        from microexp.recognition import macro

        self.expressions, self.thumbnails, self.previous_offset, self.previous_open = [], [], -1, False
        rate, grid = spot.info.fps, spot.trace.index
        wanted = {i for iv in spot.intervals for i in (iv.onset, iv.apex, iv.offset)}
        for iv, nb in zip(spot.intervals, _not_before(spot.intervals), strict=True):
            if iv.kind == "mae":
                wanted |= macro.wanted_frames(iv.onset, iv.apex, rate, self.macro, not_before=nb,
                                              last=spot.n_frames - 1, grid=grid)
        frames = spot.frames
        missing = wanted - set(frames)
        if missing:  # frames the spotter did not keep cost one more decoding pass, never a wrong answer
            from microexp.spotting.learned import grab_frames

            frames = {**frames, **grab_frames(path, missing, fps)}
        for iv in spot.intervals:
            self.read(iv, frames, spot.track, grid, rate)


def _track_landmarks(track):
    """Landmarks of one frame inside the face track's box there: the macro path compares face shapes frame by
    frame, and the track already knows where the face is, so nothing is detected again."""
    from microexp.face.landmarks import landmarks_in_box

    def landmarks_of(index: int, gray: np.ndarray) -> np.ndarray | None:
        box = track.box_at(index) if track is not None else None
        return None if box is None else landmarks_in_box(gray, box)

    return landmarks_of


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
