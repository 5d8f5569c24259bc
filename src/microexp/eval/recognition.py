"""Recognition (MER) metrics with the MEGC2019 definition: pool every LOSO fold, then average over classes.

UF1 = mean over classes of ``2TP/(2TP+FP+FN)``; UAR = mean over classes of ``TP/n_c`` (balanced accuracy).
Per-fold averages are *not* what the challenge defines. Macro-precision is reported too, labelled as such,
because at least one published "UAR" (STSTNet 0.7605) is in fact macro-precision.

Classes absent from both the truth and the predictions are skipped, as the reference
``recognition_evaluation`` does, but not silently: ``absent='warn'`` (default) warns, ``'raise'`` raises.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError

ABSENT_POLICIES = ("warn", "raise", "ignore")


class AbsentClassWarning(UserWarning):
    """A requested class has no sample in the truth (and maybe none in the predictions)."""


def evaluate(y_true, y_pred, labels=None, *, absent: str = "warn") -> dict:
    """Pooled UF1, UAR, accuracy, macro-precision, confusion matrix and per-class table.

    Labels may be ints or strings. ``labels`` fixes the class order (and which classes count); without it
    the sorted union of truth and predictions is used.
    """
    if absent not in ABSENT_POLICIES:
        raise ConfigError(f"absent must be one of {ABSENT_POLICIES}, got {absent!r}")
    yt = _as_labels(y_true, "y_true")
    yp = _as_labels(y_pred, "y_pred")
    if len(yt) != len(yp):
        raise InputError(f"y_true has {len(yt)} labels but y_pred has {len(yp)}")
    if len(yt) == 0:
        raise InputError("no samples to evaluate")
    if labels is None:
        labels = _sorted_union(yt, yp)
    else:
        labels = list(labels)
        unknown = sorted({str(v) for v in set(yt) | set(yp)} - {str(v) for v in labels})
        if unknown:
            raise InputError(f"labels not in the class list {labels}: {', '.join(unknown)}")
    pos = {str(lab): i for i, lab in enumerate(labels)}  # '1' in a label list matches 1 in the data
    pos.update({lab: i for i, lab in enumerate(labels)})
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, ([pos.get(v, pos.get(str(v))) for v in yt], [pos.get(v, pos.get(str(v))) for v in yp]), 1)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    fp = predicted - tp
    fn = support - tp
    present = (support + predicted) > 0
    no_truth = support == 0
    _report_absent(labels, ~present, no_truth & present, absent)

    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2 * tp / (2 * tp + fp + fn), np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.where(present, 0.0, np.nan))
    per_class = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int),
         "n_pred": predicted.astype(int)},
        index=pd.Index(labels, name="class"),
    )
    return {
        "uf1": float(np.nanmean(f1)) if present.any() else float("nan"),
        "uar": float(np.nanmean(recall)) if (support > 0).any() else float("nan"),
        "accuracy": float(tp.sum() / len(yt)),
        "macro_precision": float(np.nanmean(precision)) if present.any() else float("nan"),
        "n": int(len(yt)),
        "labels": list(labels),
        "confusion": pd.DataFrame(cm, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="pred")),
        "per_class": per_class,
    }


def evaluate_log(log: pd.DataFrame, labels=None, *, by: str | None = "dataset", absent: str = "warn") -> pd.DataFrame:
    """UF1/UAR/accuracy/macro-precision of a per-sample log, pooled over all rows and per ``by`` group.

    Per-group rows are the same pooled metric restricted to that group's samples (the MEGC2019 per-DB rows).
    Columns ``true``/``pred`` are required.
    """
    for col in ("true", "pred"):
        if col not in log.columns:
            raise InputError(f"missing column {col!r} in the recognition log")
    if labels is None:
        labels = _sorted_union(_as_labels(log["true"], "true"), _as_labels(log["pred"], "pred"))
    rows = []
    parts = [("all", log)]
    if by and by in log.columns:
        parts += [(str(k), g) for k, g in log.groupby(by, sort=False)]
    for name, part in parts:
        # within a part, absent classes are expected (e.g. a DB without one emotion): skip them quietly
        r = evaluate(part["true"], part["pred"], labels, absent=absent if name == "all" else "ignore")
        rows.append({"part": name, "n": r["n"], "uf1": r["uf1"], "uar": r["uar"], "accuracy": r["accuracy"],
                     "macro_precision": r["macro_precision"]})
    return pd.DataFrame(rows).set_index("part")


def _as_labels(values, name: str) -> list:
    arr = list(pd.Series(values).tolist()) if not isinstance(values, list) else list(values)
    out = []
    for v in arr:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise InputError(f"{name} contains a missing label")
        if isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        out.append(v)
    kinds = {isinstance(v, str) for v in out}
    if len(kinds) > 1:
        raise InputError(f"{name} mixes string and numeric labels")
    return out


def _sorted_union(a: list, b: list) -> list:
    vals = set(a) | set(b)
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


def _report_absent(labels, absent_both, pred_only, policy: str) -> None:
    msgs = []
    if absent_both.any():
        msgs.append("no sample and no prediction for class(es) "
                    + ", ".join(str(labels[i]) for i in np.flatnonzero(absent_both)) + " (skipped)")
    if pred_only.any():
        msgs.append("predicted but never true: class(es) "
                    + ", ".join(str(labels[i]) for i in np.flatnonzero(pred_only)) + " (left out of UAR)")
    if not msgs or policy == "ignore":
        return
    if policy == "raise":
        raise InputError("; ".join(msgs))
    warnings.warn("; ".join(msgs), AbsentClassWarning, stacklevel=3)
