"""LOSO driver (resumable folds, MEGC outputs) and the `train spotter` / `spot --model` commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_spotting_learned import synth_seq
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.spotting.train import SpotData, SpotTrainConfig, SpotVideo, load_spot_data, run_loso

from conftest import shared_path

EVENTS = {"a": [(30, 37), (90, 97)], "b": [(50, 57), (120, 127)], "c": [(20, 27), (100, 107)]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_data():
    seqs = {v: synth_seq(160, ev, i, size=32, texture=5) for i, (v, ev) in enumerate(EVENTS.items())}
    videos = [SpotVideo(v, f"s{v}", "", 30.0) for v in EVENTS]
    gt = pd.DataFrame([(v, f"s{v}", a, b, "me") for v, ev in EVENTS.items() for a, b in ev],
                      columns=["video", "subject", "onset", "offset", "type"])
    return SpotData("tiny", videos, gt), seqs


def test_loso_writes_outputs_and_resumes(tmp_path):
    data, seqs = tiny_data()
    cfg = SpotTrainConfig(epochs=2, batch=16, size=32, kinds=("me",), p=0.6)
    s1 = run_loso("refcnn3d", data, tmp_path, cfg, seqs=seqs, subjects=["sa", "sb"])
    assert s1["n_folds"] == 2
    for sub in ("sa", "sb"):
        info = json.loads((tmp_path / "folds" / f"{sub}.json").read_text())["result"]["info"]
        assert info["kinds"]["me"]["k"] == 4  # mean(off − on) = 7 over the *other* subjects -> int(8/2)
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert list(pred.columns) == ["vid", "pred_onset", "pred_offset", "type"]
    assert set(pred["vid"]) <= {"a", "b"}
    table = pd.read_csv(tmp_path / "megc_megc2020.csv", index_col=0)
    assert table.loc["me", "n_gt"] == 4  # GT of the evaluated subjects only
    w = tmp_path / "folds" / "sa.weights.pt"
    mtime = w.stat().st_mtime_ns
    s2 = run_loso("refcnn3d", data, tmp_path, cfg, seqs=seqs, subjects=["sa", "sb"])
    assert w.stat().st_mtime_ns == mtime  # resumed, not retrained
    assert s2["tables"] == s1["tables"]
    ck = torch.load(w, weights_only=False)
    assert ck["arch"] == "refcnn3d" and ck["models"]["me"]["p"] == 0.6
    from microexp.errors import ConfigError

    with pytest.raises(ConfigError, match="different settings or data"):  # one resume policy: refuse, never mix
        run_loso("refcnn3d", data, tmp_path, SpotTrainConfig(epochs=3, batch=16, size=32, kinds=("me",), p=0.6),
                 seqs=seqs, subjects=["sa"])


def test_loso_folds_in_worker_processes_match_in_process(tmp_path):
    """Spotter folds run on the experiment layer's executors: two worker processes give the same folds."""
    from microexp.experiments.executor import make_executor

    data, seqs = tiny_data()
    cfg = SpotTrainConfig(epochs=1, batch=16, size=32, kinds=("me",), p=0.6)
    alone = run_loso("refcnn3d", data, tmp_path / "one", cfg, seqs=seqs, subjects=["sa", "sb"])
    with make_executor("local", workers=2, threads_per_task=1) as ex:
        pooled = run_loso("refcnn3d", data, tmp_path / "two", cfg, seqs=seqs, subjects=["sa", "sb"], executor=ex)
    assert pooled["tables"] == alone["tables"]
    assert (tmp_path / "two" / "predictions.csv").read_bytes() == (tmp_path / "one" / "predictions.csv").read_bytes()


def test_fold_threshold_is_chosen_on_training_subjects_only(tmp_path):
    """Changing the test subject's labels must not change the fold's p or its training-F1 table."""
    data, seqs = tiny_data()
    cfg = SpotTrainConfig(epochs=1, batch=16, size=32, kinds=("me",), p_grid=(0.3, 0.5, 0.7, 0.9), min_contrast=None,
                          floor=None)
    s = run_loso("refcnn3d", data, tmp_path / "a", cfg, seqs=seqs, subjects=["sc"])
    info = s["folds"][0]["kinds"]["me"]
    scores = {float(k): v for k, v in info["p_train_f1"].items()}
    assert set(scores) == {0.3, 0.5, 0.7, 0.9}
    assert info["p"] == max(scores, key=lambda q: (scores[q], q))  # the best on the training subjects
    moved = data.gt.copy()
    moved.loc[moved["subject"] == "sc", ["onset", "offset"]] = [[140, 150], [5, 12]]
    s2 = run_loso("refcnn3d", SpotData("tiny-moved", data.videos, moved), tmp_path / "b", cfg, seqs=seqs,
                  subjects=["sc"])
    info2 = s2["folds"][0]["kinds"]["me"]
    assert info2["p_train_f1"] == info["p_train_f1"] and info2["p"] == info["p"]


def test_exclude_other_keeps_the_other_type_out_of_training(tmp_path, monkeypatch):
    """exclude_other: the ME model's training sequences lose the MaE frames (only those), the test side is
    untouched; off by default; MESNet refuses it."""
    from dataclasses import replace

    from microexp.errors import ConfigError
    from microexp.spotting import registry, train
    from microexp.spotting.train import train_fold, without_spans

    data, seqs = tiny_data()
    mae = pd.DataFrame([("a", "sa", 60, 75, "mae"), ("b", "sb", 10, 19, "mae")], columns=data.gt.columns)
    data = SpotData("tiny-mixed", data.videos, pd.concat([data.gt, mae], ignore_index=True))
    seen = {}
    entry = registry.get("refcnn3d")

    def spy(train_seqs, spans, cfg, seed, kind, progress=None):
        seen[cfg.exclude_other, kind] = [np.asarray(s.face, bool).copy() for s in train_seqs]
        return entry.fit(train_seqs, spans, cfg, seed, kind, progress)

    real = train._trainable
    monkeypatch.setattr(train, "_trainable", lambda name: replace(entry, fit=spy) if name == "refcnn3d" else real(name))
    ckpts = {}
    for flag in (False, True):
        cfg = SpotTrainConfig(epochs=1, batch=16, size=32, p=0.6, exclude_other=flag)
        ckpts[flag] = train_fold("refcnn3d", data, seqs, "sc", cfg)[0]
    for flag, ck in ckpts.items():  # the flag travels with the checkpoint (spot applies the ME/MaE rule)
        assert entry.unpack(ck["models"]["me"], 1.0)[1]["exclude_other"] is flag
    a, b = seqs["a"], seqs["b"]
    assert all((f == np.asarray(s.face, bool)).all() for f, s in zip(seen[False, "me"], (a, b)))
    fa, fb = seen[True, "me"]
    gone_a = np.asarray(a.face, bool) & ~fa
    assert set(np.flatnonzero(gone_a)) == set(range(60, 76)) & set(np.flatnonzero(np.asarray(a.face, bool)))
    assert not fb[10:20].any() and (fb[20:] == np.asarray(b.face, bool)[20:]).all()
    ma, _ = seen[True, "mae"]  # the MaE model loses the ME frames instead
    assert not ma[30:38].any() and not ma[90:98].any() and (ma[60:76] == np.asarray(a.face, bool)[60:76]).all()
    assert without_spans(a, []) is a and np.asarray(a.face, bool)[60:76].any()  # the cached sequence is unchanged
    with pytest.raises(ConfigError, match="refcnn3d only"):
        train_fold("mesnet", data, seqs, "sc", SpotTrainConfig(epochs=1, size=32, exclude_other=True))
    r = CliRunner().invoke(app, ["train", "spotter", "--spotter", "mesnet", "--exclude-other", "--data",
                                 f"synth:{tmp_path / 'in'}", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "refcnn3d only" in r.output


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Two 'videos' (links to one real face clip) with made-up labels: exercises the real decode path."""
    src = shared_path("video", "single_face.mp4")
    d = tmp_path_factory.mktemp("suite")
    for v in ("v000", "v001"):
        (d / f"{v}.mp4").symlink_to(src)
    pd.DataFrame([("v000", "p1", 20, 24, 28, "me", "x", ""), ("v001", "p2", 30, 34, 38, "me", "x", "")],
                 columns=["video", "subject", "onset", "apex", "offset", "type", "emotion", "au"]
                 ).to_csv(d / "index.csv", index=False)
    return d


@pytest.fixture(scope="module")
def crop_cache(tmp_path_factory):
    """One crop cache for the CLI tests of this module: the clip's faces are tracked once."""
    return tmp_path_factory.mktemp("cache")


def test_synth_suite_loader(suite):
    data = load_spot_data(f"synth:{suite}")
    assert [v.subject for v in data.videos] == ["p1", "p2"] and data.videos[0].fps == pytest.approx(30)
    assert data.gt["onset"].tolist() == [20, 30]


def test_cli_train_then_spot_with_weights(suite, tmp_path, monkeypatch, crop_cache):
    monkeypatch.setenv("MICROEXP_CACHE", str(crop_cache))
    runner = CliRunner()
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "spotter", "--spotter", "refcnn3d", "--data", f"synth:{suite}", "--out",
                            str(out), "--epochs", "1", "--size", "32", "--types", "me", "--p", "0.6", "--final"])
    assert r.exit_code == 0, r.output
    assert (out / "predictions.csv").is_file() and (out / "megc_softnet.csv").is_file()
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    weights = out / "folds" / "p1.weights.pt"
    from microexp.features import cache

    def no_decode(*a, **k):
        raise AssertionError("crops decoded again although training cached them")

    monkeypatch.setattr(cache, "_build", no_decode)  # training filled the crop cache: spot must not decode
    r = runner.invoke(app, ["spot", str(suite / "v000.mp4"), "--spotter", "refcnn3d", "--weights", str(weights),
                            "-o", str(tmp_path / "spot")])
    assert r.exit_code == 0, r.output
    iv = pd.read_csv(tmp_path / "spot" / "intervals.csv")
    assert set(iv["type"]) <= {"me"}  # may be empty for a 1-epoch model: the curve below shows what was run
    z = np.load(tmp_path / "spot" / "scores.npz")
    assert z["score"].shape == (72,) and z["displacement"].shape == (72, 1)  # one model: the ME one
    assert list(z["channels"]) == ["me"]
    r = runner.invoke(app, ["spot", str(suite / "v000.mp4"), "--spotter", "mesnet", "--weights", str(weights)])
    assert r.exit_code == 2 and "refcnn3d" in r.output
    from microexp.spotting.registry import load_checkpoint

    final = load_checkpoint(out / "model.pt", "refcnn3d")  # --final: every subject, the registry's format
    assert final["info"]["n_train_videos"] == 2 and set(final["models"]) == {"me"}
    r = runner.invoke(app, ["spot", str(suite / "v001.mp4"), "--spotter", "refcnn3d", "--weights", str(out / "model.pt"),
                            "-o", str(tmp_path / "spot2")])
    assert r.exit_code == 0, r.output


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["train", "spotter", "--spotter", "nope", "--data", "synth:/x", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "refcnn3d" in r.output
    r = runner.invoke(app, ["train", "spotter", "--data", f"synth:{tmp_path}/missing", "--out", str(tmp_path)])
    assert r.exit_code == 2


def test_dataset_spec_loads_a_long_video_dataset(tmp_path):
    """`--data samm_lv:ROOT` goes through the dataset registry: frame folders, subjects, 0-based typed GT."""
    root = tmp_path / "SAMM_LV"
    root.mkdir()
    rows = [["006", "006_1_1", 1, 2, 3, 5, 4, "Macro", "4"], ["006", "006_1_2", 1, 6, 7, 8, 3, "Micro - 1/2", "4+7"],
            ["007", "007_3_1", 1, 3, 4, 6, 4, "Micro - 1/2", "12"]]
    pd.DataFrame(rows, columns=["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
                                "Type", "Action Units"]).to_excel(root / "SAMM_LongVideos_V2_Release.xlsx", index=False)
    for v in ("006_1", "007_3"):
        d = root / "SAMM_longvideos" / v
        d.mkdir(parents=True)
        for n in range(1, 11):
            (d / f"{v}_{n:04d}.jpg").write_bytes(b"")
    data = load_spot_data(f"samm_lv:{root}")
    assert [(v.video, v.subject, v.fps) for v in data.videos] == [("006_1", "006", 200.0), ("007_3", "007", 200.0)]
    assert data.gt[["video", "onset", "offset", "type"]].values.tolist() == [
        ["006_1", 1, 4, "mae"], ["006_1", 5, 7, "me"], ["007_3", 2, 5, "me"]]  # frame 1 of the folder is 0
    with pytest.raises(Exception, match="long-video|spotting"):
        load_spot_data(f"casme2:{root}")


def test_cli_spot_with_a_mesnet_checkpoint(suite, tmp_path, monkeypatch, crop_cache):
    """`spot --model mesnet --weights W`: windows over the video, intervals typed by the model, curves saved."""
    from dataclasses import asdict

    from microexp.spotting.mesnet import MESNetConfig, build_mesnet

    monkeypatch.setenv("MICROEXP_CACHE", str(crop_cache))
    torch.manual_seed(0)
    net = build_mesnet(MESNetConfig(anchors=(4, 5, 6, 7, 8), size=32, channels=(4, 4, 8, 8), window=32, stride=16))
    from microexp.spotting.registry import save_checkpoint

    weights = save_checkpoint(tmp_path / "mesnet.pt", {"arch": "mesnet", "size": 32, "fps": 30.0, "models": {
        "me": {"config": asdict(net.cfg), "state_dict": net.state_dict(), "threshold": 0.0}}})
    r = CliRunner().invoke(app, ["spot", str(suite / "v000.mp4"), "--spotter", "mesnet", "--weights", str(weights),
                                 "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    iv = pd.read_csv(tmp_path / "out" / "intervals.csv")
    assert len(iv) >= 1 and set(iv["type"]) == {"me"}  # threshold 0 keeps every clip that survives NMS
    assert ((iv["onset"] >= 0) & (iv["offset"] <= 71) & (iv["onset"] < iv["offset"])).all()
    z = np.load(tmp_path / "out" / "scores.npz")
    assert z["score"].shape == (72,) and np.isfinite(z["score"]).all()


def test_me_intervals_inside_a_mae_are_set_aside_only_for_an_exclude_other_model():
    from microexp.records import Interval
    from microexp.spotting.learned import set_aside_me_in_mae

    found = {"me": [Interval(10, 12, 14, "me"), Interval(40, 42, 44, "me"), Interval(60, 61, 62, "me")],
             "mae": [Interval(30, 40, 50, "mae"), Interval(62, 70, 80, "mae")]}
    kept = set_aside_me_in_mae(found, {"me": {"exclude_other": True}, "mae": {}})
    assert [iv.onset for iv in kept["me"]] == [10] and kept["mae"] == found["mae"]  # touching at 62 overlaps
    assert set_aside_me_in_mae(found, {"me": {"exclude_other": False}, "mae": {}}) == found
    assert set_aside_me_in_mae({"me": found["me"]}, {"me": {"exclude_other": True}}) == {"me": found["me"]}
