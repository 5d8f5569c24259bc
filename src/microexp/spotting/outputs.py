"""Files a spotting run leaves behind: ``intervals.csv``, ``scores.npz`` and ``spot.png`` (all atomic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from microexp.io.atomic import write_with
from microexp.records import Interval

INTERVAL_COLUMNS = ["video", "onset", "offset", "type", "apex", "score", "onset_s", "offset_s"]


def intervals_frame(intervals: list[Interval], video: str, times: np.ndarray | None = None,
                    fps: float | None = None) -> pd.DataFrame:
    """MEGC columns ``video,onset,offset,type`` plus ``apex,score`` and seconds (from timestamps when known)."""
    rows = []
    for iv in intervals:
        t_on = _time(iv.onset, times, fps)
        t_off = _time(iv.offset, times, fps)
        rows.append({"video": video, "onset": iv.onset, "offset": iv.offset, "type": iv.kind, "apex": iv.apex,
                     "score": round(float(iv.score), 4), "onset_s": t_on, "offset_s": t_off})
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)


def _time(frame: int, times: np.ndarray | None, fps: float | None) -> float:
    if times is not None and 0 <= frame < len(times):
        return round(float(times[frame]), 4)
    return round(frame / fps, 4) if fps else float("nan")


def write_intervals(df: pd.DataFrame, path: str | Path) -> Path:
    return write_with(path, lambda tmp: df.to_csv(tmp, index=False))


def write_scores(path: str | Path, **arrays) -> Path:
    def _save(tmp: Path):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})

    return write_with(path, _save)


def plot_curve(path: str | Path, time: np.ndarray, score: np.ndarray, intervals: list[Interval],
               frame_times: np.ndarray, face: np.ndarray | None = None, title: str = "",
               threshold: float | None = 1.0) -> Path:
    """The score curve with ME (orange) / MaE (blue) intervals shaded and no-face stretches hatched grey."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(11, 3.2), dpi=110)  # object API: no global backend or pyplot state
    ax = fig.subplots()
    ax.plot(time, score, lw=0.9, color="#222", label="spotting score")
    if threshold is not None:
        ax.axhline(threshold, color="#999", ls="--", lw=0.8, label="threshold")
    for iv in intervals:
        t0 = frame_times[min(iv.onset, len(frame_times) - 1)]
        t1 = frame_times[min(iv.offset, len(frame_times) - 1)]
        ax.axvspan(t0, t1, color="#f28e2b" if iv.kind == "me" else "#4e79a7", alpha=0.3, lw=0)
    if face is not None and (~face).any():
        ymax = float(np.nanmax(score)) if score.size and np.isfinite(score).any() else 1.0
        ax.fill_between(time, 0, ymax, where=~face, color="#bbb", alpha=0.35, step="mid", label="no face")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="#f28e2b", alpha=0.3, label="micro (ME)"), Patch(color="#4e79a7", alpha=0.3,
                                                                             label="macro (MaE)")]
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score (× threshold)")
    ax.set_title(title, fontsize=9)
    ax.margins(x=0)
    fig.tight_layout()
    return write_with(path, lambda tmp: fig.savefig(tmp, format="png"))


def write_trace_scores(path: str | Path, result) -> Path:
    """``scores.npz`` of a ``SpotResult``: the per-processed-frame trace and the rates."""
    t = result.trace
    return write_scores(path, frame=t.index, time=t.time, score=t.score, face=t.face, displacement=t.values,
                        channels=np.array(t.channels), rate=np.float64(t.rate), fps=np.float64(result.info.fps))


def write_spot_outputs(result, out_dir: str | Path, video_name: str | None = None) -> dict[str, Path]:
    """Write the three spot outputs for a ``SpotResult``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = video_name or Path(result.info.path).stem
    frame_times = result.frame_times()
    df = intervals_frame(result.intervals, name, frame_times, result.info.fps)
    t = result.trace
    label = result.settings.get("preset", result.spotter)
    return {
        "intervals": write_intervals(df, out / "intervals.csv"),
        "scores": write_trace_scores(out / "scores.npz", result),
        "plot": plot_curve(out / "spot.png", t.time, t.score, result.intervals, frame_times, t.face,
                           title=f"{name} — {label} ({len(result.intervals)} intervals)"),
    }
