"""OF-FD as a stream: frames are pushed one at a time, final intervals come out as soon as they are certain.

Three parts: a ``Resampler`` (constant working rate by timestamps), a ``FrameBuffer`` (the processed frames a
window may still need) and ``OFFDStream`` (the window loop: reference frame, per-frame measurement, window
analysis, adaptive hop). ``run_offd`` is a loop over ``OFFDStream``.

When is an interval final? Every later window starts at or after the next window's start ``nxt`` and its
intervals begin at ``nxt + 1`` or later (the first sample of a window is its reference). ``finalize`` merges
only intervals that intersect, and a merge only extends an interval towards later frames, so an interval of
``finalize(all intervals so far)`` that ends before ``nxt`` can never change again; echo suppression looks
only at earlier kept intervals, so the final ones are the longest *prefix* of that sorted list whose
intervals all end before ``nxt``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from microexp.errors import ConfigError
from microexp.face.landmarks import LandmarkDetector
from microexp.face.track import FaceTrack, FaceTrackBuilder
from microexp.io.spill import SpillStore
from microexp.io.video import Frame
from microexp.records import Interval
from microexp.spotting.offd_config import OFFDConfig
from microexp.spotting.offd_lag import LagReference, covering, lag_frames, open_spans, split_at_pauses
from microexp.spotting.offd_signal import analyse_window, echo_stage, merge_stage
from microexp.spotting.offd_track import Track, WindowTracker

Span = tuple[int, int]


@dataclass
class OFFDResult:
    """Everything the spotter measured; ``spans`` are inclusive intervals in *processed* frames."""

    config: OFFDConfig
    rate: float  # processed-frame rate
    proc_index: np.ndarray  # processed frame -> original frame index
    proc_time: np.ndarray  # processed frame -> seconds
    face: np.ndarray  # processed frame -> face found (bool)
    score: np.ndarray  # processed frame -> max normalised prominence over channels (≥ 1 passes T2)
    displacement: np.ndarray  # processed frame × channel, last window's raw displacement (px)
    channel_names: list[str]
    spans: list[Span]
    windows: list[tuple[int, int]]  # (start, length) in processed frames
    kept: dict[int, np.ndarray] = field(default_factory=dict)  # original frame -> image as pushed (keep_frames)
    track: FaceTrack | None = None  # where the face was, per processed frame
    held_peak: int = 0  # the most images kept at any one time (keep_frames): bounded when intervals are handed over
    window_ram_peak: int = 0  # the most bytes of window frames held in memory at once (``FRAME_RAM_BYTES``)
    window_disk_peak: int = 0  # the most bytes of window frames waiting in the temporary file at once
    open_ends: set[int] = field(default_factory=set)  # last frames of open window-level spans (offd_lag)
    lagged: list[int] = field(default_factory=list)  # starts of the windows measured against the lagged reference


def working_rate(fps: float, work_rate_hz: float) -> float:
    stride = max(1, int(round(fps / work_rate_hz)))
    return fps / stride


class Resampler:
    """Constant-rate frames by timestamps (nearest frame to each grid time): handles VFR and strides."""

    def __init__(self, rate: float):
        self.rate = rate
        self.prev: Frame | None = None
        self.k = 0
        self.t0: float | None = None

    def push(self, fr: Frame) -> list[tuple[int, float, np.ndarray]]:
        out = []
        if self.t0 is None:
            self.t0 = fr.time
        t = fr.time - self.t0
        while t >= self.k / self.rate - 1e-9:
            g = self.k / self.rate
            prev = self.prev
            if prev is not None and abs(prev.time - self.t0 - g) < abs(t - g):
                out.append((prev.index, prev.time - self.t0, prev.image))
            else:
                out.append((fr.index, t, fr.image))
            self.k += 1
        self.prev = fr
        return out

    def flush(self) -> list[tuple[int, float, np.ndarray]]:
        """The last frame, when it lies past the last grid point by more than half a step."""
        p = self.prev
        if p is not None and self.k > 0 and p.time - self.t0 > (self.k - 1) / self.rate + 0.5 / self.rate:
            return [(p.index, p.time - self.t0, p.image)]
        return []


def resample_stream(frames: Iterable[Frame], rate: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """``Resampler`` over an iterable: (original index, seconds, image) at ``rate``."""
    rs = Resampler(rate)
    for fr in frames:
        yield from rs.push(fr)
    yield from rs.flush()


# Bytes of frames OF-FD's window holds in memory at most; older ones wait in a temporary file (``io.spill``).
# A window holds ≈220 frames: 480×360 ones (38 MB) nearly fit, of a 1280×720 window (176 MB) 144 MB are on disk.
FRAME_RAM_BYTES = 32 << 20


class FrameBuffer:
    """Processed frames by position: grey images a window may still need, plus every frame's index and time.

    Images live in a ``SpillStore``: at most ``ram_bytes`` of them in memory (None: all), the older ones in a
    temporary file, read back byte for byte. A grey input frame is stored once, as both grey and source image.
    """

    def __init__(self, keep_source: bool = False, ram_bytes: int | None = FRAME_RAM_BYTES):
        self.index: list[int] = []
        self.time: list[float] = []
        self.store = SpillStore(ram_bytes)
        self._gray: dict[int, tuple[int, int]] = {}  # position -> store key
        self._source: dict[int, tuple[int, int]] = {}  # the images as pushed (only with keep_source)
        self.keep_source = keep_source

    def __len__(self) -> int:
        return len(self.index)

    def append(self, index: int, time: float, image: np.ndarray) -> int:
        pos = len(self.index)
        self.index.append(index)
        self.time.append(time)
        if image.ndim == 3:
            self.store[(pos, 0)] = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            if self.keep_source:
                self.store[(pos, 1)] = image
                self._source[pos] = (pos, 1)
        else:
            self.store[(pos, 0)] = image
            if self.keep_source:
                self._source[pos] = (pos, 0)
        self._gray[pos] = (pos, 0)
        return pos

    def get(self, pos: int) -> np.ndarray | None:
        key = self._gray.get(pos)
        return None if key is None else self.store[key]

    def has_source(self, pos: int) -> bool:
        return pos in self._source

    def source(self, pos: int) -> np.ndarray:
        return self.store[self._source[pos]]

    def positions(self) -> list[int]:
        """Positions whose grey frame is held."""
        return sorted(self._gray)

    def drop_before(self, pos: int, source_from: int | None = None) -> None:
        """Forget grey frames before ``pos`` and source images before ``source_from`` (default ``pos``: a
        consumer that reads a lead-in before an interval keeps a short history of source images)."""
        lo = pos if source_from is None else source_from
        gone = [self._gray.pop(k) for k in [k for k in self._gray if k < pos]]
        gone += [self._source.pop(k) for k in [k for k in self._source if k < lo]]
        live = {*self._gray.values(), *self._source.values()}
        for key in set(gone) - live:
            del self.store[key]

    def close(self) -> None:
        self._gray.clear()
        self._source.clear()
        self.store.close()


class Column:
    """One value (or row) per processed frame, in a numpy array that grows by doubling: what OF-FD records per
    frame costs a few bytes each, not a Python object in a dict (~0.3 kB a frame on long videos)."""

    def __init__(self, fill, dtype, width: int | None = None):
        self.fill, self.dtype, self.width = fill, dtype, width
        self.data = np.full((0,) if width is None else (0, width), fill, dtype)
        self.n = 0  # positions 0 … n-1 may hold values; the rest are ``fill``

    def __setitem__(self, pos: int, value) -> None:
        if pos >= len(self.data):
            size = max(pos + 1, 2 * len(self.data), 1024)
            grown = np.full((size,) if self.width is None else (size, self.width), self.fill, self.dtype)
            grown[:len(self.data)] = self.data
            self.data = grown
        self.data[pos] = value
        self.n = max(self.n, pos + 1)

    def __getitem__(self, pos: int):
        return self.data[pos] if pos < self.n else self.fill

    def array(self, n: int) -> np.ndarray:
        """Values of positions 0 … n-1 (a copy)."""
        out = self.data[:min(n, self.n)].copy()
        if out.shape[0] < n:
            pad = np.full((n - out.shape[0],) + out.shape[1:], self.fill, self.dtype)
            out = np.concatenate([out, pad])
        return out


UNSEEN, NO_FACE, FACE = -1, 0, 1  # per processed frame: not measured yet / a check failed / face there


def next_hop(spans: list[Span], length: int, default: int) -> int:
    """Adaptive hop: never start the next window (its reference) inside an expression (spec §3.2)."""
    mid = 0.5 * length
    straddling = [sp for sp in spans if sp[0] < mid < sp[1]]
    if not straddling:
        return default
    on, off = max(straddling, key=lambda sp: sp[1])  # the reference took the last in loop order: use the latest end
    if off < 0.75 * length:
        move = off + 0.1 * length
    elif on > 0.25 * length:
        move = on - 0.1 * length
    else:
        move = min(off, length - 0.055 * length) + 0.05 * length
    return max(1, int(round(move)))


def nearest_positions(index: np.ndarray, frames: Iterable[int]) -> set[int]:
    """Processed positions nearest to the given original frame numbers (``index``: original frame of each
    processed position, increasing): a consumer may name any frame, the stream holds processed ones."""
    frames = np.asarray(sorted({int(f) for f in frames}), dtype=float)
    if index.size == 0 or frames.size == 0:
        return set()
    hi = np.clip(np.searchsorted(index, frames), 0, index.size - 1)
    lo = np.clip(hi - 1, 0, index.size - 1)
    pick = np.where(np.abs(index[lo] - frames) <= np.abs(index[hi] - frames), lo, hi)
    return {int(p) for p in pick}


def span_interval(span: Span, proc_index: np.ndarray, proc_time: np.ndarray, score: np.ndarray,
                  me_mae_split_s: float, open_ends: set[int] | frozenset = frozenset()) -> Interval:
    """Processed-frame span → ``Interval`` in original frames: apex at the score's peak, MaE if longer
    than ``me_mae_split_s`` seconds (spec §3.11.6). A span ending where an open window-level span ended
    (``open_ends``, see ``offd_lag``) is *open*: the expression continues past its offset, so its length is
    not the expression's; it is MaE because its known part already lasts longer than any micro-expression
    (an open span starts in the first quarter of its window: the hop rule)."""
    last = proc_index.size - 1
    on = int(np.clip(span[0], 0, last))
    off = int(np.clip(span[1], on, last))
    seg = score[on:off + 1]
    apex = on + int(np.argmax(seg)) if seg.size else on
    is_open = int(span[1]) in open_ends
    kind = "mae" if is_open or float(proc_time[off] - proc_time[on]) > me_mae_split_s else "me"
    return Interval(int(proc_index[on]), int(proc_index[apex]), int(proc_index[off]), kind,
                    float(seg.max()) if seg.size else 0.0, open=is_open)


def settled(final: list[Span], horizon: int) -> int:
    """How many leading spans of ``finalize``'s sorted output no window starting at ``horizon`` can change."""
    k = 0
    while k < len(final) and final[k][1] < horizon:
        k += 1
    return k


class SpanSettler:
    """Window-level spans in, final spans out, in constant work per window on long videos.

    Settled spans never change again, so the window-level spans inside them are dropped (and those the
    length gates reject are never kept); the rest is finalized after the last settled span (which echo
    suppression looks back at). ``spans()`` always equals ``finalize(all spans added)`` (tested on random
    windows). Echo-suppressed spans stay in the working set.
    """

    def __init__(self, cfg: OFFDConfig, rate: float, peak: Callable[[Span], float] | None = None,
                 exempt: Callable[[Span], bool] | None = None):
        self.cfg, self.rate, self.peak, self.exempt = cfg, rate, peak, exempt
        self.raw: list[Span] = []
        self.final: list[Span] = []

    def add(self, spans: list[Span]) -> None:
        """Window-level spans; those the length gates drop are never kept (the gates come first)."""
        lo = self.cfg.frames(self.cfg.min_len_s, self.rate)
        hi = self.cfg.frames(self.cfg.max_len_s, self.rate) if self.cfg.max_len_s else None
        self.raw.extend(sp for sp in spans if sp[1] - sp[0] >= lo and (hi is None or sp[1] - sp[0] <= hi))

    def _tail(self) -> tuple[list[Span], list[Span]]:
        merged = merge_stage(self.raw, self.cfg, self.rate)
        return merged, echo_stage(merged, self.cfg, self.rate, self.final[-1] if self.final else None, self.peak,
                                  self.exempt)

    def settle(self, horizon: int | None) -> list[Span]:
        """Spans that became final now that no later window starts before ``horizon`` (None: end of video)."""
        merged, tail = self._tail()
        if horizon is None:
            self.final += tail
            self.raw = []
            return tail
        k = settled(tail, horizon)
        new = tail[:k]
        self.final += new
        # merged spans sorted before the first unsettled one and ending before the horizon are final or
        # echo-dropped for good: nothing later can merge with them or change their echo decision
        first = tail[k] if k < len(tail) else None
        dead = [m for m in merged if m[1] < horizon and (first is None or m < first)]
        self.raw = [r for r in self.raw if not any(a <= r[0] and r[1] <= b for a, b in dead)]
        return new

    def spans(self) -> list[Span]:
        return self.final + self._tail()[1]


@dataclass
class _Window:
    start: int
    track: Track
    signals: list  # per frame: values, or a call that returns them (flows still running)
    end: int  # next processed position to measure
    lag: LagReference | None = None  # measuring t against t − k (after an open interval; offd_lag)


class OFFDStream:
    """Incremental OF-FD: ``push`` frames (``Frame`` records, grey or BGR), get final spans back.

    ``push(frame)`` and ``close()`` return the spans (processed frames, inclusive) that became final;
    ``result()`` after ``close()`` gives the full ``OFFDResult`` (the same as ``run_offd``). With
    ``keep_frames=True`` the image of every processed frame inside a window-level detection is kept as
    pushed, so every final interval's frames are in ``OFFDResult.kept`` (by original frame index), and so are
    the frames up to ``keep_before_s`` before each (a consumer that reads the face before the onset, e.g. the
    macro-expression reader, needs no second decoding pass), and up to ``keep_after_s`` after each.

    ``on_ready(span, interval, frames, track, grid)``, when given, receives each final interval, in order, once
    neither its kept frames (``frames``: original frame -> image) nor the face track around them can change
    (a window has opened after the last frame it wants, or the video ended); ``track`` is the ``FaceTrack`` so
    far and ``grid`` the original frame of every processed frame so far. Its frames are dropped right after,
    so a consumer that reads each interval there (``analyze``, ``watch --recognize``) holds the frames of the
    few intervals in flight, not of the whole video (``held_peak`` counts them).
    Memory: one window of grey frames, of which at most ``frame_ram_bytes`` in memory (None: all) and the rest
    in a temporary file (``FrameBuffer``; the same bytes come back, so results do not depend on it), plus the
    kept images.
    """

    def __init__(self, fps: float, cfg: OFFDConfig | None = None, detector: LandmarkDetector | None = None,
                 keep_frames: bool = False, progress: Callable[[int, int | None], None] | None = None,
                 total_frames: int | None = None, keep_before_s: float = 0.0,
                 keep_filter: Callable[[Interval], Iterable[int]] | None = None, keep_after_s: float = 0.0,
                 on_ready: Callable[[Span, Interval, dict, FaceTrack, np.ndarray], None] | None = None,
                 frame_ram_bytes: int | None = FRAME_RAM_BYTES):
        self.cfg = cfg = cfg or OFFDConfig()
        if cfg.reference not in ("window_first", "lag") or cfg.after_open not in ("window_first", "lag"):
            raise ConfigError(f"OF-FD reference {cfg.reference!r} / after_open {cfg.after_open!r}: "
                              "choose window_first or lag")
        self.tracker = WindowTracker(cfg, detector or LandmarkDetector())
        self.rate = working_rate(fps, cfg.work_rate_hz)
        self.W = cfg.frames(cfg.window_s, self.rate)
        self.hop = cfg.frames(cfg.hop_s, self.rate)
        self.check_every = cfg.frames(cfg.face_check_s, self.rate)
        self.keep_frames = keep_frames
        self.keep_before = int(round(max(0.0, keep_before_s) * self.rate))
        self.keep_after = int(np.ceil(max(0.0, keep_after_s) * self.rate)) + (1 if keep_after_s > 0 else 0)
        self.keep_filter = keep_filter  # once an interval is final, only the original frames it names are kept
        self.on_ready = on_ready
        self.waiting: list[Span] = []  # final spans not handed to on_ready yet
        self.handed: set[Span] = set()  # final spans handed over (their frames are gone)
        self.tails: list[Span] = []  # window-level spans whose frames after the end are still arriving
        self.last_open = -1  # processed position of the newest window's reference frame
        self.held_peak = 0
        self.progress, self.total = progress, total_frames
        self.resampler = Resampler(self.rate)
        self.buf = FrameBuffer(keep_source=keep_frames, ram_bytes=frame_ram_bytes)
        self.faces = FaceTrackBuilder()
        self.face = Column(UNSEEN, np.int8)
        self.score = Column(0.0, np.float64)  # max over the windows that measured a frame
        self.disp: Column | None = None  # the last window's raw displacement per frame (float32 × channels)
        self.windows: list[tuple[int, int]] = []
        self.lag_k = lag_frames(cfg, self.rate)
        self.lag_next = cfg.reference == "lag"  # the next window measures against the lagged reference
        self.lagged: list[int] = []
        self.open_ends: set[int] = set()
        self.lag_onsets: set[int] = set()  # onsets of spans found against the lagged reference: never echoes
        self.settler = SpanSettler(cfg, self.rate, self._peak if cfg.echo_keeps_stronger else None,
                                   lambda sp: sp[0] in self.lag_onsets)
        self.channel_names: list[str] = []
        self.kept: dict[int, np.ndarray] = {}  # processed position -> image
        self.start = 0
        self.near: tuple[float, float] | None = None
        self.win: _Window | None = None
        self.exhausted = False
        self.done = False

    # -- input -----------------------------------------------------------------------------------------

    def push(self, frame: Frame) -> list[Span]:
        """Add one decoded frame; returns the spans that became final."""
        for idx, t, img in self.resampler.push(frame):
            self._keep_tail(self.buf.append(idx, t, img), img)
            if self.progress:
                self.progress(idx + 1, self.total)
        out = self._advance()
        self._hand_over(final=False)
        return out

    def close(self) -> list[Span]:
        """End of the video: analyse the last (short) window; returns the remaining final spans."""
        if not self.exhausted:
            for idx, t, img in self.resampler.flush():
                self._keep_tail(self.buf.append(idx, t, img), img)
                if self.progress:
                    self.progress(idx + 1, self.total)
            self.exhausted = True
            self._advance()
            if self.tracker.pool is not None:
                self.tracker.pool.shutdown(wait=False)
        out = self._emit(None)
        self._hand_over(final=True)
        self.buf.close()  # no window reads a frame after the end (the kept images are held apart)
        return out

    # -- the window loop -------------------------------------------------------------------------------

    def _advance(self) -> list[Span]:
        out: list[Span] = []
        while not self.done:
            if self.win is None and not self._open_window(out):
                break
            if not self._extend():
                break  # waiting for frames
            out += self._close_window()
        return out

    def _open_window(self, out: list[Span]) -> bool:
        """Find the face on the candidate reference frame; skip ahead one check interval when absent."""
        while True:
            ref = self.buf.get(self.start)
            if ref is None:
                if self.exhausted:
                    self.done = True
                return False
            track = self.tracker.start(ref, near=self.near)
            if track is not None:
                break
            # No face on this candidate reference: the skipped frames are marked "no face", never guessed.
            for k in range(self.start, self.start + self.check_every):
                self.face[k] = NO_FACE
            self.start += self.check_every
            self.buf.drop_before(self.start, self.start - self.keep_before)
            out += self._emit(self.start)
        self.last_open = self.start
        self.near = track.box.center
        if not self.channel_names:
            self.channel_names = [c.name for c in track.layout.channels]
        self.face[self.start] = FACE
        self.faces.add(self.start, track.box, track.M0, track.landmarks)
        lag = LagReference(self.lag_k) if self.lag_next else None
        if lag is not None:
            self.lagged.append(self.start)
        self.win = _Window(self.start, track, [np.zeros(len(track.layout.channels))], self.start + 1, lag)
        return True

    def _extend(self) -> bool:
        """Measure the window's frames as they arrive; True when the window is complete (or cut)."""
        w = self.win
        while w.end < w.start + self.W:
            img = self.buf.get(w.end)
            if img is None:
                return self.exhausted
            if (w.end - w.start) % self.check_every == 0:
                box = self.tracker.still_there(w.track, img)
                if box is None:
                    self.face[w.end] = NO_FACE
                    return True  # tracking lost: cut the window; the next one re-detects from here
                self.faces.add(w.end, box)
            if self.face[w.end] == UNSEEN:
                self.face[w.end] = FACE
            measure = w.lag.measure_async(self.tracker, w.track, img) if w.lag else \
                self.tracker.measure_async(w.track, img)
            w.signals.append(measure)  # resolved when the window closes
            self.faces.add(w.end, transform=w.track.M)
            w.end += 1
        return True

    def _close_window(self) -> list[Span]:
        """Analyse the finished window, record its curves and spans, choose the next reference."""
        w, cfg = self.win, self.cfg
        self.win = None
        start, end = w.start, w.end
        length = end - start
        signals = np.stack([v() if callable(v) else v for v in w.signals], axis=1)
        groups = [c.group for c in w.track.layout.channels]
        spans, _, sc = analyse_window(signals, groups, cfg, self.rate)
        if w.lag is not None and cfg.lag_split:
            spans = split_at_pauses(spans, sc, cfg, self.rate)
        self.windows.append((start, length))
        for j in range(length):
            self.score[start + j] = max(float(self.score[start + j]), float(sc[j]))
        if self.disp is None:
            self.disp = Column(np.nan, np.float32, signals.shape[0])
        for j in range(length):  # a window with other channels leaves no values (as the first window's layout)
            self.disp[start + j] = signals[:, j] if signals.shape[0] == self.disp.width else np.nan
        absolute = [(start + a, start + b) for a, b in spans]
        if w.lag is not None:
            self.lag_onsets |= {a for a, _ in absolute}
        self.settler.add(absolute)
        if self.keep_frames:
            for a, b in absolute:
                for k in range(max(0, a - self.keep_before), b + 1 + self.keep_after):
                    if k not in self.kept and self.buf.has_source(k):
                        self.kept[k] = self.buf.source(k)
                if b + self.keep_after >= len(self.buf):
                    self.tails.append((a, b))  # its last frames are still to come
        if end >= len(self.buf) and self.exhausted:
            self.done = True
            return []
        if length < self.W:  # cut by a lost face: restart at the failing frame
            nxt = end if end > start else start + 1
            opened = []
        else:
            nxt = start + min(next_hop(spans, length, self.hop), length - 1)
            opened = open_spans(spans, length, nxt - start)
        self.open_ends |= {start + b for _, b in opened}
        # a lagged window goes on while the next reference lies inside one of its changes (not quiet yet)
        busy = bool(opened) or (w.lag is not None and length == self.W and bool(covering(spans, nxt - start)))
        self.lag_next = cfg.reference == "lag" or (cfg.after_open == "lag" and busy)
        self.buf.drop_before(nxt, nxt - self.keep_before)
        self.start = nxt
        return self._emit(nxt)

    # -- output ----------------------------------------------------------------------------------------

    def _peak(self, span: Span) -> float:
        """Largest score inside a span (final for the frames of a span that is being settled)."""
        seg = self.score.array(span[1] + 1)[span[0]:]
        return float(seg.max()) if seg.size else 0.0

    def _emit(self, horizon: int | None) -> list[Span]:
        """Spans that no later window can change (all remaining ones when ``horizon`` is None)."""
        new = self.settler.settle(horizon)
        if self.keep_frames and horizon is not None:
            spans = self._in_flight()  # settled and unsettled: an unsettled span needs its frames too
            reach = [self._reach(sp) for sp in spans]
            for pos in [p for p in self.kept if p < horizon]:
                if not any(a <= pos <= b for a, b in reach):
                    del self.kept[pos]  # before the horizon and in no span: never needed
        if self.keep_frames and self.keep_filter is not None and new:
            self._keep_only_wanted(new)
        if self.on_ready is not None:
            self.waiting += new
        return new

    def _reach(self, span: Span) -> tuple[int, int]:
        """Processed positions whose images a span may need: its lead-in, itself, its frames after."""
        return span[0] - self.keep_before, span[1] + self.keep_after

    def _keep_tail(self, pos: int, image: np.ndarray) -> None:
        """A frame arriving after a window closed, within ``keep_after`` of one of its spans: keep it too."""
        if not self.tails:
            return
        self.tails = [sp for sp in self.tails if sp[1] + self.keep_after >= pos]
        if any(sp[1] < pos for sp in self.tails):
            self.kept.setdefault(pos, image)

    def _hand_over(self, final: bool) -> None:
        """Each waiting final interval, in order, to ``on_ready`` once its frames and the face track around them
        are final (``final``: the video ended), then its frames are dropped."""
        self.held_peak = max(self.held_peak, len(self.kept))
        if self.on_ready is None or not self.waiting:
            return
        index = np.asarray(self.buf.index)
        track = None
        while self.waiting:
            span = self.waiting[0]
            iv = self.interval(span)
            want = nearest_positions(index, self.keep_filter(iv)) if self.keep_filter is not None else set()
            # positions before the newest reference are final: its window holds landmarks and a box nearer to
            # any later frame than those to come, and every grid neighbour of the wanted frames exists
            if not final and max(want | {span[1]}) >= self.last_open:
                break
            if track is None:
                track = self._track()
            lo, hi = self._reach(span)
            frames = {int(index[p]): img for p, img in sorted(self.kept.items()) if lo <= p <= hi}
            self.on_ready(span, iv, frames, track, index)
            self.waiting.pop(0)
            self.handed.add(tuple(span))
            self._release(span)

    def _release(self, span: Span) -> None:
        """Drop a handed-over interval's frames, except those another interval still in flight may need."""
        lo, hi = self._reach(span)
        others = [self._reach(sp) for sp in self._in_flight()]
        for pos in [p for p in self.kept if lo <= p <= hi]:
            if not any(a <= pos <= b for a, b in others):
                del self.kept[pos]
        self.tails = [sp for sp in self.tails if not (span[0] <= sp[0] and sp[1] <= span[1])]

    def _in_flight(self) -> list[Span]:
        """Spans whose frames may still be read: final ones not handed over yet, unsettled ones, and the
        window-level spans not settled yet (one that echo suppression drops now may be kept once it grows)."""
        spans = [sp for sp in self.settler.spans() if tuple(sp) not in self.handed]
        return spans + [sp for sp in self.settler.raw if tuple(sp) not in self.handed]

    def _found(self, n: int) -> np.ndarray:
        """Face found per processed frame (frames inside analysed windows count unless a check failed)."""
        state = self.face.array(n)
        inside = np.zeros(n, dtype=bool)
        for s0, ln in self.windows:
            inside[s0:s0 + ln] = True
        return np.where(inside, state != NO_FACE, state == FACE)

    def _track(self) -> FaceTrack:
        n = len(self.buf)
        return self.faces.build(np.asarray(self.buf.index, dtype=int), np.asarray(self.buf.time), self._found(n))

    def _keep_only_wanted(self, new: list[Span]) -> None:
        """Memory stays flat in video length: a final interval keeps only the frames its consumer names (e.g.
        onset/apex/offset), unless a frame also lies in another span (with its lead-in). Intervals final at the
        same time spare each other's frames (one's onset can lie in the frames after the previous one)."""
        fresh = {tuple(sp) for sp in new}
        others = [self._reach(sp) for sp in self._in_flight() if tuple(sp) not in fresh]
        index = np.asarray(self.buf.index)
        want: set[int] = set()
        for span in new:
            want |= nearest_positions(index, self.keep_filter(self.interval(span)))
        for span in new:
            a, b = self._reach(span)
            for pos in [p for p in self.kept if a <= p <= b]:
                if pos in want or any(c <= pos <= d for c, d in others):
                    continue
                del self.kept[pos]

    def interval(self, span: Span) -> Interval:
        """A final span as an ``Interval`` in original frames (the score of a final span's frames is final)."""
        n = len(self.buf)
        score = self.score.array(min(n, span[1] + 1))
        return span_interval(span, np.asarray(self.buf.index), np.asarray(self.buf.time), score,
                             self.cfg.me_mae_split_s, self.open_ends)

    def result(self) -> OFFDResult:
        """Everything measured so far (call after ``close()`` for the whole video)."""
        n = len(self.buf)
        face = self._found(n)
        nch = len(self.channel_names)
        disp = self.disp.array(n) if self.disp is not None else np.full((n, nch), np.nan, dtype=np.float32)
        spans = self.settler.spans()
        index = np.asarray(self.buf.index, dtype=int)
        kept = {}
        if self.keep_frames:
            reach = [self._reach(sp) for sp in self._in_flight()]
            kept = {int(index[p]): img for p, img in self.kept.items() if any(a <= p <= b for a, b in reach)}
        return OFFDResult(self.cfg, self.rate, index, np.asarray(self.buf.time, dtype=float), face,
                          self.score.array(n), disp, self.channel_names, spans,
                          list(self.windows), kept, self.faces.build(index, np.asarray(self.buf.time), face),
                          self.held_peak, self.buf.store.ram_peak, self.buf.store.disk_peak,
                          set(self.open_ends), list(self.lagged))
