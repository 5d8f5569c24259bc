"""Re-run the authors' 68 per-subject STSTNet weights on the composite flow images and compare with their log.

This checks three things at once against the authors' own run: our STSTNet module, our loader of their
weights, and our reading of the flow images (channel order and scale). Samples of a subject are ordered as
the authors' script listed them: by label, then by file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from microexp.errors import AnnotationError, InputError
from microexp.eval.recognition import evaluate
from microexp.recognition.data import FlowSet
from microexp.recognition.ststnet import load_published_ststnet, published_input

_BLOCK = re.compile(r"Subject:\s*(\S+)\s*Predicted\s*:\s*\[([^\]]*)\]\s*Ground Truth\s*:\s*\[([^\]]*)\]")


def read_python_log(path: str | Path) -> list[tuple[str, list[int], list[int]]]:
    """``STSTNet_python_logfile.txt`` -> [(subject, predicted, ground truth)] in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputError("STSTNet log not found", path)
    blocks = _BLOCK.findall(path.read_text(encoding="utf-8", errors="replace"))
    if not blocks:
        raise AnnotationError("no 'Subject: / Predicted / Ground Truth' blocks", path)

    def ints(s: str) -> list[int]:
        return [int(t) for t in s.replace(" ", "").split(",") if t]

    return [(s, ints(p), ints(g)) for s, p, g in blocks]


def _subject_rows(index: pd.DataFrame, subject: str) -> np.ndarray:
    raw = index["sub"] if "sub" in index.columns else index["subject"]
    rows = index[raw.astype(str) == subject]
    if rows.empty:
        raise InputError(f"subject {subject!r} of the STSTNet log has no flow images")
    return rows.sort_values(["label", "clip"]).index.to_numpy()


def rerun_published(data: FlowSet, ststnet_dir: str | Path) -> dict:
    """Predict every subject with its own published weights; count agreement with the authors' log."""
    ststnet_dir = Path(ststnet_dir)
    log = read_python_log(ststnet_dir / "STSTNet_python_logfile.txt")
    rows, n_match, n_gt_match = [], 0, 0
    for subject, pred_log, gt_log in log:
        idx = _subject_rows(data.index, subject)
        model = load_published_ststnet(ststnet_dir / "STSTNet_Weights" / f"{subject}.pth")
        with torch.no_grad():
            ours = model(published_input(torch.from_numpy(data.X[idx]))).argmax(1).numpy()
        gt = data.index["label"].to_numpy()[idx]
        if len(gt) != len(gt_log):
            raise AnnotationError(f"subject {subject}: {len(gt)} flow images but {len(gt_log)} log entries")
        n_gt_match += int((gt == np.asarray(gt_log)).sum())
        n_match += int((ours == np.asarray(pred_log)).sum())
        for i, p, q in zip(idx, ours, pred_log, strict=True):
            rows.append({"subject": subject, "sample": data.index.at[i, "sample"],
                         "dataset": data.index.at[i, "dataset"], "true": int(data.index.at[i, "label"]),
                         "pred": int(p), "pred_log": int(q)})
    table = pd.DataFrame(rows)
    ours_m = evaluate(table["true"], table["pred"], [0, 1, 2])
    log_m = evaluate(table["true"], table["pred_log"], [0, 1, 2])
    return {"samples": len(table), "subjects": len(log), "pred_match": n_match, "gt_match": n_gt_match,
            "uf1": ours_m["uf1"], "uar": ours_m["uar"], "accuracy": ours_m["accuracy"],
            "log_uf1": log_m["uf1"], "log_uar": log_m["uar"], "table": table}


def read_gif_pair(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame (grey) of a 2-frame onset/apex GIF (christy1206/biwoof)."""
    from PIL import Image, ImageSequence

    path = Path(path)
    if not path.is_file():
        raise InputError("GIF not found", path)
    frames = [np.array(f.convert("L")) for f in ImageSequence.Iterator(Image.open(path))]
    if len(frames) < 2:
        raise InputError("GIF has fewer than 2 frames", path)
    return frames[0], frames[-1]


def face_box(gray: np.ndarray, tol: int = 8) -> tuple[int, int, int, int]:
    """Bounding box (y0, y1, x0, x1) of the face pasted on a flat background (the biwoof GIF canvas)."""
    bg = int(np.median(gray[:5, :5]))
    ys, xs = np.where(np.abs(gray.astype(int) - bg) > tol)
    if len(ys) == 0:
        raise InputError("no face region found on the GIF canvas")
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def compare_encoding(gif: str | Path, published_png: str | Path, method: str = "dis") -> dict[str, float]:
    """Pearson correlation per channel (u, v, strain) between our encoding and a published flow image."""
    from microexp.recognition.api import flow_from_faces
    from microexp.recognition.data import read_flow_png

    onset, apex = read_gif_pair(gif)
    y0, y1, x0, x1 = face_box(onset)
    ours = flow_from_faces(onset[y0:y1, x0:x1], apex[y0:y1, x0:x1], method=method)
    ref = read_flow_png(Path(published_png))
    return {name: float(np.corrcoef(ours[c].ravel(), ref[c].ravel())[0, 1])
            for c, name in enumerate(("u", "v", "strain"))}
