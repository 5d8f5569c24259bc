"""Stored class probabilities, probability-averaged ensembles of LOSO runs, subject-level bootstrap CIs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_htnet import noisy_cue, write_htnet
from test_recognition_loso import FAST, synthetic
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import ConfigError, InputError
from microexp.eval.bootstrap import percentile_ci, subject_bootstrap_uf1, uf1_from_confusions
from microexp.eval.recognition import evaluate
from microexp.recognition.ensemble import ensemble_runs
from microexp.recognition.loso import run_loso

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CLASSES = ["negative", "positive", "surprise"]
P = [f"p_{c}" for c in CLASSES]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two seeds under `last`, one under inner-val, one on fewer subjects, all on the synthetic flow set."""
    root = tmp_path_factory.mktemp("runs")
    data = synthetic()
    for seed in (1, 2):
        run_loso("ststnet", data, root / f"s{seed}", train_config=FAST, seed=seed)
    run_loso("ststnet", data, root / "iv", train_config=FAST, seed=1, select="inner-val", n_val_subjects=2)
    run_loso("ststnet", data, root / "part", train_config=FAST, seed=3, subjects=["casme2/sub01", "samm/006"])
    return root


def test_folds_and_predictions_store_the_reported_probabilities(runs):
    for name in ("s1", "iv"):
        pred = pd.read_csv(runs / name / "predictions.csv")
        p = pred[P].to_numpy()
        assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()
        assert list(np.array(CLASSES)[p.argmax(1)]) == list(pred["pred"])  # the reported epoch's probabilities
        for f in (runs / name / "folds").glob("*.json"):
            r = json.loads(f.read_text())["result"]
            assert len(r["proba"]) == len(r["rows"]) and [int(np.argmax(q)) for q in r["proba"]] == r["pred"]
            if name == "iv":  # the last epoch's too, next to the selected epoch's
                assert [int(np.argmax(q)) for q in r["proba_last"]] == r["pred_last"]


def test_ensemble_averages_member_probabilities(runs, tmp_path):
    s = ensemble_runs([runs / "s1", runs / "s2"], tmp_path / "ens", n_boot=300)
    a, b = (pd.read_csv(runs / n / "predictions.csv").set_index(["subject", "sample"]) for n in ("s1", "s2"))
    e = pd.read_csv(tmp_path / "ens" / "predictions.csv").set_index(["subject", "sample"])
    b, e = b.loc[a.index], e.loc[a.index]
    mean = (a[P].to_numpy() + b[P].to_numpy()) / 2
    assert np.allclose(e[P].to_numpy(), mean)
    assert list(e["pred"]) == list(np.array(CLASSES)[mean.argmax(1)])
    assert s["select"] == "last" and not s["oracle"] and s["seeds"] == [1, 2] and s["samples"] == 36
    assert s["metrics"]["all"]["uf1"] == pytest.approx(evaluate(e["true"], e["pred"], CLASSES)["uf1"])
    for m, name in zip(s["members"], ("s1", "s2"), strict=True):
        own = json.loads((runs / name / "summary.json").read_text())["metrics"]["all"]
        assert m["metrics"]["all"]["uf1"] == pytest.approx(own["uf1"])
        lo, hi = m["uf1_ci95"]
        assert lo <= own["uf1"] <= hi
    lo, hi = s["uf1_ci95"]
    assert lo <= s["metrics"]["all"]["uf1"] <= hi
    assert json.loads((tmp_path / "ens" / "summary.json").read_text())["uf1_ci95"] == s["uf1_ci95"]


def test_ensemble_refuses_mismatched_members(runs, tmp_path):
    with pytest.raises(ConfigError, match="different model selection"):
        ensemble_runs([runs / "s1", runs / "iv"])  # an honest ensemble never mixes selection modes
    with pytest.raises(InputError, match="other samples"):
        ensemble_runs([runs / "s1", runs / "part"])
    with pytest.raises(ConfigError, match="twice"):
        ensemble_runs([runs / "s1", runs / "s1"])
    with pytest.raises(ConfigError, match="at least two"):
        ensemble_runs([runs / "s1"])
    old = tmp_path / "old"  # a run folder from before probabilities were stored
    old.mkdir()
    pd.read_csv(runs / "s2" / "predictions.csv").drop(columns=P).to_csv(old / "predictions.csv", index=False)
    (old / "summary.json").write_text((runs / "s2" / "summary.json").read_text())
    with pytest.raises(InputError, match="no class probabilities") as err:
        ensemble_runs([runs / "s1", old])
    assert str(old / "predictions.csv") in str(err.value)
    with pytest.raises(InputError, match="missing"):
        ensemble_runs([runs / "s1", tmp_path / "nothing"])


def test_bootstrap_uf1_matches_evaluate_and_is_seeded():
    rng = np.random.default_rng(0)
    log = pd.DataFrame({"subject": np.repeat([f"s{i}" for i in range(10)], 8),
                        "true": rng.choice(CLASSES, 80), "pred": rng.choice(CLASSES, 80)})
    log["good"] = np.where(rng.random(80) < 0.8, log["true"], log["pred"])
    full = evaluate(log["true"], log["pred"], CLASSES)
    assert uf1_from_confusions(full["confusion"].to_numpy()) == pytest.approx(full["uf1"])
    a = subject_bootstrap_uf1(log, CLASSES, columns=["pred", "good"], n_boot=500, seed=7)
    assert a.shape == (500, 2)
    assert np.array_equal(a, subject_bootstrap_uf1(log, CLASSES, columns=["pred", "good"], n_boot=500, seed=7))
    assert not np.array_equal(a, subject_bootstrap_uf1(log, CLASSES, columns=["pred", "good"], n_boot=500, seed=8))
    lo, hi = percentile_ci(a[:, 0])
    assert lo < full["uf1"] < hi
    dlo, dhi = percentile_ci(a[:, 1] - a[:, 0])  # paired: the better column wins on (almost) every resample
    assert dlo > 0
    # every subject the same: resampling subjects changes nothing, so the interval is a point
    same = pd.concat([log[log["subject"] == "s0"].assign(subject=f"t{i}") for i in range(6)])
    lo, hi = percentile_ci(subject_bootstrap_uf1(same, CLASSES, n_boot=200)[:, 0])
    assert lo == pytest.approx(hi) == pytest.approx(evaluate(same["true"], same["pred"], CLASSES)["uf1"])
    with pytest.raises(InputError, match="not in the class list"):
        subject_bootstrap_uf1(log.assign(pred="angry"), CLASSES)
    with pytest.raises(ConfigError):
        percentile_ci(a[:, 0], level=1.5)


@pytest.fixture(scope="module")
def fake_htnet(tmp_path_factory) -> Path:
    """A fake HTNet composite-flow folder: 3 datasets x 2 subjects x 4 noisy 28x28 flow images."""
    return write_htnet(tmp_path_factory.mktemp("htnet"), noisy_cue(), per_subject=4)


def test_cli_loso_seeds_then_ensemble(fake_htnet, tmp_path):
    runner = CliRunner()
    for seed in (0, 1):
        res = runner.invoke(app, ["loso", "--model", "ststnet", "--data", f"composite-flow:{fake_htnet}",
                                  "--out", str(tmp_path / f"s{seed}"), "--epochs", "6", "--seed", str(seed),
                                  "--train-config", '{"class_weighted": true}'])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["ensemble", str(tmp_path / "s0"), str(tmp_path / "s1"), "-o", str(tmp_path / "e"),
                              "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert s["samples"] == 24 and s["seeds"] == [0, 1] and s["models"] == ["ststnet"]
    assert f"UF1 {s['metrics']['all']['uf1']:.4f}" in res.output
    res = runner.invoke(app, ["ensemble", str(tmp_path / "s0"), "-o", str(tmp_path / "e1")])
    assert res.exit_code == 2 and "at least two" in res.output
