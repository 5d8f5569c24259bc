"""``microexp.watch``: spot expressions in a live source and report each one as soon as it is final.

Frames from a ``microexp.io.live`` source are pushed into ``OFFDStream``, the same window loop ``spot`` runs
(``run_offd`` is a loop over it), which hands back each interval once no later window can change it. So on
a file ``watch`` gives exactly ``spot``'s intervals, and an interval is reported at most about one analysis
window (≈6.7 s for OF-FD) after its offset, plus processing time. With recognition, each interval is read
exactly as ``analyze`` reads it (``pipeline.IntervalReader``), once the face track around it is final too
(the next window has opened past the frames it reads), so it may come one window hop later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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
    reference: int | None = None  # as ``records.Expression``: the face the reading compared with the apex ...
    rested: bool | None = None  # ... and whether it was at rest

    @property
    def latency_s(self) -> float:
        return self.emitted_s - self.offset_s

    def to_dict(self) -> dict:
        iv = self.interval
        out = {"video": self.video, "onset": iv.onset, "apex": iv.apex, "offset": iv.offset, "type": iv.kind,
               "score": round(float(iv.score), 4), "onset_s": round(self.onset_s, 3),
               "offset_s": round(self.offset_s, 3), "open": bool(iv.open), "emitted_s": round(self.emitted_s, 3)}
        if self.emotion is not None:
            out["emotion"] = self.emotion
            out["probabilities"] = {k: round(float(v), 4) for k, v in self.probabilities.items()}
            out["reference"], out["rested"] = self.reference, self.rested
        return out


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
    keep = None
    read: list = []  # (span, Expression) handed over by the stream, not reported yet
    if recognize:  # load the recogniser before the first frame, not when the first interval is found
        from microexp.pipeline import IntervalReader
        from microexp.recognition.weights import load_default

        load_default(recognizer_weights)
        keep = IntervalReader(recognizer_weights).keep()
    det = LandmarkDetector()  # loaded before the reader starts, so early frames are not dropped
    src = source if isinstance(source, LiveSource) else LiveSource(
        source, fps=fps, realtime=realtime, **(live_options or {}))
    if keep is None:
        stream = OFFDStream(src.fps, cfg, det)
    else:  # each interval is read as analyze reads it, once its frames and face track are final
        stream = OFFDStream(src.fps, cfg, det, keep_frames=True, keep_before_s=keep.before_s,
                            keep_after_s=keep.after_s, keep_filter=lambda iv: keep.wanted(iv, src.fps),
                            on_ready=lambda span, iv, frames, track, grid: read.append(
                                (span, keep.use(iv, frames, track, grid, src.fps))))
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
        items = [(span, None) for span in spans] if keep is None else list(read)
        read.clear()
        for span, expr in items:
            iv = stream.interval(span) if expr is None else expr.interval
            d = Detection(src.name, iv, float(times[span[0]]), float(times[span[1]]), now)
            if expr is not None:
                d.emotion, d.probabilities = expr.emotion, expr.probabilities
                d.reference, d.rested = expr.reference, expr.rested
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
