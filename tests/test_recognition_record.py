"""The record page's table logic (benchmarks/recognition_record.py) on tiny synthetic runs: rows of a group are
scored on the subjects every run finished, the ensemble row equals `microexp ensemble`, CIs contain the point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_recognition_loso import FAST, synthetic

from microexp.recognition.ensemble import ensemble_runs
from microexp.recognition.loso import run_loso

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from recognition_record import carried_rows, record_group  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES = ["negative", "positive", "surprise"]
MEMBERS = ["m0", "m1", "m2"]


def test_record_group_full_and_partial(tmp_path):
    data = synthetic()
    run_loso("ststnet", data, tmp_path / "base", train_config=FAST, seed=0)
    for k, m in enumerate(MEMBERS):
        run_loso("ststnet", data, tmp_path / m, train_config=FAST, seed=k, subjects=None if k else
                 ["casme2/sub01", "samm/006", "smic/s01"])
    kw = dict(baseline="base", members=MEMBERS, ensemble="ens", select="last",
              configs={"base": "b", "ens": "e", **{m: "m" for m in MEMBERS}}, seeds={"base": 0, "m0": 0, "m1": 1,
                                                                                       "m2": 2},
              total_subjects=6)
    lines, rows = record_group(tmp_path, data.index, CLASSES, **kw)
    assert [r["run"] for r in rows] == ["base", *MEMBERS, "ens"]
    assert all(r["subjects"] == 3 and r["samples"] == 18 and not r["complete"] for r in rows)  # m0's 3 subjects
    assert "partial: 3/6 (18 samples)" in lines[0] and any("**Partial**" in x for x in lines)
    for r in rows:
        lo, hi = r["uf1_ci95"]
        assert lo <= r["uf1"] <= hi
    assert rows[0]["uf1_minus_default_ci95"] is None and rows[-1]["seeds"] == [0, 1, 2]

    run_loso("ststnet", data, tmp_path / "m0", train_config=FAST, seed=0)  # finish m0: now every subject
    lines, rows = record_group(tmp_path, data.index, CLASSES, **kw)
    assert all(r["complete"] and r["samples"] == 36 for r in rows)
    s = ensemble_runs([tmp_path / m for m in MEMBERS], n_boot=50)
    assert rows[-1]["uf1"] == pytest.approx(s["metrics"]["all"]["uf1"], abs=5e-5)
    assert rows[-1]["uar"] == pytest.approx(s["metrics"]["all"]["uar"], abs=5e-5)
    lines, rows = record_group(tmp_path, data.index, CLASSES, **{**kw, "members": ["m0", "nothing"]})
    assert rows == [] and all("not run" in x for x in lines)


def test_carried_rows_read_an_earlier_table():
    runs = {"ststnet-oracle": type("R", (), {"model": "ststnet", "note": "defaults"})()}
    lines = ["| run | select | folds | full UF1 | full UAR | a | b | c | cpu | note |", "|---|---|",
             "| ststnet-oracle | **last** | 68 | 0.7242 | 0.7126 | x | y | z | 770 | note |",
             "| ststnet-oracle | ORACLE (test-selected) | 68 | 0.8204 | 0.8105 | x | y | z | (same run) | n |",
             "| ststnet-cw | last | not run | | | | | | | n |"]
    rows = carried_rows(lines, runs, "earlier page")
    assert [(r["select"], r["uf1"], r["uf1_ci95"]) for r in rows] == [("last", 0.7242, None),
                                                                      ("ORACLE (test-selected)", 0.8204, None)]
