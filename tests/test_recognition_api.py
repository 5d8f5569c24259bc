"""The shipped default recogniser, checkpoints, the flow encoding and the ``recognize`` entry points."""

from __future__ import annotations

import numpy as np
import pytest

import microexp
from microexp.errors import InputError, ModelError
from microexp.recognition.api import Recognition, encode_flow, flow_from_faces, recognize, recognize_flow
from microexp.recognition.registry import build, make_config
from microexp.recognition.weights import default_weights_path, load_checkpoint, save_checkpoint

from conftest import shared_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_default_weights_shipped_small_with_model_card():
    p = default_weights_path()
    assert p.is_file() and p.stat().st_size < 5_000_000
    card = p.with_suffix(".md").read_text()
    assert "LOSO" in card and "negative" in card and "microexp train recognizer" in card
    model, info = load_checkpoint(p)
    assert info["classes"] == ["negative", "positive", "surprise"]
    assert info["meta"]["loso"]["select"].split(" ")[0] in ("last", "inner-val")  # honest numbers, never oracle


def test_recognize_flow_shapes_and_probabilities():
    x = np.random.default_rng(0).random((5, 3, 28, 28), dtype=np.float32)
    labels, probs = recognize_flow(x)
    assert len(labels) == 5 and probs.shape == (5, 3)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert all(lab in ("negative", "positive", "surprise") for lab in labels)
    assert recognize_flow(x[0])[1].shape == (1, 3)
    with pytest.raises(InputError):
        recognize_flow(np.zeros((2, 2, 28, 28), dtype=np.float32))
    with pytest.raises(InputError):
        recognize_flow(np.full((1, 3, 28, 28), np.nan, dtype=np.float32))


def test_encode_flow_range_channels_and_guards():
    yy, xx = np.mgrid[0:100, 0:80].astype(np.float32)
    flow = np.dstack([xx / 80.0, -yy / 100.0])  # u grows to the right, v decreases downwards
    e = encode_flow(flow)
    assert e.shape == (3, 28, 28) and e.dtype == np.float32
    assert e.min() >= 0 and e.max() <= 1
    assert e[0, :, -1].mean() > e[0, :, 0].mean() and e[1, -1].mean() < e[1, 0].mean()
    with pytest.raises(InputError):
        encode_flow(np.zeros((10, 10, 3), np.float32))


def test_checkpoint_roundtrip_and_bad_file(tmp_path):
    cfg = make_config("ststnet")
    model = build("ststnet", cfg)
    p = save_checkpoint(tmp_path / "m.pt", "ststnet", model, cfg, {"note": "x"})
    again, info = load_checkpoint(p)
    x = np.random.default_rng(1).random((2, 3, 28, 28), dtype=np.float32)
    a = recognize_flow(x, weights=p)[1]
    model.eval()
    import torch

    with torch.no_grad():
        b = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    assert np.allclose(a, b, atol=1e-6) and info["meta"]["note"] == "x"
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "missing.pt")


def test_recognize_on_a_real_onset_apex_pair():
    from PIL import Image, ImageSequence

    gif = shared_path("realdata", "christy1206__biwoof", "s03_s03_po_11.gif")
    frames = [np.array(f.convert("L")) for f in ImageSequence.Iterator(Image.open(gif))]
    onset, apex = frames[0][29:199, 86:226], frames[-1][29:199, 86:226]  # the face inside the GIF canvas
    r = recognize(onset, apex)
    assert isinstance(r, Recognition) and r.emotion in r.probabilities
    assert sum(r.probabilities.values()) == pytest.approx(1, abs=1e-5)
    r2 = microexp.recognize(onset, apex)
    assert r2.probabilities == r.probabilities  # deterministic
    with pytest.raises(InputError):
        flow_from_faces(onset, apex[:-3])


def test_model_card_never_quotes_oracle_numbers(tmp_path):
    import json

    from test_recognition_loso import synthetic

    from microexp.recognition.fit import fit_recognizer
    from microexp.recognition.train import TrainConfig

    m = {"all": {"n": 36, "uf1": 0.5, "uar": 0.5, "accuracy": 0.5}}
    oracle = {"select": "ORACLE (test-selected)", "oracle": True, "metrics": {"all": {**m["all"], "uf1": 0.99}}}
    p = tmp_path / "summary.json"
    p.write_text(json.dumps(oracle))
    with pytest.raises(InputError):
        fit_recognizer("ststnet", synthetic(), tmp_path / "a.pt", train_config=TrainConfig(epochs=1), loso_summary=p)
    p.write_text(json.dumps({**oracle, "last_epoch_metrics": m}))
    meta = fit_recognizer("ststnet", synthetic(), tmp_path / "b.pt", train_config=TrainConfig(epochs=1),
                          loso_summary=p)
    assert meta["loso"]["select"].startswith("last") and meta["loso"]["metrics"]["all"]["uf1"] == 0.5
    card = (tmp_path / "b.md").read_text()
    assert "0.5000" in card and "0.99" not in card
