"""Recognition metrics (pooled UF1/UAR), per-sample logs and the `evaluate recognition` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import AnnotationError, InputError
from microexp.eval import reclog
from microexp.eval.recognition import AbsentClassWarning, evaluate, evaluate_log

from conftest import shared_path

STST = ("realdata", "christy1206__STSTNet")


def test_ststnet_python_log_reproduces_published_uf1_uar():
    log = reclog.read_ststnet_python_log(shared_path(*STST, "STSTNet_python_logfile.txt"))
    assert len(log) == 442 and log["subject"].nunique() == 68
    r = evaluate(log["true"], log["pred"])
    assert round(r["uf1"], 4) == 0.7209
    assert round(r["uar"], 4) == 0.7250
    assert round(r["accuracy"], 4) == 0.7398


def test_ststnet_matlab_log_reproduces_per_db_rows():
    log = reclog.read_megc_log(shared_path(*STST, "STSTNet_logfile.txt"))
    assert log["true"].value_counts().to_dict() == {0: 250, 1: 109, 2: 83}
    t = evaluate_log(log).round(4)
    expected = {  # metrics.md §6.2: UF1, true UAR, macro-precision (= published "UAR"), accuracy
        "all": (442, 0.7353, 0.7186, 0.7605, 0.7692),
        "casme2": (145, 0.8382, 0.8190, 0.8686, 0.8621),
        "smic": (164, 0.6801, 0.6703, 0.7013, 0.6829),
        "samm": (133, 0.6588, 0.6415, 0.6810, 0.7744),
    }
    for part, (n, uf1, uar, mp, acc) in expected.items():
        row = t.loc[part]
        assert (row["n"], row["uf1"], row["uar"], row["macro_precision"], row["accuracy"]) == (n, uf1, uar, mp, acc)


def test_megc_log_round_trip(tmp_path):
    src = shared_path(*STST, "STSTNet_logfile.txt")
    log = reclog.read_megc_log(src)
    out = reclog.write_megc_log(log, tmp_path / "log.txt")
    assert out.read_text().split() == src.read_text().split()
    back = reclog.read_any_log(out)
    pd.testing.assert_frame_equal(back, log)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=8, max_size=60))
def test_matches_sklearn_macro_scores(pairs):
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    labels = sorted(set(y_true) | set(y_pred))
    if set(y_pred) - set(y_true):  # sklearn's macro recall counts a never-true class as 0; ours leaves it out
        return
    r = evaluate(y_true, y_pred)
    assert r["uf1"] == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro"))
    assert r["uar"] == pytest.approx(recall_score(y_true, y_pred, labels=labels, average="macro"))
    assert r["macro_precision"] == pytest.approx(
        precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert r["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert 0 <= r["uf1"] <= 1 and 0 <= r["uar"] <= 1


def test_pooled_not_per_fold_average():
    # fold 1 = samples 0-1 (both right), fold 2 = samples 2-3 (one wrong). Pooled: class a 1 TP + 1 FP,
    # class b 2 TP + 1 FN -> F1_a = 2/3, F1_b = 0.8, recall a 1, recall b 2/3. The mean of per-fold UF1
    # would be (1 + (0 + 2/3)/2)/2 = 0.667, a different number.
    r = evaluate(["a", "b", "b", "b"], ["a", "b", "a", "b"])
    assert r["confusion"].loc["b", "a"] == 1
    assert r["uar"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["uf1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert list(r["per_class"].index) == ["a", "b"]
    assert r["per_class"].loc["b", "support"] == 3


def test_string_labels_and_absent_classes():
    with pytest.warns(AbsentClassWarning, match="surprise"):
        r = evaluate(["neg", "pos", "neg"], ["neg", "pos", "pos"], labels=["neg", "pos", "surprise"])
    assert r["labels"] == ["neg", "pos", "surprise"]
    assert np.isnan(r["per_class"].loc["surprise", "f1"])
    assert r["uf1"] == pytest.approx((2 / 3 + 2 / 3) / 2)  # surprise skipped, as the reference does
    with pytest.raises(InputError, match="surprise"):
        evaluate(["neg"], ["neg"], labels=["neg", "surprise"], absent="raise")
    with pytest.raises(InputError, match="not in the class list"):
        evaluate(["neg"], ["happy"], labels=["neg"])
    with pytest.raises(InputError, match="2 labels"):
        evaluate([0, 1], [0])


def test_csv_log_round_trip_and_selection(tmp_path):
    df = pd.DataFrame({"dataset": ["casme2"] * 3 + ["samm"] * 2, "subject": ["01", "01", "02", "006", "007"],
                       "sample": list("abcde"), "true": [0, 1, 2, 0, 1], "pred": [0, 1, 1, 0, 0], "fold": [0, 0, 1, 2, 3]})
    path = reclog.write_log(df, tmp_path / "log.csv", selection="oracle")
    back = reclog.read_log(path)
    assert list(back.columns[:5]) == ["dataset", "subject", "sample", "true", "pred"]
    assert back["subject"].tolist() == ["01", "01", "02", "006", "007"]  # ids stay strings
    assert reclog.is_oracle(back) and "ORACLE" in reclog.oracle_note(back)


def test_csv_log_errors_name_file_and_row(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("subject,sample,true\n1,a,0\n")
    with pytest.raises(AnnotationError, match=r"bad\.csv: missing column\(s\) 'pred'"):
        reclog.read_log(p)
    p.write_text("subject,sample,true,pred\n1,a,0,1\n1,b,,1\n")
    with pytest.raises(AnnotationError, match=r"bad\.csv: row 3: empty 'true' label"):
        reclog.read_log(p)


def test_cli_recognition_per_dataset(tmp_path):
    df = pd.DataFrame({"dataset": ["casme2"] * 4 + ["samm"] * 4, "subject": list("11223344"), "sample": list("abcdefgh"),
                       "true": [0, 1, 0, 1, 0, 1, 0, 1], "pred": [0, 1, 0, 0, 0, 1, 0, 1]})
    path = reclog.write_log(df, tmp_path / "log.csv", selection="oracle")
    res = CliRunner().invoke(app, ["evaluate", "recognition", str(path), "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "ORACLE (test-selected)" in res.output
    assert json.loads((tmp_path / "r.json").read_text())["table"][0]["selection"] == "ORACLE (test-selected)"
    lines = {ln.split()[0]: ln.split() for ln in res.output.splitlines() if ln.strip()}
    exp = evaluate(df["true"], df["pred"])
    assert float(lines["all"][2]) == pytest.approx(exp["uf1"], abs=5e-5)
    assert float(lines["samm"][2]) == pytest.approx(1.0)  # samm part: 4/4 right
    assert (tmp_path / "r.json").is_file()


def test_cli_recognition_bad_file_one_line_exit_2(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("subject,sample,true\n1,a,0\n")
    res = CliRunner().invoke(app, ["evaluate", "recognition", str(p)])
    assert res.exit_code == 2
    assert "x.csv" in res.output and "pred" in res.output
    assert "Traceback" not in res.output
