"""Leave-one-subject-out splits over normalised subject ids, and the seed of each fold.

Subject ids come in many spellings (``'01'``, ``1``, ``'sub01'``, ``'s01'``, ``'006'``). Public MER code has
silently produced empty test folds when a hard-coded subject list and the index used different spellings;
here every id goes through :func:`normalize_subject`, folds are built only from subjects that have samples,
and an explicitly requested subject without samples is an error.

A fold depends only on (seed, held-out subject) and the data: its training seed is :func:`fold_seed`, and its
inner-validation subjects are drawn with that seed from the other subjects of the data, so which folds were
requested, and in which order, never changes a fold.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from microexp.errors import ConfigError, InputError
from microexp.io.frames import natural_key

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


def fold_seed(seed: int, key: str) -> int:
    """Seed of one fold: depends only on (seed, held-out subject), so folds can run anywhere in any order."""
    return (int(seed) * 1_000_003 + zlib.crc32(str(key).encode("utf-8"))) % (2**31 - 1)


def safe_name(key: str) -> str:
    """A subject key as a file name: ``casme2/6`` -> ``casme2__6``; other unsafe characters become ``_``."""
    text = str(key).replace("/", "__")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).lstrip(".") or "_"


def resolve_subjects(requested, available: list[str]) -> list[str]:
    """Requested test subjects as keys of ``available``; an un-prefixed id is accepted when one dataset has it.

    Raises InputError for a subject without samples (an empty fold), and ConfigError for a repeated one.
    """
    out: list[str] = []
    for s in requested:
        k = normalize_subject(s)
        if k not in available:
            hits = [o for o in available if o.rpartition("/")[2] == k]
            if len(hits) != 1:
                raise InputError(f"subject {s!r} has no samples in the dataset index (empty fold)")
            k = hits[0]
        if k in out:
            raise ConfigError(f"subject {s!r} is requested twice")
        out.append(k)
    return out


def validation_subjects(test_subject: str, all_subjects: list[str], n: int, seed: int) -> tuple[str, ...]:
    """``n`` inner-validation subjects for one fold, drawn from the other subjects with the fold's own seed.

    Depends only on (seed, test subject) and the set of subjects in the data: never on the other folds.
    """
    if n <= 0:
        return ()
    pool = sorted((s for s in set(all_subjects) if s != test_subject), key=natural_key)
    if n > len(pool) - 1:
        raise ConfigError(f"n_val_subjects={n} leaves no training subject ({len(pool) + 1} subjects)")
    rng = np.random.default_rng(fold_seed(seed, f"{test_subject}#val"))
    picked = rng.choice(len(pool), size=n, replace=False)
    return tuple(sorted((pool[j] for j in picked), key=natural_key))


@dataclass(frozen=True)
class Fold:
    """One LOSO fold. Index arrays are *positional* (use ``df.iloc[fold.train_idx]``)."""

    test_subject: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    val_idx: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    val_subjects: tuple[str, ...] = ()
    index: int = 0

    @property
    def name(self) -> str:
        return self.test_subject


def all_subjects(index_df: pd.DataFrame, subject_col: str = "subject", dataset_col: str | None = "dataset") -> list[str]:
    """Distinct normalised subject keys of an index, in natural order."""
    keys = subject_keys(index_df, subject_col, dataset_col)
    return sorted(pd.unique(keys.to_numpy()), key=natural_key)


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
    subjects (see :func:`validation_subjects`); they are removed from ``train_idx``.
    ``subjects`` restricts the test subjects; every one must have samples (no silent empty folds).
    """
    if len(index_df) == 0:
        raise InputError("dataset index is empty; no LOSO folds")
    if n_val_subjects < 0:
        raise ConfigError(f"n_val_subjects must be >= 0, got {n_val_subjects}")
    keys = subject_keys(index_df, subject_col, dataset_col).to_numpy()
    order = sorted(pd.unique(keys), key=natural_key)
    if n_val_subjects and n_val_subjects > len(order) - 2:
        raise ConfigError(f"n_val_subjects={n_val_subjects} leaves no training subject ({len(order)} subjects)")
    test_subjects = order if subjects is None else resolve_subjects(subjects, order)
    positions = np.arange(len(keys))
    folds = []
    for i, subj in enumerate(test_subjects):
        test_mask = keys == subj
        val = validation_subjects(subj, order, n_val_subjects, seed)
        val_mask = np.isin(keys, val)
        train_mask = ~test_mask & ~val_mask
        folds.append(Fold(subj, positions[train_mask], positions[test_mask], positions[val_mask], val, i))
    return folds
