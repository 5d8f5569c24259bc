"""Spot-then-recognise score (STRS, MEGC2023): spotting F1 x analysis F1 on the matched (TP) pairs.

Spotting uses the ``strs`` semantics (each prediction, in file order, claims every still-unmatched GT with
IoU >= 0.5). Analysis is scored only on the TP pairs: per emotion class a one-vs-rest confusion over the
pairs gives P_c and R_c; ``P_A = mean P_c``, ``R_A = mean R_c``, ``F1_A = 2 P_A R_A / (P_A + R_A)``.

Differences from the reference ``strs_metric.py`` (R4), all documented in docs/evaluation.md:

* its "UAR" is the mean per-class *precision*; we report the true UAR (mean recall) and, labelled, the
  macro-precision (= R4's "UAR");
* it never counts GTs of subjects without any prediction as FN; we do (switch
  ``count_fn_for_subjects_without_predictions=False`` reproduces R4);
* its "FN analysis" count repeats the FP count; ours is the one-vs-rest FN sum;
* ``F1_A`` is NaN there when ``P_A + R_A = 0``; ours is 0.
Kept as in R4: a class whose one-vs-rest labels over the pairs are all equal (e.g. every pair is truly and
predicted class c) scores P_c = R_c = 0, because R4's 2x2 confusion-matrix unpacking fails and falls back to 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from microexp.errors import AnnotationError
from microexp.eval.spotting import (
    SpottingReport,
    build_report,
    match_prepared,
    prepare,
    resolve_settings,
)


@dataclass
class StrsReport:
    """STRS with its two factors, the raw counts, per-class analysis table and the matched pairs."""

    strs: float
    spotting: SpottingReport
    analysis: dict
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    emotions: list

    @property
    def spotting_f1(self) -> float:
        return self.spotting.f1

    @property
    def analysis_f1(self) -> float:
        return float(self.analysis["f1"])

    def to_dict(self) -> dict:
        per_class = {str(k): {c: float(v) for c, v in row.items()} for k, row in self.per_class.iterrows()}
        return {"strs": self.strs, "spotting_f1": self.spotting_f1, "analysis_f1": self.analysis_f1,
                "settings": asdict(self.spotting.settings), "spotting": self.spotting.to_dict()["table"],
                "analysis": self.analysis, "per_class": per_class, "emotions": self.emotions}


def evaluate_strs(gt: pd.DataFrame, pred: pd.DataFrame, *, emotions=None, kind: str | None = None,
                  semantics: str = "strs", **switches) -> StrsReport:
    """STRS of ``pred`` (video, onset, offset, emotion[, type, subject]) against ``gt`` (same columns, 0-based).

    ``kind`` ('me'/'mae') restricts both sides to one type; by default types are ignored, as in R4.
    ``emotions`` fixes the analysis classes (default: every emotion in the ground truth, as in R4).
    """
    for name, df in (("ground truth", gt), ("predictions", pred)):
        if "emotion" not in df.columns:
            raise AnnotationError(f"{name}: missing column 'emotion' (needed for STRS)", df.attrs.get("source"))
        empty = df["emotion"].isna()
        if empty.any():
            raise AnnotationError(f"{name} row {df.index[empty][0]}: empty emotion", df.attrs.get("source"))
    settings = resolve_settings(semantics, **switches)
    need_type = kind is not None
    g, p, ignored = prepare(gt, pred, settings, need_type=need_type)
    if need_type:
        g, p = g[g["kind"] == kind].assign(kind="all"), p[p["kind"] == kind].assign(kind="all")
    g = g.assign(emotion=g["emotion"].map(_emotion))
    p = p.assign(emotion=p["emotion"].map(_emotion))
    counts, pairs, log, ign = match_prepared(g, p, settings)
    ignored.update(ign)
    report = build_report(counts, pairs, log, settings, g, p, ignored)

    classes = list(emotions) if emotions is not None else sorted(g["emotion"].unique())
    classes = [_emotion(c) for c in classes]
    gi = g.set_index("gt_row")
    pi = p.set_index("pred_row")
    pair_df = pd.DataFrame({
        "video": pairs["key"].to_numpy(),
        "gt_onset": gi.loc[pairs["gt_row"], "onset"].to_numpy(),
        "gt_offset": gi.loc[pairs["gt_row"], "offset"].to_numpy(),
        "pred_onset": pi.loc[pairs["pred_row"], "onset"].to_numpy(),
        "pred_offset": pi.loc[pairs["pred_row"], "offset"].to_numpy(),
        "gt_emotion": gi.loc[pairs["gt_row"], "emotion"].to_numpy(),
        "pred_emotion": pi.loc[pairs["pred_row"], "emotion"].to_numpy(),
        "iou": pairs["iou"].to_numpy(),
    })
    used = pair_df[pair_df["gt_emotion"].isin(classes)]
    per_class, analysis = analysis_scores(used["gt_emotion"], used["pred_emotion"], classes)
    spot_f1 = report.f1
    return StrsReport(strs=float(spot_f1 * analysis["f1"]), spotting=report, analysis=analysis,
                      per_class=per_class, pairs=pair_df, emotions=classes)


def analysis_scores(gt_emotion, pred_emotion, classes) -> tuple[pd.DataFrame, dict]:
    """Per-class one-vs-rest P/R/F1 over the matched pairs and the STRS analysis summary."""
    t = np.asarray(list(gt_emotion), dtype=object)
    q = np.asarray(list(pred_emotion), dtype=object)
    rows = []
    for c in classes:
        tb, qb = t == c, q == c
        if len(set(tb.tolist()) | set(qb.tolist())) <= 1:  # R4: single-label confusion matrix -> zeros
            tp = fp = fn = 0
        else:
            tp, fp, fn = int((tb & qb).sum()), int((~tb & qb).sum()), int((tb & ~qb).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append({"class": c, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
                     "support": int(tb.sum())})
    per_class = pd.DataFrame(rows, columns=["class", "tp", "fp", "fn", "precision", "recall", "f1", "support"]
                             ).set_index("class")
    pa = float(per_class["precision"].mean()) if len(per_class) else 0.0
    ra = float(per_class["recall"].mean()) if len(per_class) else 0.0
    analysis = {
        "n_pairs": int(len(t)),
        "tp": int(per_class["tp"].sum()), "fp": int(per_class["fp"].sum()), "fn": int(per_class["fn"].sum()),
        "precision": pa, "recall": ra, "f1": 2 * pa * ra / (pa + ra) if pa + ra else 0.0,
        "uf1": float(per_class["f1"].mean()) if len(per_class) else 0.0,
        "uar": ra,
        "macro_precision": pa,
    }
    return per_class, analysis


def _emotion(v) -> str:
    return str(v).strip().lower()
