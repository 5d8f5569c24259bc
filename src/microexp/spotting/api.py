"""``microexp.spot``: a video or frame folder in, typed intervals out, with any registered spotter.

``SpotResult`` is the one result type of every spotter: intervals in original 0-based frames, the video's
info, the spotter's name and settings, and a per-processed-frame trace (score scaled so the threshold is 1,
face found or not, per-channel values) for plots, reports and ``analyze``. The OF-FD registry entry lives
here; the learned spotters' entries live next to their models (``refcnn3d``, ``mesnet``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from microexp.errors import ConfigError, NoFaceError
from microexp.face.track import FaceTrack
from microexp.io.video import VideoInfo, VideoSource, prefetch
from microexp.records import Interval
from microexp.spotting.offd import OFFDConfig, OFFDResult, get_preset, run_offd, with_overrides

Progress = Callable[[int, int | None], None]


@dataclass
class Keep:
    """What a consumer of the spotted intervals (``analyze``) needs kept while spotting.

    ``wanted(interval, fps)``: the original frames it reads for one interval, found within ``before_s`` seconds
    before the interval and ``after_s`` after it. ``use(interval, frames, track, grid, fps)``, when given, is
    called for each interval, in order, as soon as it is final (a streaming spotter: OF-FD), after which its
    frames are dropped; a spotter that cannot do that (the learned ones) leaves ``use`` uncalled and returns
    the wanted frames in ``SpotResult.frames``.
    """

    before_s: float
    after_s: float
    wanted: Callable[[Interval, float], Iterable[int]]
    use: Callable[..., None] | None = None


@dataclass
class SpotTrace:
    """What a spotter measured per processed frame (processed = the spotter's working rate)."""

    index: np.ndarray  # (N,) original 0-based frame index
    time: np.ndarray  # (N,) seconds from the first frame
    score: np.ndarray  # (N,) spotting score scaled so that the detection threshold is 1
    face: np.ndarray  # (N,) bool, face found
    values: np.ndarray  # (N, C) per-channel values (OF-FD: ROI displacement px; learned: raw model output)
    channels: list[str]
    rate: float  # processed frames per second


@dataclass
class SpotResult:
    """Intervals in original 0-based frames plus what the spotter measured, for every spotter alike."""

    intervals: list[Interval]
    info: VideoInfo
    spotter: str
    settings: dict
    trace: SpotTrace
    track: FaceTrack | None = None  # where the face was (``landmarks_at(frame)``, ``face_mask(n)``)
    frames: dict[int, np.ndarray] = field(default_factory=dict)  # onset/apex/offset frames kept for ``analyze``
    offd: OFFDResult | None = None  # OF-FD's own record (windows, spans in processed frames)

    @property
    def n_frames(self) -> int:
        idx = self.trace.index
        return int(idx[-1] + 1) if idx.size else 0

    @property
    def face_frames(self) -> int:
        return int(self.face_mask().sum())

    def face_mask(self) -> np.ndarray:
        """Per original frame: True where the face was seen (frames between processed ones take the nearest)."""
        n = self.n_frames
        idx = self.trace.index
        if idx.size == 0:
            return np.zeros(n, dtype=bool)
        pos = np.clip(np.searchsorted(idx, np.arange(n)), 0, idx.size - 1)
        return np.asarray(self.trace.face, bool)[pos]

    def frame_times(self) -> np.ndarray:
        """Seconds of every original frame: processed frames keep their timestamps, the others interpolate."""
        n = self.n_frames
        if self.trace.index.size < 2:
            return np.arange(n) / self.info.fps
        return np.interp(np.arange(n), self.trace.index, self.trace.time)


# ---------------------------------------------------------------------------------------------------------
# The OF-FD registry entry


class OFFDSpotter:
    """Training-free OF-FD (``spotting.offd``); presets and option overrides, no weights."""

    name = "offd"
    config = OFFDConfig
    fit = None

    def from_checkpoint(self, path):
        raise ConfigError(f"offd is training-free and reads no weights (got {path}); choose a learned spotter")

    def spot(self, path: str | Path, weights=None, fps: float | None = None, preset: str = "default",
             progress: Progress | None = None, keep_frames: bool = False, cache_dir=None,
             config: OFFDConfig | None = None, keep: Keep | None = None, **overrides) -> SpotResult:
        """Run OF-FD over the video once; with ``keep_frames`` the frames each interval needs are kept.

        ``keep`` (see ``Keep``; default: the interval's onset/apex/offset): with ``keep.use`` each interval is
        handed over as soon as it is final and its frames are dropped, so ``frames`` of the result stays empty.
        """
        if weights is not None:
            raise ConfigError("--weights applies to learned spotters only (offd is training-free)")
        src = VideoSource(path, fps=fps)
        cfg = config or get_preset(preset)
        if overrides:
            cfg = with_overrides(cfg, **overrides)
        # grey (the decoder's luma) either way, so `spot` and `analyze` measure the very same frames
        fps_in = src.info.fps
        use = None
        if keep is not None and keep.use is not None:
            def use(_span, iv, frames, track, grid):
                keep.use(iv, frames, track, grid, fps_in)
        res = run_offd(prefetch(src.frames(gray=True)), fps_in, cfg, progress=progress,
                       total_frames=src.info.n_frames, keep_frames=keep_frames,
                       keep_before_s=keep.before_s if keep else 0.0, keep_after_s=keep.after_s if keep else 0.0,
                       keep_filter=(lambda iv: keep.wanted(iv, fps_in)) if keep else _three,
                       on_ready=use if keep_frames else None)
        if res.proc_index.size == 0:
            raise NoFaceError("no frames decoded", path)
        if not res.face.any():
            raise NoFaceError("no face found in any frame", path)
        trace = SpotTrace(res.proc_index, res.proc_time, res.score, res.face, res.displacement,
                          list(res.channel_names), float(res.rate))
        settings = {"spotter": self.name, "preset": cfg.name, "fps": float(src.info.fps),
                    "work_rate_hz": round(float(res.rate), 4), **{k: _plain(v) for k, v in overrides.items()}}
        intervals = spans_to_intervals(res, src.info.fps)
        wanted = {i for iv in intervals for i in (keep.wanted(iv, fps_in) if keep else (iv.onset, iv.apex, iv.offset))}
        from microexp.spotting.offd_stream import nearest_positions

        held = {int(res.proc_index[p]) for p in nearest_positions(res.proc_index, wanted)}  # processed frames
        frames = {i: res.kept[i] for i in sorted(held) if i in res.kept}
        res.kept = {}  # the span frames OF-FD kept while streaming: only the wanted ones are needed now
        return SpotResult(intervals, src.info, self.name, settings, trace, track=res.track, frames=frames,
                          offd=res)


def _three(iv: Interval) -> tuple[int, int, int]:
    return iv.onset, iv.apex, iv.offset


def _plain(v):
    return asdict(v) if hasattr(v, "__dataclass_fields__") else v


OFFD = OFFDSpotter()


def spans_to_intervals(res: OFFDResult, fps: float) -> list[Interval]:
    """Processed-frame spans → original-frame ``Interval``s typed ME/MaE by duration in seconds (the stream's
    own conversion, so ``watch`` and the frames kept while streaming agree with ``spot``)."""
    from microexp.spotting.offd_stream import span_interval

    return [span_interval(sp, res.proc_index, res.proc_time, res.score, res.config.me_mae_split_s, res.open_ends)
            for sp in res.spans]


# ---------------------------------------------------------------------------------------------------------
# Library API


def spot_video(path: str | Path, spotter: str = "offd", weights: str | Path | None = None, fps: float | None = None,
               preset: str = "default", progress: Progress | None = None, **options) -> SpotResult:
    """Spot with the named spotter (``offd``, ``refcnn3d``, ``mesnet``); learned spotters need ``weights``."""
    from microexp.spotting.registry import get

    return get(spotter).spot(path, weights=weights, fps=fps, preset=preset, progress=progress, **options)


def spot(path: str | Path, spotter: str = "offd", weights: str | Path | None = None, fps: float | None = None,
         preset: str = "default", **options) -> list[Interval]:
    """Spot expressions; returns inclusive 0-based ``Interval``s in original frame numbers."""
    return spot_video(path, spotter=spotter, weights=weights, fps=fps, preset=preset, **options).intervals
