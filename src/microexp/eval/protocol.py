"""The model-selection setting every training command takes (``--select``), and its labels.

LOSO splits live in :mod:`microexp.experiments.splits`.
"""

from __future__ import annotations

import numpy as np

from microexp.errors import ConfigError

SELECT_MODES = ("last", "inner-val", "oracle")
ORACLE_LABEL = "ORACLE (test-selected)"
SELECT_HELP = ("Model selection: last (fixed epochs, default), inner-val (validation subjects drawn from the "
               "training subjects), oracle (best epoch on the held-out subject; paper reproduction only).")


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

