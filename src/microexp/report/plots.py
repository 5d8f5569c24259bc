"""Plots people look at, in one place (object-oriented matplotlib: no global backend or pyplot state):
the spotting score curve (with ground-truth lanes), the spotter LOSO summary and the recognition confusion matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microexp.io.atomic import write_with
from microexp.records import Interval


def plot_spot_summary(path: Path, summary: dict) -> Path:
    """P / R / F1 per type under both semantics, and every fold's training loss per epoch."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.8))  # object API: no global backend or pyplot state
    ax1, ax2 = fig.subplots(1, 2)
    tab20 = colormaps["tab20"]
    sems = list(summary["tables"])
    width = 0.8 / (3 * len(sems))
    for si, sem in enumerate(sems):
        rows = summary["tables"][sem]
        x = np.arange(len(rows))
        for mi, (metric, col) in enumerate((("P", "precision"), ("R", "recall"), ("F1", "f1"))):
            off = (si * 3 + mi - (3 * len(sems) - 1) / 2) * width
            ax1.bar(x + off, [r[col] for r in rows], width, label=f"{metric} ({sem})",
                    color=tab20(2 * mi + si), edgecolor="k" if metric == "F1" else "none")
        ax1.set_xticks(x, [f"{r['type']}\nTP {r['tp']}/{r['n_gt']} GT, {r['n_pred']} pred" for r in rows])
    ax1.set_ylim(0, 1.3)
    ax1.set_yticks(np.linspace(0, 1, 6))
    ax1.set_title(f"{summary['arch']} LOSO on {summary['data']} (counts: {sems[-1]})", fontsize=9)
    ax1.legend(fontsize=7, ncol=3, loc="upper center")
    for fold in summary["folds"]:
        for kind, info in fold["kinds"].items():
            if isinstance(info, dict) and info.get("loss"):
                ax2.plot(np.arange(1, len(info["loss"]) + 1), info["loss"], marker=".",
                         color="C0" if kind == "me" else "C1", alpha=0.6)
    ax2.plot([], [], color="C0", label="me models")
    ax2.plot([], [], color="C1", label="mae models")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss")
    ax2.set_title("training loss, one line per fold", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()

    return write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def plot_confusion(log, label: str, arch: str, m: dict, path: Path, classes) -> None:
    """Confusion matrix with the selection label and UF1/UAR in the title (object-oriented matplotlib)."""
    from matplotlib.figure import Figure
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(log["true"], log["pred"], labels=list(classes))
    fig = Figure(figsize=(4.2, 4.0), dpi=110)
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=30, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{arch} LOSO [{label}]\nUF1 {m['uf1']:.4f}  UAR {m['uar']:.4f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")


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
