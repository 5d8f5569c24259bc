"""STRS (spot-then-recognise) scorer and the `evaluate spotting` / `evaluate strs` commands."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import AnnotationError
from microexp.eval.strs import analysis_scores, evaluate_strs

from conftest import shared_path

COLS = ["subject", "video", "onset", "offset", "emotion"]


def _case():
    gt = pd.DataFrame([
        (1, "A", 0, 9, "happy"), (1, "A", 20, 29, "sad"),
        (2, "B", 0, 9, "happy"),
        (3, "C", 0, 9, "sad"),            # subject 3 has no prediction at all
    ], columns=COLS)
    pred = pd.DataFrame([
        ("01", "A", 0, 9, "happy"), ("sub1", "A", 20, 29, "happy"),   # subject ids spelled differently
        (2, "B", 0, 9, "happy"),
        (2, "D", 0, 9, "sad"),            # a video without GT: ignored by STRS
    ], columns=COLS)
    return gt, pred


def test_strs_hand_made():
    # spotting: pairs A1 (happy/happy), A2 (sad/happy), B (happy/happy) -> TP 3, FP 0, FN 1 (subject 3)
    #   P 1, R 3/4, F1 6/7.
    # analysis over the 3 pairs: happy TP 2 FP 1 FN 0 -> P 2/3 R 1; sad TP 0 FP 0 FN 1 -> P 0 R 0.
    #   P_A 1/3, R_A 1/2, F1_A = 2(1/3)(1/2)/(5/6) = 0.4; UF1 (0.8 + 0)/2 = 0.4.
    r = evaluate_strs(*_case())
    t = r.spotting.table.loc["overall"]
    assert (t["n_pred"], t["tp"], t["fp"], t["fn"], t["n_gt"]) == (3, 3, 0, 1, 4)
    assert r.spotting_f1 == pytest.approx(6 / 7)
    assert r.analysis["precision"] == pytest.approx(1 / 3) and r.analysis["recall"] == pytest.approx(0.5)
    assert r.analysis_f1 == pytest.approx(0.4)
    assert r.analysis["uf1"] == pytest.approx(0.4)
    assert r.analysis["uar"] == pytest.approx(0.5)            # true UAR (mean recall)
    assert r.analysis["macro_precision"] == pytest.approx(1 / 3)  # what R4 prints as "UAR"
    assert r.strs == pytest.approx(6 / 7 * 0.4)
    assert r.spotting.ignored["pred_in_videos_without_gt"] == 1
    assert len(r.pairs) == 3 and set(r.pairs["pred_emotion"]) == {"happy"}


def test_strs_reference_readme_example():
    # The STRS-Metric README example (R4), worked by hand:
    #   EP02_01f pred [10,70] vs GT [45,85]: 26/76 < 0.5 -> FP + FN;  EP03_02 [100,170] vs [130,160]: 31/71 -> FP + FN
    #   EP04_02 [0,70] vs [20,75]: 51/76 -> TP (others/others);  EP01_11f [20,90] vs [45,95]: 46/76 -> TP
    #   (repression/happiness);  EP02_04f [70,140] vs [30,140]: 71/111 -> TP (repression/happiness)
    #   spotting TP 3 FP 2 FN 2 -> F1 0.6. Analysis: happiness P 0 (2 FP), others P = R = 1, repression R 0
    #   -> P_A = R_A = 1/3 -> F1_A 1/3 -> STRS 0.2 (the README's value).
    cols = ["subject", "video", "onset", "offset", "emotion"]
    pred = pd.DataFrame([[1, "EP02_01f", 10, 70, "happiness"], [1, "EP03_02", 100, 170, "others"],
                         [1, "EP04_02", 0, 70, "others"], [2, "EP01_11f", 20, 90, "happiness"],
                         [2, "EP02_04f", 70, 140, "happiness"]], columns=cols)
    gt = pd.DataFrame([[1, "EP02_01f", 45, 85, "happiness"], [1, "EP03_02", 130, 160, "others"],
                       [1, "EP04_02", 20, 75, "others"], [2, "EP01_11f", 45, 95, "repression"],
                       [2, "EP02_04f", 30, 140, "repression"]], columns=cols)
    r = evaluate_strs(gt, pred)
    assert r.spotting.table.loc["overall", ["tp", "fp", "fn"]].tolist() == [3, 2, 2]
    assert r.spotting_f1 == pytest.approx(0.6) and r.analysis_f1 == pytest.approx(1 / 3)
    assert round(r.strs, 4) == 0.2


def test_strs_reference_subject_scope_switch():
    # R4 lists subjects from the predictions, so subject 3's GT is never an FN: spotting F1 1, STRS 0.4
    r = evaluate_strs(*_case(), count_fn_for_subjects_without_predictions=False)
    assert r.spotting.table.loc["overall", "fn"] == 0
    assert r.spotting.ignored["gt_of_subjects_without_predictions"] == 1
    assert r.strs == pytest.approx(0.4)


def test_strs_one_prediction_claims_two_gts_and_type_filter():
    gt = pd.DataFrame({"video": ["v", "v", "v"], "onset": [0, 2, 100], "offset": [1, 3, 109],
                       "emotion": ["a", "b", "a"], "type": ["me", "me", "mae"]})
    pred = pd.DataFrame({"video": ["v", "v"], "onset": [0, 100], "offset": [3, 109], "emotion": ["a", "a"],
                         "type": ["me", "mae"]})
    r = evaluate_strs(gt, pred)  # [0,3] has IoU 0.5 with both [0,1] and [2,3]
    assert r.spotting.table.loc["overall", "tp"] == 3 and r.spotting.table.loc["overall", "fp"] == 0
    me = evaluate_strs(gt, pred, kind="me")
    assert me.spotting.table.loc["overall", ["tp", "n_gt", "n_pred"]].tolist() == [2, 2, 1]


def test_analysis_single_label_classes_score_zero_as_in_reference():
    # every pair truly and predicted 'a': R4's 2x2 unpacking fails and it scores the class 0
    per_class, a = analysis_scores(["a", "a"], ["a", "a"], ["a"])
    assert per_class.loc["a", "f1"] == 0 and a["f1"] == 0
    per_class, a = analysis_scores(["a", "b"], ["a", "b"], ["a", "b"])
    assert a["f1"] == 1 and a["uf1"] == 1


def test_strs_needs_emotion():
    gt, pred = _case()
    with pytest.raises(AnnotationError, match="emotion"):
        evaluate_strs(gt.drop(columns="emotion"), pred)


# ---- CLI ----------------------------------------------------------------------------------------------

def test_cli_strs(tmp_path):
    gt, pred = _case()
    gt.to_csv(tmp_path / "gt.csv", index=False)
    pred.assign(apex=pred["onset"], type="me", confidence=0.9).to_csv(tmp_path / "pred.csv", index=False)
    res = CliRunner().invoke(app, ["evaluate", "strs", "--gt", str(tmp_path / "gt.csv"), "--pred",
                                   str(tmp_path / "pred.csv"), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    assert "STRS 0.3429" in res.output and "spotting F1 0.8571" in res.output and "analysis F1 0.4000" in res.output
    assert "semantics=strs" in res.output
    assert json.loads((tmp_path / "s.json").read_text())["strs"] == pytest.approx(6 / 7 * 0.4)


def test_cli_spotting_on_real_gt(tmp_path):
    root = shared_path("realdata", "HeyingGithub__Baseline-project-for-MEGC2020_spotting", "MDMD_results")
    gt = root / "dataset_new/data/SAMM_MEGC_Sets/all_Info.txt"
    (tmp_path / "p.csv").write_text("vid,pred_onset,pred_offset,type\n006_1,3562,3632,me\n006_1,1,2,me\n")
    args = ["evaluate", "spotting", "--gt", str(gt), "--pred", str(tmp_path / "p.csv"), "--pred-base", "1"]
    res = CliRunner().invoke(app, args + ["--out", str(tmp_path / "out"), "--log", str(tmp_path / "log.txt")])
    assert res.exit_code == 0, res.output
    assert "semantics=megc2020" in res.output and "match=count_found_gt" in res.output
    table = pd.read_csv(tmp_path / "out" / "spotting.csv", index_col=0)
    assert table.loc["me", ["n_pred", "tp", "fp", "n_gt"]].tolist() == [2, 1, 1, 159]
    assert table.loc["overall", "n_gt"] == 502
    report = json.loads((tmp_path / "out" / "spotting.json").read_text())
    assert report["settings"]["zero_length_iou_zero"] is True
    res = CliRunner().invoke(app, args + ["--semantics", "softnet", "--set", "empty_video_dummy_fp=false",
                                          "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert t.loc["me", "n_pred"] == 2 and t.loc["mae", "n_gt"] == 333


@pytest.mark.parametrize("text, problem", [
    ("vid,pred_onset,type\nv,1,me\n", "missing column"),
    ("vid,pred_onset,pred_offset,type\nv,5,2,me\n", "row 2: offset 2 is before onset 5"),
    ("vid,pred_onset,pred_offset,type\nv,five,9,me\n", "row 2: onset 'five' is not a whole frame number"),
])
def test_cli_spotting_bad_input_exit_2(tmp_path, text, problem):
    (tmp_path / "gt.csv").write_text("video,onset,offset,type\nv,1,9,me\n")
    (tmp_path / "bad.csv").write_text(text)
    res = CliRunner().invoke(app, ["evaluate", "spotting", "--gt", str(tmp_path / "gt.csv"),
                                   "--pred", str(tmp_path / "bad.csv")])
    assert res.exit_code == 2
    assert problem in res.output and "bad.csv" in res.output and "Traceback" not in res.output


def test_cli_unknown_switch(tmp_path):
    (tmp_path / "gt.csv").write_text("video,onset,offset,type\nv,1,9,me\n")
    res = CliRunner().invoke(app, ["evaluate", "spotting", "--gt", str(tmp_path / "gt.csv"), "--pred",
                                   str(tmp_path / "gt.csv"), "--set", "bogus=1"])
    assert res.exit_code == 2 and "bogus" in res.output


def test_scorer_tag_in_outputs(tmp_path):
    from microexp.eval.spotting import resolve_settings, settings_tag

    assert settings_tag(resolve_settings("softnet")) == "softnet"
    assert settings_tag(resolve_settings("softnet", empty_video_dummy_fp=False)) == "softnet+empty_video_dummy_fp=False"
    (tmp_path / "gt.csv").write_text("video,onset,offset,type\nv,1,9,me\n")
    res = CliRunner().invoke(app, ["evaluate", "spotting", "--gt", str(tmp_path / "gt.csv"), "--pred",
                                   str(tmp_path / "gt.csv"), "--set", "iou_threshold=0.7", "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert set(t["scorer"]) == {"megc2020+iou_threshold=0.7"} and t.loc["me", "f1"] == 1.0
