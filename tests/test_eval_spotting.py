"""Spotting scorer: the published MEGC2020 table, hand-made cases where the semantics differ, invariants."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microexp.errors import AnnotationError, ConfigError
from microexp.eval.spotting import SEMANTICS, evaluate, iou_matrix, resolve_settings

from conftest import shared_path

MDMD = ("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results")


def _df(rows, cols=("video", "onset", "offset", "type")):
    return pd.DataFrame(rows, columns=list(cols))


def _counts(report, row="me"):
    return tuple(int(report.table.loc[row, c]) for c in ("n_pred", "tp", "fp", "fn", "n_gt"))


# ---- acceptance: the published MEGC2020 baseline table ------------------------------------------------

PUBLISHED = {  # metrics.md §6.1 / eval_res_txt/MEGC2020_results.txt: N_pred, TP, N_GT, P, R, F1, unrounded F1
    ("CAS(ME)^2", "me"): (5035, 21, 57, 0.0042, 0.3684, 0.0082, 0.008248232521602514),
    ("CAS(ME)^2", "mae"): (1523, 109, 300, 0.0716, 0.3633, 0.1196, 0.11958310477235326),
    ("CAS(ME)^2", "overall"): (6558, 130, 357, 0.0198, 0.3641, 0.0376, 0.03759942154736081),
    ("SAMM-LV", "me"): (1436, 29, 159, 0.0202, 0.1824, 0.0364, 0.03636363636363636),
    ("SAMM-LV", "mae"): (356, 22, 343, 0.0618, 0.0641, 0.0629, 0.06294706723891273),
    ("SAMM-LV", "overall"): (1792, 51, 502, 0.0285, 0.1016, 0.0445, 0.04446381865736704),
}


@pytest.fixture(scope="module")
def mdmd():
    root = shared_path(*MDMD)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from megc2020_baseline import SETS, load

    return {name: load(name, root) for name in SETS}


def test_megc2020_baseline_table_exact(mdmd):
    for name, (gt, pred) in mdmd.items():
        t = evaluate(gt, pred, "megc2020").table
        for row in ("me", "mae", "overall"):
            n_pred, tp, n_gt, p, r, f1, f1_exact = PUBLISHED[(name, row)]
            got = t.loc[row]
            assert (got["n_pred"], got["tp"], got["n_gt"]) == (n_pred, tp, n_gt), (name, row)
            assert got["fp"] == n_pred - tp and got["fn"] == n_gt - tp
            assert [round(got[c], 4) for c in ("precision", "recall", "f1")] == [p, r, f1], (name, row)
            assert got["f1"] == pytest.approx(f1_exact, rel=1e-12)


def test_megc2020_baseline_log_and_softnet_difference(mdmd):
    labels = pd.concat([evaluate(gt, pred).log["label"] for gt, pred in mdmd.values()]).value_counts()
    assert labels.to_dict() == {"FP": 8174, "FN": 678, "TP": 181}  # R1's per-line log counts (§2.1)
    gt, pred = mdmd["CAS(ME)^2"]
    assert evaluate(gt, pred, "megc2020", match="greedy_best_gt").table.loc["mae", "tp"] == 104
    soft = evaluate(gt, pred, "softnet")
    assert soft.table.loc["mae", "tp"] == 104
    samm_gt, samm_pred = mdmd["SAMM-LV"]
    soft_samm = evaluate(samm_gt, samm_pred, "softnet")
    assert soft_samm.table.loc["mae", "n_gt"] == 333 and soft_samm.ignored["gt_samm_macro_onset0"] == 10


# ---- hand-made cases where the semantics differ --------------------------------------------------------

def _case():
    gt = _df([
        ("v1", 10, 19, "me"), ("v1", 12, 21, "me"),  # two overlapping GTs
        ("v3", 30, 39, "me"),                         # a video without predictions
        ("v4", 50, 50, "me"),                         # a one-frame GT
    ])
    pred = _df([
        ("v1", 11, 20, "me"), ("v1", 11, 20, "me"),   # IoU 9/11 with both GTs; duplicated
        ("v2", 0, 9, "me"),                           # a video without GT
        ("v4", 50, 50, "me"),                         # one-frame prediction on the one-frame GT
    ])
    return gt, pred


def test_case_megc2020():
    # v1: both GTs found (TP 2), 2 predictions -> FP 0.  v2: 1 FP.  v3: 1 FN.
    # v4: one-frame intervals have IoU 0 under R1 -> 1 FP + 1 FN.
    r = evaluate(*_case(), "megc2020")
    assert _counts(r) == (4, 2, 2, 2, 4)
    assert r.table.loc["me", "f1"] == pytest.approx(0.5)
    assert _counts(r, "mae") == (0, 0, 0, 0, 0)
    # the log's FP lines are predictions that matched nothing: the v2 and v4 predictions
    assert r.log["label"].value_counts().to_dict() == {"FP": 2, "TP": 2, "FN": 2}


def test_case_softnet():
    # v1: prediction 1's best GT is GT1 (tie, first) -> TP; the duplicate's best GT is GT1 again, taken,
    #     no fall-back to GT2 -> FP; GT2 FN.  v2: skipped (no GT).  v3: dummy prediction -> 1 FP, 1 FN.
    # v4: one-frame IoU is 1 -> TP.
    r = evaluate(*_case(), "softnet")
    assert _counts(r) == (4, 2, 2, 2, 4)
    assert r.ignored["pred_in_videos_without_gt"] == 1
    assert r.per_video.loc[("v1", "me"), "tp"] == 1 and r.per_video.loc[("v3", "me"), "fp"] == 1


def test_case_strs():
    # v1: prediction 1 claims both GTs (TP 2), the duplicate matches nothing (FP 1).  v2 ignored.
    # v3: FN 1, no dummy.  v4: TP 1.  TP 3, FP 1, FN 1 -> P = R = 0.75.
    r = evaluate(*_case(), "strs")
    assert _counts(r) == (3, 3, 1, 1, 4)
    assert r.table.loc["me", "f1"] == pytest.approx(0.75)


def test_switches_reproduce_presets_one_at_a_time():
    gt, pred = _case()
    # megc2020 with the one-frame rule off: v4 becomes a TP
    assert _counts(evaluate(gt, pred, zero_length_iou_zero=False)) == (4, 3, 1, 1, 4)
    # megc2020 without GT-less videos: v2's prediction is ignored
    assert _counts(evaluate(gt, pred, score_videos_without_gt=False)) == (3, 2, 1, 2, 4)
    # softnet without the dummy: v3 costs no FP
    assert _counts(evaluate(gt, pred, "softnet", empty_video_dummy_fp=False)) == (3, 2, 1, 2, 4)
    assert resolve_settings("softnet").match == "greedy_best_gt"
    with pytest.raises(ConfigError, match="unknown spotting switch"):
        evaluate(gt, pred, strict=True)
    with pytest.raises(ConfigError, match="semantics"):
        evaluate(gt, pred, "megc2021")


def test_one_prediction_can_find_two_adjacent_gts():
    # P = [0, 3], GT1 = [0, 1], GT2 = [2, 3]: IoU 2/4 = 0.5 with each. R1 and R4 count 2 TPs for one
    # prediction (R1 precision 2.0, as its scorer would print); softnet is one-to-one.
    gt = _df([("v", 0, 1, "me"), ("v", 2, 3, "me")])
    pred = _df([("v", 0, 3, "me")])
    assert _counts(evaluate(gt, pred, "megc2020")) == (1, 2, -1, 0, 2)
    assert evaluate(gt, pred, "megc2020").table.loc["me", "precision"] == pytest.approx(2.0)
    assert _counts(evaluate(gt, pred, "strs")) == (1, 2, 0, 0, 2)
    assert _counts(evaluate(gt, pred, "softnet")) == (1, 1, 0, 1, 2)


def test_greedy_order_uses_scores_then_onset():
    gt = _df([("v", 0, 9, "me")])
    pred = _df([("v", 0, 8, "me", 0.2), ("v", 1, 9, "me", 0.9)], cols=("video", "onset", "offset", "type", "score"))
    tp = evaluate(gt, pred, "softnet").log.query("label == 'TP'")
    assert tp["pred_onset"].tolist() == [1]  # higher score first
    tp = evaluate(gt, pred.drop(columns="score"), "softnet").log.query("label == 'TP'")
    assert tp["pred_onset"].tolist() == [0]  # ascending (onset, offset) without scores


def test_files_are_converted_to_zero_based_once(tmp_path):
    from microexp.eval.megc_io import read_megc_csv

    (tmp_path / "gt.csv").write_text("vid,onset,offset,type\nv,2,3,me\n")  # 1-based file
    (tmp_path / "pred.csv").write_text("vid,pred_onset,pred_offset,type\nv,1,2,me\n")  # the same frames, 0-based
    gt, pred = read_megc_csv(tmp_path / "gt.csv", 1), read_megc_csv(tmp_path / "pred.csv", 0)
    assert (gt["onset"].iloc[0], gt["onset_annot"].iloc[0]) == (1, 2) and "frame_base" not in gt.attrs
    assert evaluate(gt, pred).table.loc["me", "tp"] == 1
    assert evaluate(read_megc_csv(tmp_path / "gt.csv", 0), pred).table.loc["me", "tp"] == 0  # off by one: IoU 1/3


def test_cas_offset0_and_samm_onset0_rules():
    # 0-based frames, the 1-based numbers as annotated alongside (CAS offset 0 and SAMM onset 0 = not annotated)
    annot = {"onset_annot": [100, 0, 300], "apex_annot": [110, 50, 350], "offset_annot": [0, 150, 450]}
    gt = pd.DataFrame({"video": ["s15_0101", "011_6", "011_6"], "onset": [99, -1, 299], "apex": [109, 49, 349],
                       "offset": [-1, 149, 449], "type": ["mae", "mae", "mae"], **annot})
    pred = _df([("s15_0101", 99, 109, "mae"), ("011_6", 299, 449, "mae")])
    r = evaluate(gt, pred, "megc2020")
    assert _counts(r, "mae") == (2, 2, 0, 1, 3)  # offset 0 -> apex 110 makes the CAS row a TP
    r = evaluate(gt, pred, "softnet")
    assert _counts(r, "mae") == (2, 2, 0, 0, 2) and r.ignored["gt_samm_macro_onset0"] == 1
    with pytest.raises(AnnotationError, match="row 0: offset -1 is before onset 99"):
        evaluate(gt, pred, cas_offset0_to_apex=False)
    # without the annotated columns a 0-based table has no annotated zeros: nothing is replaced or dropped
    r = evaluate(gt.drop(columns=list(annot)).iloc[1:], pred, "softnet")
    assert r.ignored["gt_samm_macro_onset0"] == 0 and r.table.loc["mae", "n_gt"] == 2


def test_per_dataset_rows():
    gt = pd.DataFrame({"video": ["a", "b"], "onset": [0, 0], "offset": [9, 9], "type": ["me", "mae"],
                       "dataset": ["cas", "samm"]})
    pred = _df([("a", 0, 9, "me"), ("b", 50, 59, "mae")])
    r = evaluate(gt, pred)
    assert r.per_dataset.loc[("cas", "overall"), "f1"] == 1.0
    assert r.per_dataset.loc[("samm", "overall"), "f1"] == 0.0
    assert r.table.loc["overall", "tp"] == 1


def test_iou_inclusive_frames():
    iou = iou_matrix([0, 0, 5], [9, 4, 5], [5], [14])
    assert iou[:, 0].tolist() == pytest.approx([5 / 15, 0.0, 1 / 10])
    assert iou_matrix([5], [5], [5], [5], zero_length_iou_zero=True)[0, 0] == 0.0
    assert iou_matrix([5], [5], [5], [5])[0, 0] == 1.0


@pytest.mark.parametrize("rows, problem", [
    ([("v", "a", 3, "me")], r"row 0: onset 'a' is not a whole frame number"),
    ([("v", 5, 3, "me")], r"row 0: offset 3 is before onset 5"),
    ([("v", 1, 3, "xx")], r"row 0: type 'xx' is not me/mae"),
])
def test_bad_prediction_rows(rows, problem):
    gt = _df([("v", 1, 3, "me")])
    with pytest.raises(AnnotationError, match=problem):
        evaluate(gt, _df(rows))
    with pytest.raises(AnnotationError, match="missing column"):
        evaluate(gt, _df(rows).drop(columns="offset"))


# ---- invariants (hypothesis) ----------------------------------------------------------------------------

@st.composite
def interval_tables(draw, disjoint=False, min_len=1):
    rows = []
    for video in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)):
        for kind in ("me", "mae"):
            n = draw(st.integers(0, 4))
            pos = draw(st.integers(0, 20))
            for _ in range(n):
                length = draw(st.integers(min_len, 12))
                onset = pos + draw(st.integers(1, 15)) if disjoint else draw(st.integers(0, 60))
                rows.append((video, onset, onset + length - 1, kind))
                pos = onset + length
    return _df(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gt=interval_tables(), pred=interval_tables(), semantics=st.sampled_from(sorted(SEMANTICS)))
def test_counts_are_consistent(gt, pred, semantics):
    r = evaluate(gt, pred, semantics)
    for row in ("me", "mae", "overall"):
        t = r.table.loc[row]
        assert 0 <= t["tp"] <= t["n_gt"] and t["fn"] == t["n_gt"] - t["tp"]
        assert 0 <= t["f1"] <= 1 + 1e-12 or semantics == "megc2020"
        if semantics == "softnet":  # one-to-one: also tp <= n_pred, fp = n_pred - tp
            assert t["tp"] <= t["n_pred"] and t["fp"] == t["n_pred"] - t["tp"]
        if semantics == "strs":  # each matched prediction is counted once, so matched preds <= n_pred
            assert t["fp"] <= t["n_pred"]
    # tp <= n_pred holds for every semantics unless one prediction hits two GTs (see the adjacent-GT case)
    if r.pairs.empty or r.pairs.groupby(["kind", "pred_row"]).size().max() <= 1:
        for row in ("me", "mae", "overall"):
            assert r.table.loc[row, "tp"] <= r.table.loc[row, "n_pred"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gt=interval_tables(disjoint=True), semantics=st.sampled_from(sorted(SEMANTICS)))
def test_identical_gt_and_pred_give_f1_one(gt, semantics):
    # holds for disjoint GTs; overlapping or one-frame GTs are the hand-made counter-examples above
    if gt.empty:
        return
    r = evaluate(gt, gt.copy(), semantics, zero_length_iou_zero=False)
    t = r.table.loc["overall"]
    assert t["f1"] == 1.0 and 0 <= t["tp"] <= min(t["n_pred"], t["n_gt"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gt=interval_tables(), pred=interval_tables(), shift=st.integers(1, 5000),
       semantics=st.sampled_from(sorted(SEMANTICS)))
def test_shifting_everything_changes_nothing(gt, pred, shift, semantics):
    a = evaluate(gt, pred, semantics).table
    moved = [d.assign(onset=d["onset"] + shift, offset=d["offset"] + shift) for d in (gt, pred)]
    b = evaluate(*moved, semantics).table
    pd.testing.assert_frame_equal(a, b)
