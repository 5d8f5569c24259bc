"""LOSO splits (experiments.splits), subject-id normalisation and the model-selection setting (eval.protocol)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microexp.errors import ConfigError, InputError
from microexp.eval.protocol import ORACLE_LABEL, SELECT_MODES, select_epoch, selection_label
from microexp.experiments.splits import loso_splits, normalize_subject


@pytest.mark.parametrize("x", ["01", 1, "sub01", "s01", "sub1", 1.0, " 001 ", np.int64(1), "Sub_01"])
def test_subject_spellings_are_one_subject(x):
    assert normalize_subject(x) == "1"


def test_subject_non_numeric_and_prefixed():
    assert normalize_subject("DZW") == "dzw"
    assert normalize_subject("CASME2/sub06") == "casme2/6"
    with pytest.raises(InputError):
        normalize_subject(1.5)
    with pytest.raises(InputError):
        normalize_subject("  ")


def _index():
    # MMNet-style mess: the same subject written three ways, plus a second dataset with a clashing number
    return pd.DataFrame({
        "subject": ["01", 1, "sub01", "02", 2, "03", "006", "006", "7"],
        "dataset": ["casme2"] * 6 + ["samm"] * 3,
        "clip": list("abcdefghi"),
    })


def test_loso_no_empty_folds_and_each_sample_tested_once():
    df = _index()
    folds = loso_splits(df)
    assert [f.test_subject for f in folds] == ["casme2/1", "casme2/2", "casme2/3", "samm/6", "samm/7"]
    assert all(len(f.test_idx) > 0 for f in folds)
    tested = np.concatenate([f.test_idx for f in folds])
    assert sorted(tested.tolist()) == list(range(len(df)))
    for f in folds:
        assert set(f.train_idx).isdisjoint(f.test_idx)
        assert len(f.train_idx) + len(f.test_idx) == len(df)
    assert folds[0].test_idx.tolist() == [0, 1, 2]


def test_loso_without_dataset_column_merges_spellings():
    df = _index().drop(columns="dataset")
    folds = loso_splits(df)
    # '006' and 6 would be one subject without a dataset column; here 1, 2, 3, 6, 7
    assert [f.test_subject for f in folds] == ["1", "2", "3", "6", "7"]


def test_inner_validation_from_training_subjects_only():
    df = pd.DataFrame({"subject": np.repeat(np.arange(1, 9), 3)})
    keys = df["subject"].astype(str).to_numpy()
    folds = loso_splits(df, n_val_subjects=2, seed=3)
    for f in folds:
        assert len(f.val_subjects) == 2 and f.test_subject not in f.val_subjects
        assert set(keys[f.val_idx]) == set(f.val_subjects)
        assert set(keys[f.train_idx]).isdisjoint(f.val_subjects)
        assert f.test_subject not in set(keys[f.train_idx]) | set(keys[f.val_idx])
        assert len(f.train_idx) + len(f.val_idx) + len(f.test_idx) == len(df)
    again = loso_splits(df, n_val_subjects=2, seed=3)
    assert [f.val_subjects for f in folds] == [f.val_subjects for f in again]
    with pytest.raises(ConfigError):
        loso_splits(df, n_val_subjects=7)


def test_requested_subject_without_samples_is_an_error():
    df = _index()
    folds = loso_splits(df, subjects=["sub02", "samm/006"])
    assert [f.test_subject for f in folds] == ["casme2/2", "samm/6"]
    with pytest.raises(InputError, match="no samples"):
        loso_splits(df, subjects=["sub04"])
    with pytest.raises(InputError, match="missing column"):
        loso_splits(df, subject_col="subj")


def test_select_modes():
    assert SELECT_MODES == ("last", "inner-val", "oracle")
    assert select_epoch("last", 5) == 4
    assert select_epoch("inner-val", 3, val_scores=[0.1, 0.5, 0.4], test_scores=[0.9, 0, 0]) == 1
    assert select_epoch("oracle", 3, val_scores=[0.1, 0.5, 0.4], test_scores=[0.9, 0, 0]) == 0
    assert selection_label("oracle") == ORACLE_LABEL == "ORACLE (test-selected)"
    assert selection_label("last") == "last"
    with pytest.raises(ConfigError):
        select_epoch("inner-val", 3)
    with pytest.raises(ConfigError):
        selection_label("best")
