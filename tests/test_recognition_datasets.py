"""`microexp loso --data casme2:ROOT --protocol casme2-5class` end to end on a synthetic CASME II in the real
layout (sheet + CASME2_RAW_selected/subNN/EPxx_yy/imgN.jpg): registry -> face track + crop cache -> inputs ->
LOSO on the experiment layer, for the paper configurations and STSTNet (tiny epochs: the numbers mean nothing)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fake_htnet import write_htnet
from typer.testing import CliRunner

from microexp.cli.main import app
from microexp.errors import ConfigError
from microexp.recognition.samples import InputSpec, hsv_flow, load_dataset_set, load_for_model
from microexp.synth.layouts import LayoutConfig, write_casme2

pytestmark = pytest.mark.usefixtures("one_torch_thread")
runner = CliRunner()


@pytest.fixture(scope="module")
def casme2_root(tmp_path_factory):
    return write_casme2(tmp_path_factory.mktemp("casme2"), LayoutConfig(subjects=2, clips_per_subject=3))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROEXP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_layout_reads_back_and_builds_every_input(casme2_root, cache):
    data = load_dataset_set("casme2", casme2_root, "casme2-5class", InputSpec("flow28"), cache_dir=cache)
    assert data.X.shape == (6, 3, 28, 28) and data.classes[0] == "happiness"
    assert sorted(data.index["emotion"].unique()) == ["disgust", "happiness", "surprise"]
    assert set(data.index["subject_key"]) == {"casme2/01", "casme2/02"}
    assert 0 <= data.X.min() and data.X.max() <= 1 and data.X.std() > 0.05  # real motion, not a blank encoding
    frames = load_dataset_set("casme2", casme2_root, "casme2-5class", InputSpec("frames224", size=224),
                              cache_dir=cache)
    assert frames.X.shape == (6, 6, 224, 224)
    assert not np.allclose(frames.X[:, :3], frames.X[:, 3:])  # onset and apex differ
    seq = load_dataset_set("casme2", casme2_root, "casme2-5class", InputSpec("flowseq384", size=32, frames=3),
                           cache_dir=cache)
    assert seq.X.shape == (6, 3, 3, 32, 32)
    apex = load_dataset_set("casme2", casme2_root, "casme2-5class", InputSpec("flow28+apex"), cache_dir=cache)
    assert apex.inputs(with_apex=True).shape == (6, 6, 28, 28)
    with pytest.raises(ConfigError):
        load_dataset_set("samm", casme2_root, "casme2-5class", InputSpec())
    with pytest.raises(ConfigError):
        load_for_model(f"casme2:{casme2_root}", "ststnet", protocol="casme3-7class")


def test_hsv_flow_encodes_direction_and_magnitude():
    flow = np.zeros((8, 8, 2), np.float32)
    flow[:, 4:, 0] = 2.0  # right half moves right
    img = hsv_flow(flow)
    assert img.shape == (8, 8, 3) and img[:, :4].max() == 0 and img[:, 4:].max() == 255


@pytest.mark.parametrize("model", ["ststnet", "mmnet", "slstt"])
def test_loso_cli_on_casme2_layout(casme2_root, cache, tmp_path, model):
    out = tmp_path / model
    args = ["loso", "--model", model, "--data", f"casme2:{casme2_root}", "--protocol", "casme2-5class",
            "--out", str(out), "--epochs", "1", "--seed", "0"]
    if model == "slstt":  # the paper model reads a user-supplied ViT weights file; a 1-layer one keeps it small
        from microexp.recognition.slstt import SLSTTConfig, build_slstt

        small = {"img": 32, "depth": 1, "frames": 2}
        weights = tmp_path / "vit.pth"
        torch.save(build_slstt(SLSTTConfig(allow_scratch=True, **small)).vit.state_dict(), weights)
        args += ["--weights", str(weights), "--model-config", json.dumps(small)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["folds"] == 2 and s["samples"] == 6 and s["config"].startswith(model + " (")
    assert s["model_config"]["num_classes"] == 5
    assert (out / "confusion.png").is_file() and (out / "predictions.csv").is_file()
    r2 = runner.invoke(app, args)  # resumable: same settings reuse the finished folds
    assert r2.exit_code == 0 and json.loads((out / "summary.json").read_text())["metrics"] == s["metrics"]


def test_paper_model_refuses_composite_flow(tmp_path):
    (tmp_path / "flows").mkdir()
    r = runner.invoke(app, ["loso", "--model", "mmnet", "--data", f"composite-flow:{tmp_path / 'flows'}", "--out",
                            str(tmp_path / "o")])
    assert r.exit_code == 2 and "mmnet-flow" in r.output


def test_samm_layout_with_title_rows_reads_back(tmp_path, cache):
    from microexp.synth.layouts import write_samm

    root = write_samm(tmp_path / "samm", LayoutConfig(subjects=2, clips_per_subject=2, first_frame=5562))
    data, over = load_for_model(f"samm:{root}", "ststnet")
    assert over == {"num_classes": 5} and data.X.shape == (4, 3, 28, 28)
    assert data.index.attrs["protocol"] == "samm-5class" and data.classes[0] == "anger"
    assert set(data.index["subject_key"]) == {"samm/006", "samm/007"}


def test_fit_on_a_protocol_writes_its_classes_and_input(casme2_root, cache, tmp_path):
    import dataclasses

    from microexp.errors import ModelError
    from microexp.recognition.api import recognize_flow
    from microexp.recognition.fit import fit_recognizer
    from microexp.recognition.registry import get_arch
    from microexp.recognition.weights import load_checkpoint

    for model in ("ststnet", "mmnet"):
        data, over = load_for_model(f"casme2:{casme2_root}", model)
        tcfg = dataclasses.replace(get_arch(model).train, epochs=1)
        meta = fit_recognizer(model, data, tmp_path / f"{model}.pt", train_config=tcfg, model_overrides=over)
        assert meta["trained_on"].startswith("casme2-5class protocol from")
        m, info = load_checkpoint(tmp_path / f"{model}.pt")
        assert info["classes"][0] == "happiness" and len(info["classes"]) == 5
        card = (tmp_path / f"{model}.md").read_text()
        assert "5 classes" in card and get_arch(model).label in card
    assert info["input"] == "frames224"
    with pytest.raises(ModelError):  # a 224 px RGB model cannot read 28 x 28 flow encodings
        recognize_flow(np.zeros((1, 3, 28, 28), np.float32), weights=tmp_path / "mmnet.pt")
    labels, probs = recognize_flow(np.zeros((2, 3, 28, 28), np.float32), weights=tmp_path / "ststnet.pt")
    assert probs.shape == (2, 5) and set(labels) <= {"happiness", "repression", "disgust", "surprise", "others"}


def test_casme3_protocols_on_the_real_me_sheet():
    from microexp.datasets.registry import read_annotations
    from microexp.recognition.samples import get_protocol, protocol_rows

    from conftest import shared_path

    sheet = shared_path("annotations", "casme3", "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx")
    df = read_annotations("casme3", sheet)
    seven = protocol_rows(df, get_protocol("casme3-7class"))
    assert len(seven) == 860 and seven["label"].max() == 6
    four = protocol_rows(df, get_protocol("casme3-4class"))
    counts = four["label"].value_counts().sort_index().tolist()
    assert counts == [250 + 86 + 64 + 57, 55, 187, 161]  # negative, positive, surprise, others (both 'others' cases)


def test_composite_holdout_database_protocol(tmp_path):

    from microexp.experiments.splits import loso_splits
    from microexp.recognition.samples import holdout_database

    write_htnet(tmp_path, lambda rng, k: np.full((28, 28, 3), 40 * k + 20, np.uint8), per_subject=2,
                clip=lambda sub, k: f"{sub}c{k}", label=lambda k: k)
    data, over = load_for_model(f"composite-flow:{tmp_path}", "ststnet", protocol="composite-holdout")
    assert over == {} and data.index.attrs["protocol"] == "composite-holdout"
    folds = loso_splits(data.index, "subject", dataset_col="dataset")
    assert len(folds) == 3
    for f in folds:  # each fold tests one whole database and trains on the two others
        tested = set(data.index["dataset"].iloc[f.test_idx])
        trained = set(data.index["dataset"].iloc[f.train_idx])
        assert len(tested) == 1 and not tested & trained and len(trained) == 2
        assert len(f.test_idx) == 4
    assert data.index["subject_orig"].nunique() == 6  # the real subjects are kept next to the fold key
    with pytest.raises(ConfigError):
        load_for_model(f"composite-flow:{tmp_path}", "ststnet", protocol="casme2-5class")
    one = data.index[data.index["dataset"] == "samm"]
    with pytest.raises(Exception, match="two databases"):
        holdout_database(type(data)(data.X[one.index], one.reset_index(drop=True), data.root))


def test_smic_layout_without_apex_uses_the_flagged_midpoint(tmp_path, cache):
    from microexp.synth.layouts import write_smic

    root = write_smic(tmp_path / "smic", LayoutConfig(subjects=2, clips_per_subject=3))
    data, over = load_for_model(f"smic:{root}", "ststnet")
    assert over == {"num_classes": 3} and data.X.shape == (6, 3, 28, 28)
    idx = data.index
    assert idx["apex_estimated"].all() and ((idx["apex"] - idx["onset"]) * 2 >= idx["offset"] - idx["onset"] - 1).all()
    assert sorted(idx["emotion"].unique()) == ["negative", "positive", "surprise"]  # from the clip names


@pytest.mark.parametrize("name", ["casme3", "mmew", "4dme"])
def test_more_layouts_run_loso_end_to_end(name, tmp_path, cache):
    """CAS(ME)^3 Part A, MMEW and 4DME in their distributed (MMEW/4DME: MEB's, unconfirmed) layouts: the default
    protocol's classes, subject folds, and `microexp loso` finishing on them."""
    from microexp.recognition.samples import DEFAULT_PROTOCOL, get_protocol
    from microexp.synth import layouts

    root = getattr(layouts, f"write_{name}")(tmp_path / name, LayoutConfig(subjects=2, clips_per_subject=3,
                                                                             first_frame=1))
    proto = get_protocol(DEFAULT_PROTOCOL[name])
    data, over = load_for_model(f"{name}:{root}", "ststnet")
    assert over == {"num_classes": len(proto.classes)} and data.X.shape == (6, 3, 28, 28)
    assert data.index.attrs["protocol"] == proto.name and data.index["subject_key"].nunique() == 2
    assert set(data.index["label"]) == {proto.classes.index(proto.mapping[e]) for e in data.index["emotion"]}
    assert data.X.std() > 0.05
    out = tmp_path / "run"
    r = runner.invoke(app, ["loso", "--model", "ststnet", "--data", f"{name}:{root}", "--out", str(out),
                            "--epochs", "1", "--seed", "0"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["folds"] == 2 and s["samples"] == 6 and s["model_config"]["num_classes"] == len(proto.classes)


@pytest.fixture(scope="module")
def composite_roots(tmp_path_factory):
    from microexp.synth.layouts import write_samm, write_smic

    base = tmp_path_factory.mktemp("composite")
    cfg = LayoutConfig(subjects=2, clips_per_subject=2)
    return {"casme2": write_casme2(base / "casme2", cfg), "samm": write_samm(base / "samm", LayoutConfig(
        subjects=2, clips_per_subject=2, first_frame=5562)), "smic": write_smic(base / "smic", cfg)}


def test_composite_from_three_roots(composite_roots, tmp_path, cache):
    """`--data composite:casme2=..,samm=..,smic=..`: the guideline's per-database mapping to 3 classes, subjects
    keyed by database, an official list narrowing the samples, and the hold-out-database protocol."""
    spec = ",".join(f"{k}={v}" for k, v in composite_roots.items())
    data, over = load_for_model(f"composite:{spec}", "ststnet")
    assert over == {"num_classes": 3} and data.classes == ("negative", "positive", "surprise")
    idx = data.index
    assert len(idx) == 12 and sorted(idx["dataset"].unique()) == ["casme2", "samm", "smic"]
    assert idx["subject_key"].nunique() == 6  # casme2/01 and smic/s01 never share a fold
    want = {("casme2", "disgust"): 0, ("casme2", "happiness"): 1, ("samm", "anger"): 0, ("samm", "happiness"): 1,
            ("smic", "negative"): 0, ("smic", "surprise"): 2}
    for d, e, lab in zip(idx["dataset"], idx["emotion"].str.lower(), idx["label"], strict=True):
        assert want.get((d, e), lab) == lab, (d, e, lab)
    # an official list keeps exactly its samples (SMIC written s01_ne_01 there, s1_ne_01 on disk)
    keep = idx.iloc[[0, 5, 9]]
    lines = [f"{d},{'s0' + s[1:] if d == 'smic' else s},{c.replace('s1_', 's01_').replace('s2_', 's02_')},{lab}"
             for d, s, c, lab in zip(keep["dataset"], keep["subject"], keep["clip"], keep["label"], strict=True)]
    listed = tmp_path / "combined_3class_gt.csv"
    listed.write_text("\n".join(lines) + "\n")
    few, _ = load_for_model(f"composite:{spec},list={listed}", "ststnet")
    assert sorted(few.index["sample"]) == sorted(keep["sample"])
    hold, _ = load_for_model(f"composite:{spec}", "ststnet", protocol="composite-holdout")
    assert hold.index["subject_key"].nunique() == 3
    for bad in ("casme2", "casme2=/x,foo=/y", "list=/x"):
        with pytest.raises(ConfigError):
            load_for_model(f"composite:{bad}", "ststnet")
