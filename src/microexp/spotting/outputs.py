"""Files a spotting run leaves behind: ``intervals.csv``, ``scores.npz`` and ``spot.png`` (all atomic)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from microexp.io.atomic import write_with
from microexp.records import Interval
from microexp.report.plots import plot_curve

INTERVAL_COLUMNS = ["video", "onset", "offset", "type", "apex", "score", "onset_s", "offset_s", "open"]


def interval_rows(intervals: list[Interval], video: str, times: np.ndarray | None = None,
                  fps: float | None = None) -> list[dict]:
    """MEGC columns ``video,onset,offset,type`` plus ``apex,score``, seconds (from timestamps when known) and
    ``open`` (the expression continues past ``offset``: OF-FD's reference was not neutral, docs/spotting.md)."""
    rows = []
    for iv in intervals:
        t_on = _time(iv.onset, times, fps)
        t_off = _time(iv.offset, times, fps)
        rows.append({"video": video, "onset": iv.onset, "offset": iv.offset, "type": iv.kind, "apex": iv.apex,
                     "score": round(float(iv.score), 4), "onset_s": t_on, "offset_s": t_off,
                     "open": bool(iv.open)})
    return rows


def _time(frame: int, times: np.ndarray | None, fps: float | None) -> float:
    if times is not None and 0 <= frame < len(times):
        return round(float(times[frame]), 4)
    return round(frame / fps, 4) if fps else float("nan")


def write_intervals(rows: list[dict], path: str | Path) -> Path:
    """``intervals.csv`` with the csv module (pandas' layout: a NaN is an empty field; pandas costs ~0.2 s to
    import at every ``microexp spot``)."""
    def _write(tmp: Path):
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(INTERVAL_COLUMNS)
            out.writerows([_cell(r[c]) for c in INTERVAL_COLUMNS] for r in rows)

    return write_with(path, _write)


def _cell(value):
    return "" if isinstance(value, float) and math.isnan(value) else value


def write_scores(path: str | Path, **arrays) -> Path:
    def _save(tmp: Path):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: np.asarray(v) for k, v in arrays.items()})

    return write_with(path, _save)


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
    rows = interval_rows(result.intervals, name, frame_times, result.info.fps)
    t = result.trace
    label = result.settings.get("preset", result.spotter)
    return {
        "intervals": write_intervals(rows, out / "intervals.csv"),
        "scores": write_trace_scores(out / "scores.npz", result),
        "plot": plot_curve(out / "spot.png", t.time, t.score, result.intervals, frame_times, t.face,
                           title=f"{name} — {label} ({len(result.intervals)} intervals)", truth=truth),
    }
