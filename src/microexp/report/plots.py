"""Plots people look at, in one place (object-oriented matplotlib: no global backend or pyplot state).

Spot score curves are drawn by ``microexp.spotting.outputs``; the LOSO summaries are drawn here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microexp.io.atomic import write_with


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
