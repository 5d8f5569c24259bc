"""``microexp.watch``: spot expressions in a live source and report each one as soon as it is final.

Frames from a ``microexp.io.live`` source are pushed into ``OFFDStream``, the same window loop ``spot`` runs
(``run_offd`` is a loop over it), which hands back each interval once no later window can change it. So on
a file ``watch`` gives exactly ``spot``'s intervals, and an interval is reported at most about one analysis
window (≈6.7 s for OF-FD) after its offset, plus processing time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from microexp.face.landmarks import LandmarkDetector
from microexp.records import Interval
from microexp.spotting.offd import OFFDConfig, OFFDStream, get_preset, with_overrides


@dataclass
class StreamState:
    """What the spotter knows right now (the CLI's status line reads it)."""

    frames: int = 0  # processed frames (after resampling to the working rate)
    time_s: float = 0.0  # stream time of the newest frame pushed
    face: str = "searching"  # searching | found | lost
    emitted: int = 0


@dataclass
class Detection:
    """One final interval with its times in seconds of stream time; ``emitted_s`` is where the stream was
    when the interval was reported: the newest frame read, or for a live source (a camera, a device, a
    network stream that drops late frames, a file played ``realtime``) the wall clock since the first frame."""

    video: str
    interval: Interval
    onset_s: float
    offset_s: float
    emitted_s: float
    emotion: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def latency_s(self) -> float:
        return self.emitted_s - self.offset_s

    def to_dict(self) -> dict:
        iv = self.interval
        out = {"video": self.video, "onset": iv.onset, "apex": iv.apex, "offset": iv.offset, "type": iv.kind,
               "score": round(float(iv.score), 4), "onset_s": round(self.onset_s, 3),
               "offset_s": round(self.offset_s, 3), "emitted_s": round(self.emitted_s, 3)}
        if self.emotion is not None:
            out["emotion"] = self.emotion
            out["probabilities"] = {k: round(float(v), 4) for k, v in self.probabilities.items()}
        return out


def recognise_span(stream: OFFDStream, span: tuple[int, int], iv: Interval, det: LandmarkDetector,
                   weights=None) -> tuple[str, dict[str, float]]:
    """Emotion of one final interval from its onset and apex frames (kept by the stream), aligned as
    ``analyze`` aligns them: one similarity transform from the onset frame's landmarks for both."""
    from microexp.face.align import similarity_align
    from microexp.pipeline import RECOG_CROP
    from microexp.recognition.api import recognize

    index = np.asarray(stream.buf.index[span[0]:span[1] + 1])
    pos = {int(i): span[0] + k for k, i in reversed(list(enumerate(index)))}  # first position per frame
    on, ap = stream.kept.get(pos.get(iv.onset, -1)), stream.kept.get(pos.get(iv.apex, -1))
    found = None if on is None or ap is None else det.find(on)
    if found is None:
        return "unknown", {}
    crops = [similarity_align(img, found[1], RECOG_CROP)[0] for img in (on, ap)]
    rec = recognize(crops[0], crops[1], weights=weights)
    return rec.emotion, rec.probabilities


def watch_detections(source, *, fps: float | None = None, preset: str = "default",
                     config: OFFDConfig | None = None, realtime: bool = False, recognize: bool = False,
                     recognizer_weights=None, live_options: dict | None = None,
                     on_status: Callable[[StreamState, object], None] | None = None,
                     **overrides) -> Iterator[Detection]:
    """Open SOURCE (see ``microexp.io.live``; a ``LiveSource`` is used as is) and yield a ``Detection`` per
    interval as soon as it is final. ``on_status(state, live_source)`` runs after every frame (keep it
    cheap). Closing the generator stops the reader; a lost stream ends it after the intervals so far.
    """
    from microexp.io.live import LiveSource

    cfg = config or get_preset(preset)
    if overrides:
        cfg = with_overrides(cfg, **overrides)
    rec_det = None
    if recognize:  # load the recogniser before the first frame, not when the first interval is found
        from microexp.recognition.weights import load_default

        load_default(recognizer_weights)
        rec_det = LandmarkDetector()
    det = LandmarkDetector()  # loaded before the reader starts, so early frames are not dropped
    src = source if isinstance(source, LiveSource) else LiveSource(
        source, fps=fps, realtime=realtime, **(live_options or {}))
    stream = OFFDStream(src.fps, cfg, det, keep_frames=recognize)
    # live (paced) sources: report on the wall clock, which includes any backlog; recorded ones (a file, a
    # pipe, a stream opened lossless) on the stream's own clock, the newest frame read
    paced = src.realtime or (src.drop and src.spec.kind in ("camera", "device", "url"))
    state = StreamState()
    wall0: float | None = None

    def detections(spans) -> Iterator[Detection]:
        now = state.time_s
        if paced and wall0 is not None:
            now = max(now, time.monotonic() - wall0)
        times = stream.buf.time
        for span in spans:
            iv = stream.interval(span)
            d = Detection(src.name, iv, float(times[span[0]]), float(times[span[1]]), now)
            if recognize:
                d.emotion, d.probabilities = recognise_span(stream, span, iv, rec_det, recognizer_weights)
                for pos in range(span[0], span[1] + 1):  # reported: its frames are not needed any more
                    stream.kept.pop(pos, None)
            state.emitted += 1
            yield d

    try:
        for frame in src.frames():
            if wall0 is None:
                wall0 = time.monotonic() - frame.time
            spans = stream.push(frame)
            state.frames, state.time_s = len(stream.buf), frame.time
            if stream.win is not None:
                state.face = "found"
            elif state.face == "found":
                state.face = "lost"
            if on_status is not None:
                on_status(state, src)
            yield from detections(spans)
        yield from detections(stream.close())
    finally:
        src.close()
        if stream.tracker.pool is not None:
            stream.tracker.pool.shutdown(wait=False)
        if on_status is not None:
            on_status(state, src)


def watch(source, **options) -> Iterator[Interval]:
    """Spot expressions in a live source; yields each ``Interval`` as soon as it is final (stop any time)."""
    for d in watch_detections(source, **options):
        yield d.interval
