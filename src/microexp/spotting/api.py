"""``microexp.spot``: a video or frame folder in, typed intervals out (training-free OF-FD by default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microexp.errors import NoFaceError
from microexp.io.video import VideoInfo, VideoSource, prefetch
from microexp.records import Interval
from microexp.spotting.offd import OFFDConfig, OFFDResult, get_preset, run_offd, with_overrides


@dataclass
class SpotResult:
    """Intervals in original 0-based frames plus what the spotter measured (for plots and reports)."""

    intervals: list[Interval]
    info: VideoInfo
    offd: OFFDResult

    @property
    def face_frames(self) -> int:
        return int(self.face_mask().sum())

    def face_mask(self) -> np.ndarray:
        """Per original frame: True where the face was seen (frames between processed ones take the nearest)."""
        n = self.n_frames
        idx = self.offd.proc_index
        if idx.size == 0:
            return np.zeros(n, dtype=bool)
        pos = np.clip(np.searchsorted(idx, np.arange(n)), 0, idx.size - 1)
        return self.offd.face[pos]

    @property
    def n_frames(self) -> int:
        idx = self.offd.proc_index
        return int(idx[-1] + 1) if idx.size else 0


def spot_video(path: str | Path, fps: float | None = None, preset: str = "default",
               config: OFFDConfig | None = None, progress: Callable[[int, int | None], None] | None = None,
               **overrides) -> SpotResult:
    """Run the training-free spotter and map its intervals back to original frames."""
    src = VideoSource(path, fps=fps)
    cfg = config or get_preset(preset)
    if overrides:
        cfg = with_overrides(cfg, **overrides)
    res = run_offd(prefetch(src.frames(gray=True)), src.info.fps, cfg, progress=progress, total_frames=src.info.n_frames)
    if res.proc_index.size == 0:
        raise NoFaceError("no frames decoded", path)
    if not res.face.any():
        raise NoFaceError("no face found in any frame", path)
    intervals = spans_to_intervals(res, src.info.fps)
    return SpotResult(intervals, src.info, res)


def spans_to_intervals(res: OFFDResult, fps: float) -> list[Interval]:
    """Processed-frame spans → original-frame ``Interval``s typed ME/MaE by duration in seconds."""
    out = []
    for on, off in res.spans:
        on = int(np.clip(on, 0, res.proc_index.size - 1))
        off = int(np.clip(off, on, res.proc_index.size - 1))
        seg = res.score[on:off + 1]
        apex = on + int(np.argmax(seg)) if seg.size else on
        dur = float(res.proc_time[off] - res.proc_time[on])
        kind = "mae" if dur > res.config.me_mae_split_s else "me"
        out.append(Interval(int(res.proc_index[on]), int(res.proc_index[apex]), int(res.proc_index[off]), kind,
                            float(seg.max()) if seg.size else 0.0))
    return out


def spot(path: str | Path, fps: float | None = None, preset: str = "default", **options) -> list[Interval]:
    """Spot expressions; returns inclusive 0-based ``Interval``s in original frame numbers."""
    return spot_video(path, fps=fps, preset=preset, **options).intervals
