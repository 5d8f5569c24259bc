"""`microexp loso`, `microexp train recognizer` and `microexp recognize` on a tiny fake HTNet-layout folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_htnet import write_htnet
from typer.testing import CliRunner

from microexp.cli.main import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")


runner = CliRunner()


@pytest.fixture(scope="module")
def fake_htnet(tmp_path_factory):
    formats = {"sub01": "EP0{}_01f", "006": "006_1_{}", "s01": "s01_ne_0{}"}

    def cue(rng, label):  # a fixed class cue in one channel (stored BGR by cv2)
        img = (rng.random((28, 28, 3)) * 80).astype(np.uint8)
        img[:, :, 2 - label] += 150
        return img

    return write_htnet(tmp_path_factory.mktemp("htnet"), cue, per_subject=4,
                       subjects=(("casme2", ("sub01",)), ("samm", ("006",)), ("smic", ("s01",))),
                       clip=lambda sub, k: formats[sub].format(k))


def test_loso_cli_writes_outputs_and_resumes(fake_htnet, tmp_path):
    out = tmp_path / "run"
    args = ["loso", "--model", "ststnet", "--data", f"composite-flow:{fake_htnet}", "--select", "last",
            "--out", str(out), "--epochs", "2", "--seed", "0", "--subjects", "samm/006,smic/s01"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "UF1" in r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["folds"] == 2 and s["samples"] == 8 and s["select"] == "last"
    r2 = runner.invoke(app, args)  # resume: nothing to train, same summary
    assert r2.exit_code == 0
    assert json.loads((out / "summary.json").read_text())["metrics"] == s["metrics"]


def test_loso_cli_errors_are_one_line_exit_2(fake_htnet, tmp_path):
    r = runner.invoke(app, ["loso", "--data", "nonsense", "--out", str(tmp_path)])
    assert r.exit_code == 2
    r = runner.invoke(app, ["loso", "--data", f"composite-flow:{fake_htnet}", "--out", str(tmp_path),
                            "--select", "best"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["loso", "--data", f"composite-flow:{tmp_path / 'missing'}", "--out", str(tmp_path)])
    assert r.exit_code == 2


def test_train_recognizer_then_recognize(fake_htnet, tmp_path):
    out = tmp_path / "rec.pt"
    r = runner.invoke(app, ["train", "recognizer", "--model", "ststnet", "--data", f"composite-flow:{fake_htnet}",
                            "--out", str(out), "--epochs", "3", "--lr", "0.005"])
    assert r.exit_code == 0, r.output
    card = out.with_suffix(".md").read_text()
    assert "microexp train recognizer" in card and "--epochs 3" in card
    png = next((fake_htnet / "datasets" / "STSNet_whole_norm_u_v_os").glob("*.png"))
    r = runner.invoke(app, ["recognize", "--flow-image", str(png), "--weights", str(out), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows[0]["emotion"] in ("negative", "positive", "surprise")
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    r = runner.invoke(app, ["recognize"])  # nothing to recognise
    assert r.exit_code == 2


def test_train_recognizer_is_deterministic(fake_htnet, tmp_path):
    import torch

    args = ["train", "recognizer", "--model", "ststnet", "--data", f"composite-flow:{fake_htnet}", "--epochs", "2",
            "--seed", "3"]
    for name in ("a.pt", "b.pt"):
        r = runner.invoke(app, args + ["--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    a, b = (torch.load(tmp_path / n, weights_only=True)["state_dict"] for n in ("a.pt", "b.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a)
