"""Regression: SL-Swin's published score curves through our post-processing and scorer (metrics.md §6.3)."""

import importlib.util
from pathlib import Path

import pytest

from conftest import shared_path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "spotting_realcurves.py"


@pytest.fixture(scope="module")
def rc():  # the benchmark script, imported once; its scores are memoised below
    shared_path("realdata", "eddiehe99__pytorch-expression-spotting", "ultimate_preds")
    shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting")
    shared_path("annotations", "casme_sq", "cas_duration.csv")
    spec = importlib.util.spec_from_file_location("spotting_realcurves", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    memo = {}
    plain = mod.score_megc2021

    def score(dataset, kind, p=0.60):
        if (dataset, kind, p) not in memo:
            memo[(dataset, kind, p)] = plain(dataset, kind, p)
        return memo[(dataset, kind, p)]

    mod.score_megc2021 = score
    return mod


def test_megc2022_samm_test_regenerates_submission_exactly(rc):
    r = rc.compare_samm_test(0.60)
    assert r["ours_me"] == 40 and r["ours_mae"] == 19
    assert r["highest"]["identical"] and r["second_highest"]["identical"]
    ours = rc.samm_test_intervals(0.60)
    assert set(ours.loc[ours["type"] == "me", "offset"] - ours.loc[ours["type"] == "me", "onset"]) == {74}
    assert set(ours.loc[ours["type"] == "mae", "offset"] - ours.loc[ours["type"] == "mae", "onset"]) == {338}


def test_samm_test_changes_with_p(rc):
    """The exact match is not an accident of any threshold: another p gives other rows."""
    assert not rc.compare_samm_test(0.50)["highest"]["identical"]


@pytest.mark.parametrize("dataset,kind,p,tp,fp,n_gt", [
    ("CAS(ME)^2", "mae", 0.60, 71, 257, 300),
    ("CAS(ME)^2", "me", 0.60, 13, 203, 57),
    ("SAMM-LV", "me", 0.60, 34, 439, 159),
    ("CAS(ME)^2", "mae", 0.55, 77, 298, 300),
    ("SAMM-LV", "me", 0.55, 37, 526, 159),
])
def test_megc2021_curves_counts(rc, dataset, kind, p, tp, fp, n_gt):
    r = rc.score_megc2021(dataset, kind, p)["softnet"]
    assert (r["tp"], r["fp"], r["n_gt"]) == (tp, fp, n_gt)


def test_megc2021_within_001_of_published(rc):
    for (dataset, kind), (_, _, published) in rc.MEGC2021.items():
        f1 = rc.score_megc2021(dataset, kind, 0.60)["softnet"]["f1"]
        assert abs(f1 - published) <= 0.01, (dataset, kind, f1, published)
