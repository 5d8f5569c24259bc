"""Leave-one-subject-out splits and the model-selection setting every training command takes.

Subject ids come in many spellings (``'01'``, ``1``, ``'sub01'``, ``'s01'``, ``'006'``). Public MER code has
silently produced empty test folds when a hard-coded subject list and the index used different spellings;
here every id goes through :func:`normalize_subject`, folds are built only from subjects that have samples,
and an explicitly requested subject without samples is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError

SELECT_MODES = ("last", "inner-val", "oracle")
ORACLE_LABEL = "ORACLE (test-selected)"
SELECT_HELP = ("Model selection: last (fixed epochs, default), inner-val (validation subjects drawn from the "
               "training subjects), oracle (best epoch on the held-out subject; paper reproduction only).")

_PREFIX = re.compile(r"^(?:subject|sub|s)[\s_-]*(?=\d)", re.IGNORECASE)


def normalize_subject(x) -> str:
    """One canonical string per subject: ``'01'``, ``1``, ``1.0``, ``'sub01'``, ``'s1'`` all give ``'1'``.

    Non-numeric ids (e.g. ``'dzw'``) are stripped and lower-cased. A ``db/`` prefix is kept and normalised
    on both sides (``'CASME2/sub06'`` -> ``'casme2/6'``), so ids of different datasets never merge.
    """
    if isinstance(x, (bool, np.bool_)):
        raise InputError(f"subject id {x!r} is not a subject")
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x) or float(x) != int(x):
            raise InputError(f"subject id {x!r} is not an integer")
        return str(int(x))
    s = str(x).strip()
    if not s:
        raise InputError("empty subject id")
    if "/" in s:
        db, _, rest = s.rpartition("/")
        return f"{db.strip().lower()}/{normalize_subject(rest)}"
    s = _PREFIX.sub("", s)
    if re.fullmatch(r"\d+(?:\.0+)?", s):
        return str(int(float(s)))
    return s.lower()


def subject_keys(df: pd.DataFrame, subject_col: str = "subject", dataset_col: str | None = "dataset") -> pd.Series:
    """Normalised subject key per row, prefixed ``db/`` when a dataset column exists (casme2/6 != samm/6)."""
    if subject_col not in df.columns:
        raise InputError(f"missing column {subject_col!r} in the dataset index")
    keys = df[subject_col].map(normalize_subject)
    if dataset_col and dataset_col in df.columns:
        keys = df[dataset_col].astype(str).str.strip().str.lower() + "/" + keys
    return keys


@dataclass(frozen=True)
class Fold:
    """One LOSO fold. Index arrays are *positional* (use ``df.iloc[fold.train_idx]``)."""

    test_subject: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    val_idx: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    val_subjects: tuple[str, ...] = ()
    index: int = 0


def loso_splits(
    index_df: pd.DataFrame,
    subject_col: str = "subject",
    *,
    dataset_col: str | None = "dataset",
    n_val_subjects: int = 0,
    seed: int = 0,
    subjects=None,
) -> list[Fold]:
    """Leave-one-subject-out folds over the distinct normalised subjects of ``index_df``.

    ``n_val_subjects`` > 0 draws that many validation subjects per fold, only from the fold's training
    subjects (seeded, so reruns give the same folds); they are removed from ``train_idx``.
    ``subjects`` restricts the test subjects; every one must have samples (no silent empty folds).
    """
    if len(index_df) == 0:
        raise InputError("dataset index is empty; no LOSO folds")
    if n_val_subjects < 0:
        raise ConfigError(f"n_val_subjects must be >= 0, got {n_val_subjects}")
    keys = subject_keys(index_df, subject_col, dataset_col).to_numpy()
    order = sorted(pd.unique(keys), key=_natural_key)
    if subjects is not None:
        wanted = []
        for s in subjects:
            k = normalize_subject(s)
            if k not in order:
                # allow an un-prefixed id when exactly one dataset has it
                hits = [o for o in order if o.rpartition("/")[2] == k]
                if len(hits) != 1:
                    raise InputError(f"subject {s!r} has no samples in the dataset index (empty fold)")
                k = hits[0]
            wanted.append(k)
        test_subjects = wanted
    else:
        test_subjects = order
    if n_val_subjects and n_val_subjects > len(order) - 2:
        raise ConfigError(f"n_val_subjects={n_val_subjects} leaves no training subject ({len(order)} subjects)")
    rng = np.random.default_rng(seed)
    positions = np.arange(len(keys))
    folds = []
    for i, subj in enumerate(test_subjects):
        test_mask = keys == subj
        train_subjects = [s for s in order if s != subj]
        val_subjects: tuple[str, ...] = ()
        if n_val_subjects:
            picked = rng.choice(len(train_subjects), size=n_val_subjects, replace=False)
            val_subjects = tuple(sorted((train_subjects[j] for j in picked), key=_natural_key))
        val_mask = np.isin(keys, val_subjects)
        train_mask = ~test_mask & ~val_mask
        folds.append(Fold(subj, positions[train_mask], positions[test_mask], positions[val_mask], val_subjects, i))
    return folds


def check_select_mode(mode: str) -> str:
    """Validate a ``--select`` value; returns it unchanged."""
    if mode not in SELECT_MODES:
        raise ConfigError(f"model selection must be one of {', '.join(SELECT_MODES)}, got {mode!r}")
    return mode


def selection_label(mode: str) -> str:
    """Label every output carries; oracle results are marked as test-selected (paper reproduction only)."""
    check_select_mode(mode)
    return ORACLE_LABEL if mode == "oracle" else mode


def select_epoch(mode: str, n_epochs: int, val_scores=None, test_scores=None) -> int:
    """Index of the epoch whose model is reported under ``mode`` (higher score = better, first best wins).

    ``last`` needs nothing, ``inner-val`` needs validation-subject scores, ``oracle`` needs the held-out
    subject's scores and exists only to reproduce published numbers.
    """
    check_select_mode(mode)
    if n_epochs <= 0:
        raise ConfigError(f"n_epochs must be positive, got {n_epochs}")
    if mode == "last":
        return n_epochs - 1
    scores = val_scores if mode == "inner-val" else test_scores
    if scores is None or len(scores) != n_epochs:
        what = "validation" if mode == "inner-val" else "test"
        raise ConfigError(f"selection {mode!r} needs one {what} score per epoch ({n_epochs})")
    return int(np.nanargmax(np.asarray(scores, dtype=float)))


def _natural_key(s: str):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t]
