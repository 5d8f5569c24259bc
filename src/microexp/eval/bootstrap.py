"""Subject-level bootstrap of pooled UF1: resample LOSO subjects with replacement, pool their samples, score.

Subjects, not samples, are the unit a LOSO result generalises over (samples of one subject are correlated),
so the interval resamples whole subjects. Several prediction columns of one log are scored on the *same*
resampled subjects, which gives paired intervals for differences between them (e.g. ensemble - single run).
UF1 follows :func:`microexp.eval.recognition.evaluate`: classes absent from both truth and predictions of a
resample are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError


def subject_bootstrap_uf1(log: pd.DataFrame, labels: Sequence, *, columns: Sequence[str] = ("pred",),
                          n_boot: int = 2000, seed: int = 0, subject_col: str = "subject") -> np.ndarray:
    """UF1 of each prediction column on ``n_boot`` subject resamples: an array of shape (n_boot, len(columns)).

    ``log`` needs ``true``, ``subject_col`` and the ``columns``; labels fix the class list.
    """
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    for col in ("true", subject_col, *columns):
        if col not in log.columns:
            raise InputError(f"missing column {col!r} in the recognition log")
    if len(log) == 0:
        raise InputError("no samples to bootstrap")
    labels = [str(v) for v in labels]
    pos = {c: i for i, c in enumerate(labels)}
    k = len(labels)
    subj, s_idx = np.unique(log[subject_col].astype(str).to_numpy(), return_inverse=True)

    def codes(col):
        vals = log[col].astype(str).to_numpy()
        bad = sorted(set(vals) - set(pos))
        if bad:
            raise InputError(f"labels not in the class list {labels}: {', '.join(bad)}")
        return np.array([pos[v] for v in vals])

    yt = codes("true")
    rng = np.random.default_rng(seed)
    # draws[b, s] = how often subject s is in resample b
    draws = np.stack([np.bincount(rng.integers(0, len(subj), len(subj)), minlength=len(subj))
                      for _ in range(n_boot)]).astype(np.float64)
    out = np.empty((n_boot, len(columns)))
    for j, col in enumerate(columns):
        counts = np.zeros((len(subj), k * k))
        np.add.at(counts, (s_idx, yt * k + codes(col)), 1.0)
        out[:, j] = uf1_from_confusions((draws @ counts).reshape(n_boot, k, k))
    return out


def uf1_from_confusions(cm: np.ndarray) -> np.ndarray:
    """Pooled UF1 of a stack of confusion matrices (..., C, C) (rows truth, columns prediction)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(-1), cm.sum(-2)
    present = (support + predicted) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2 * tp / (support + predicted), np.nan)
        return np.nanmean(f1, axis=-1)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Two-sided percentile interval of bootstrap samples (NaN resamples dropped)."""
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise InputError("no finite bootstrap samples")
    a = (1 - level) / 2
    lo, hi = np.quantile(s, [a, 1 - a])
    return float(lo), float(hi)
