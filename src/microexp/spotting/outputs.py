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
               threshold: float | None = 1.0, truth=None) -> Path:
    """The score curve with ME (orange) / MaE (blue) intervals shaded and no-face stretches hatched grey.

    With ``truth`` (a ``microexp.report.truth.TruthComparison``) a timeline below the curve shows the
    ground truth and the detections per type, coloured hit / miss / false alarm as the scorer matched them.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if truth is None:
        fig = Figure(figsize=(11, 3.2), dpi=110)  # object API: no global backend or pyplot state
        ax = fig.subplots()
    else:
        fig = Figure(figsize=(11, 4.9), dpi=110)
        ax, lanes = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.9]})
    ax.plot(time, score, lw=0.9, color="#222", label="spotting score")
    if threshold is not None:
        ax.axhline(threshold, color="#999", ls="--", lw=0.8, label="threshold")
    for iv in intervals:
        t0, t1 = _span(iv.onset, iv.offset, frame_times)
        ax.axvspan(t0, t1, color="#f28e2b" if iv.kind == "me" else "#4e79a7", alpha=0.3, lw=0)
    if face is not None and (~face).any():
        ymax = float(np.nanmax(score)) if score.size and np.isfinite(score).any() else 1.0
        ax.fill_between(time, 0, ymax, where=~face, color="#bbb", alpha=0.35, step="mid", label="no face")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="#f28e2b", alpha=0.3, label="micro (ME)"), Patch(color="#4e79a7", alpha=0.3,
                                                                             label="macro (MaE)")]
    if truth is None:
        ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=5)
    else:  # beside the plot, above the truth legend: nothing covers the curve
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_ylabel("score (× threshold)")
    ax.set_title(title, fontsize=9)
    ax.margins(x=0)
    if truth is not None:
        _truth_lanes(lanes, truth, frame_times)
        lanes.set_xlabel("time (s)")
        if len(time):
            ax.set_xlim(float(np.nanmin(time)), float(np.nanmax(time)))
    else:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    return write_with(path, lambda tmp: fig.savefig(tmp, format="png"))


def _span(onset: int, offset: int, frame_times: np.ndarray) -> tuple[float, float]:
    """Seconds covered by frames onset..offset (inclusive; clamped to the video)."""
    last = len(frame_times) - 1
    t0 = frame_times[max(0, min(onset, last))]
    t1 = frame_times[max(0, min(offset, last))]
    step = float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else 0.0
    return float(t0), float(t1) + step  # the offset frame lasts one frame


def _truth_lanes(ax, truth, frame_times: np.ndarray) -> None:
    """Four lanes: truth ME, truth MaE, detected ME, detected MaE; bars coloured by the scorer's verdict."""
    from matplotlib.patches import Patch

    from microexp.report.truth import FALSE_ALARM, HIT, MISS, STATUS_COLOURS

    lanes = [("truth", "me"), ("truth", "mae"), ("spotted", "me"), ("spotted", "mae")]
    for row, (side, kind) in enumerate(lanes):
        y = len(lanes) - 1 - row
        marks = truth.truth if side == "truth" else truth.detections
        for m in marks:
            if m.kind != kind:
                continue
            t0, t1 = _span(m.onset, m.offset, frame_times)
            ax.broken_barh([(t0, t1 - t0)], (y - 0.38, 0.76), facecolors=STATUS_COLOURS[m.status],
                           edgecolors="#333", linewidth=0.5)
    ax.axhline(1.5, color="#bbb", lw=0.8)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels([f"{side} {'ME' if kind == 'me' else 'MaE'}" for side, kind in reversed(lanes)],
                       fontsize=8)
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    c = truth.counts()
    handles = [Patch(facecolor=STATUS_COLOURS[HIT], edgecolor="#333", label=f"hit ({c['hits']} of {len(truth.truth)} found)"),
               Patch(facecolor=STATUS_COLOURS[MISS], edgecolor="#333", label=f"miss ({c['misses']} not found)"),
               Patch(facecolor=STATUS_COLOURS[FALSE_ALARM], edgecolor="#333",
                     label=f"false alarm ({c['false_alarms']} of {len(truth.detections)} spotted)")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
              title=f"IoU ≥ {truth.report.settings.iou_threshold:g}", title_fontsize=7)
    ax.grid(axis="x", color="#eee", lw=0.6)
    ax.set_axisbelow(True)


def write_trace_scores(path: str | Path, result) -> Path:
    """``scores.npz`` of a ``SpotResult``: the per-processed-frame trace and the rates."""
    t = result.trace
    return write_scores(path, frame=t.index, time=t.time, score=t.score, face=t.face, displacement=t.values,
                        channels=np.array(t.channels), rate=np.float64(t.rate), fps=np.float64(result.info.fps))


def write_spot_outputs(result, out_dir: str | Path, video_name: str | None = None,
                       truth=None) -> dict[str, Path]:
    """Write the three spot outputs for a ``SpotResult`` (``truth``: drawn in spot.png); returns their paths."""
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
                           title=f"{name} — {label} ({len(result.intervals)} intervals)", truth=truth),
    }
