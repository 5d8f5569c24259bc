"""``microexp.watch``: spot expressions in a live source and report each one as soon as it is final.

The window loop is OF-FD's own (``WindowTracker``, ``analyse_window``, ``next_hop``, ``finalize`` from
``spotting.offd``), run over a frame stream that may never end. An interval is *final* once no later window
can change it: every later window starts at or after the next reference frame, and its spans start after
it, so the video-level ``finalize`` output is stable up to the first interval that reaches that frame.
Emitting that prefix after every window gives, on a file, exactly the intervals ``spot`` gives, and bounds
the delay after an expression's offset by about one window (≈6.7 s for OF-FD) plus processing.

TODO(merge): h1 is turning ``run_offd`` into an incremental ``OFFDStream``; when it lands, ``offd_windows``
below should be replaced by it (one window loop for ``spot`` and ``watch``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from microexp.face.landmarks import LandmarkDetector
from microexp.records import Interval
from microexp.spotting.offd import (
    OFFDConfig,
    OFFDResult,
    WindowTracker,
    analyse_window,
    finalize,
    get_preset,
    next_hop,
    resample_stream,
    with_overrides,
    working_rate,
)


@dataclass
class StreamState:
    """What the spotter knows right now (the CLI's status line reads it)."""

    frames: int = 0  # processed frames (after resampling to the working rate)
    time_s: float = 0.0  # stream time of the newest processed frame
    face: str = "searching"  # searching | found | lost
    windows: int = 0
    emitted: int = 0


@dataclass
class Detection:
    """One final interval with its times: ``emitted_s`` is where the stream was when it was reported."""

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


def final_prefix(spans: list[tuple[int, int]], cfg: OFFDConfig, rate: float, bound: int | None) -> list:
    """The video-level intervals that no window starting at ``bound`` or later can change (all when None)."""
    out = finalize(spans, cfg, rate)
    if bound is None:
        return out
    n = 0
    while n < len(out) and out[n][1] < bound:
        n += 1
    return out[:n]


def offd_windows(frames: Iterable, fps: float, cfg: OFFDConfig, detector: LandmarkDetector | None = None,
                 state: StreamState | None = None,
                 on_frame: Callable[[int, float, np.ndarray], None] | None = None
                 ) -> Iterator[list[tuple[Interval, float, float]]]:
    """Run OF-FD's window loop over ``frames``; after each window yield the intervals that became final,
    each with its onset and offset time in seconds.

    Mirrors ``run_offd`` step for step (same reference choice, face checks, hops) so a finite stream gives
    the same intervals; frames are pulled only as windows need them.
    """
    from microexp.spotting.api import spans_to_intervals

    det = detector or LandmarkDetector()
    tracker = WindowTracker(cfg, det)
    state = state or StreamState()
    rate = working_rate(fps, cfg.work_rate_hz)
    W = cfg.frames(cfg.window_s, rate)
    hop_default = cfg.frames(cfg.hop_s, rate)
    check_every = cfg.frames(cfg.face_check_s, rate)
    stream = resample_stream(frames, rate)

    proc_index: list[int] = []
    proc_time: list[float] = []
    score: list[float] = []
    buffer: dict[int, np.ndarray] = {}
    spans_all: list[tuple[int, int]] = []
    emitted = 0
    exhausted = False

    def fetch(i: int) -> np.ndarray | None:
        nonlocal exhausted
        while i >= len(proc_index) and not exhausted:
            try:
                idx, t, img = next(stream)
            except StopIteration:
                exhausted = True
                break
            if img.ndim == 3:
                import cv2

                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            buffer[len(proc_index)] = img
            proc_index.append(idx)
            proc_time.append(t)
            score.append(0.0)
            state.frames, state.time_s = len(proc_index), t
            if on_frame is not None:
                on_frame(idx, t, img)
        return buffer.get(i)

    def newly_final(bound: int | None) -> list[Interval]:
        nonlocal emitted
        ready = final_prefix(spans_all, cfg, rate, bound)
        new = ready[emitted:]
        if not new:
            return []
        emitted = len(ready)
        state.emitted = emitted
        idx, times = np.asarray(proc_index, dtype=int), np.asarray(proc_time, dtype=float)
        res = OFFDResult(cfg, rate, idx, times, np.zeros(0, dtype=bool), np.asarray(score),
                         np.zeros((0, 0), dtype=np.float32), [], new, [])
        return [(iv, float(times[np.searchsorted(idx, iv.onset)]), float(times[np.searchsorted(idx, iv.offset)]))
                for iv in spans_to_intervals(res, fps)]

    start = 0
    near = None
    try:
        while True:
            ref = fetch(start)
            if ref is None:
                break
            track = tracker.start(ref, near=near)
            if track is None:
                state.face = "lost" if state.face == "found" else state.face
                for k in [k for k in buffer if k < start + check_every]:
                    del buffer[k]
                start += check_every
                yield newly_final(start)
                continue
            near = track.box_center
            state.face = "found"
            sig = [np.zeros(len(track.layout.channels))]
            end = start + 1
            while end < start + W:
                img = fetch(end)
                if img is None:
                    break
                if (end - start) % check_every == 0 and not tracker.still_there(track, img):
                    state.face = "lost"
                    break
                sig.append(tracker.measure(track, img))
                end += 1
            length = end - start
            signals = np.stack(sig, axis=1)
            groups = [c.group for c in track.layout.channels]
            spans, _, sc = analyse_window(signals, groups, cfg, rate)
            state.windows += 1
            for j in range(length):
                score[start + j] = max(score[start + j], float(sc[j]))
            spans_all.extend((start + a, start + b) for a, b in spans)
            if end >= len(proc_index) and exhausted:
                break
            if length < W:
                nxt = end if end > start else start + 1
            else:
                nxt = start + min(next_hop(spans, length, hop_default), length - 1)
            for k in [k for k in buffer if k < nxt]:
                del buffer[k]
            start = nxt
            yield newly_final(start)
        yield newly_final(None)
    finally:
        if tracker.pool is not None:
            tracker.pool.shutdown(wait=False)


class FrameRing:
    """The last ``seconds`` of processed grey frames by original index (for recognising onset/apex)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.frames: OrderedDict[int, tuple[float, np.ndarray]] = OrderedDict()

    def add(self, index: int, t: float, img: np.ndarray) -> None:
        self.frames[index] = (t, img)
        while self.frames and t - next(iter(self.frames.values()))[0] > self.seconds:
            self.frames.popitem(last=False)

    def get(self, index: int) -> np.ndarray | None:
        item = self.frames.get(index)
        return None if item is None else item[1]


def recognise_interval(iv: Interval, ring: FrameRing, det: LandmarkDetector,
                       weights=None) -> tuple[str, dict[str, float]]:
    """Emotion of one interval from its onset and apex frames, aligned as ``analyze`` aligns them."""
    from microexp.face.align import similarity_align
    from microexp.pipeline import RECOG_CROP
    from microexp.recognition.api import recognize

    on, ap = ring.get(iv.onset), ring.get(iv.apex)
    found = None if on is None or ap is None else det.find(on)
    if found is None:
        return "unknown", {}
    lm = found[1]
    crops = [similarity_align(img, lm, RECOG_CROP)[0] for img in (on, ap)]
    rec = recognize(crops[0], crops[1], weights=weights)
    return rec.emotion, rec.probabilities


def _config(preset: str, config: OFFDConfig | None, overrides: dict) -> OFFDConfig:
    cfg = config or get_preset(preset)
    return with_overrides(cfg, **overrides) if overrides else cfg


def watch_detections(source, *, fps: float | None = None, preset: str = "default",
                     config: OFFDConfig | None = None, realtime: bool = False, recognize: bool = False,
                     recognizer_weights=None, live_options: dict | None = None,
                     on_status: Callable[[StreamState, object], None] | None = None,
                     **overrides) -> Iterator[Detection]:
    """Open SOURCE (see ``microexp.io.live``) and yield a ``Detection`` per interval as soon as it is final.

    ``on_status(state, live_source)`` is called after every processed frame (keep it cheap). Closing the
    generator stops the reader; a lost stream ends it after the intervals found so far.
    """
    from microexp.io.live import LiveSource

    cfg = _config(preset, config, overrides)
    src = source if isinstance(source, LiveSource) else LiveSource(
        source, fps=fps, realtime=realtime, **(live_options or {}))
    paced = src.realtime or src.spec.kind in ("camera", "device", "url")
    state = StreamState()
    ring = FrameRing(2 * cfg.window_s + 1.0) if recognize else None
    det = LandmarkDetector()
    rec_det = None
    if recognize:  # load the recogniser before the first frame, not when the first interval is found
        from microexp.recognition.weights import load_default

        load_default(recognizer_weights)
        rec_det = LandmarkDetector()
    wall0: list[float] = []

    def on_frame(idx: int, t: float, img: np.ndarray) -> None:
        if not wall0:
            wall0.append(time.monotonic() - t)
        if ring is not None:
            ring.add(idx, t, img)
        if on_status is not None:
            on_status(state, src)

    def now_s() -> float:
        t = state.time_s
        if paced and wall0:
            t = max(t, time.monotonic() - wall0[0])
        return t

    try:
        for batch in offd_windows(src.frames(), src.fps, cfg, det, state, on_frame):
            for iv, onset_s, offset_s in batch:
                d = Detection(src.name, iv, onset_s, offset_s, now_s())
                if ring is not None:
                    d.emotion, d.probabilities = recognise_interval(iv, ring, rec_det, recognizer_weights)
                yield d
    finally:
        src.close()
        if on_status is not None:
            on_status(state, src)


def watch(source, **options) -> Iterator[Interval]:
    """Spot expressions in a live source; yields each ``Interval`` as soon as it is final (stop any time)."""
    for d in watch_detections(source, **options):
        yield d.interval
