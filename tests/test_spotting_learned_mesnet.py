"""MESNet pieces with worked answers (spec mesnet.md §3) and a tiny end-to-end fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_spotting_learned import synth_seq

from microexp.spotting import mesnet
from microexp.spotting.train import SpotTrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_anchor_quantiles_and_dilations():
    # CAS(ME)^2 ME-like lengths 9..17 -> quantiles inside that range, five of them, increasing
    a = mesnet.anchors_from_lengths(np.arange(9, 18))
    assert len(a) == 5 and list(a) == sorted(a) and 9 <= a[0] and a[-1] <= 17
    # SAMM ÷4 subsampling divides the lengths
    assert mesnet.anchors_from_lengths([80, 80, 80], subsample=4) == (20,) * 5
    cfg = mesnet.MESNetConfig(anchors=(10, 12, 14, 15, 17))
    assert cfg.dilations() == (2, 3, 4, 4, 4)


def test_anchor_labels_pos_neg_ignore():
    y = mesnet.cpn_targets(40, (10,), [(10, 19)], 0.5, 0.3)
    # anchor at t covers [t−5, t+4]: t = 15 matches the GT exactly
    assert y[0, 15] == 1
    assert y[0, 35] == 0
    # partial overlap between the thresholds is ignored: IoU([7,16],[10,19]) = 7/13 ≈ 0.54 -> positive;
    # IoU([4,13],[10,19]) = 4/16 = 0.25 -> negative; IoU([5,14],[10,19]) = 5/15 = 0.33 -> ignored
    assert y[0, 12] == 1 and y[0, 9] == 0 and y[0, 10] == -1
    assert (mesnet.cpn_targets(40, (10,), [(10, 19)], 0.5, 0.3, valid=30)[:, 30:] == -1).all()


def test_regression_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    prop = np.sort(rng.uniform(0, 100, (50, 2)), axis=1) + [[0, 1]]
    gt = np.sort(rng.uniform(0, 100, (50, 2)), axis=1)
    np.testing.assert_allclose(mesnet.decode(prop, mesnet.encode(prop, gt)), gt, atol=1e-9)


def test_windows_cover_and_map_back():
    assert mesnet.window_starts(100, 256, 128) == [0]
    st = mesnet.window_starts(600, 256, 128)
    assert st == [0, 128, 256, 344]
    covered = np.zeros(600, bool)
    for s in st:
        covered[s:s + 256] = True
    assert covered.all()


def test_roi_resample_is_linear_interpolation():
    s = torch.arange(20, dtype=torch.float32).repeat(3, 1)  # value = time index
    out = mesnet.roi_resample(s, torch.tensor([[4.0, 12.0]]), 5, 0.0)
    np.testing.assert_allclose(out[0, 0].numpy(), [4, 6, 8, 10, 12], atol=1e-6)


def test_tiny_fit_finds_events_and_checkpoint_round_trip():
    events = {0: [(30, 37), (90, 97), (150, 158)], 1: [(50, 57), (120, 127)], 2: [(20, 27), (100, 107)]}
    seqs = [synth_seq(200, ev, s, size=32, texture=7) for s, ev in events.items()]
    cfg = SpotTrainConfig(batch=4, size=32, epochs=8, lr=1e-3,
                          model={"window": 64, "stride": 32, "channels": (8, 16, 32, 32)})
    model, meta = mesnet.fit_mesnet(seqs[:2], [events[0], events[1]], cfg, seed=0)
    assert meta["subsample"] == 1 and len(meta["anchors"]) == 5 and meta["alpha"] > 1
    found = mesnet.spot_sequence(model, seqs[2], "me", meta["threshold"])
    hits = [g for g in events[2] if any(max(0, min(iv.offset, g[1]) - max(iv.onset, g[0]) + 1)
                                        / ((iv.offset - iv.onset + 1) + (g[1] - g[0] + 1)
                                           - max(0, min(iv.offset, g[1]) - max(iv.onset, g[0]) + 1)) >= 0.5
                                        for iv in found)]
    assert len(hits) == 2
    curve = mesnet.frame_curve(model, seqs[2])
    assert curve.shape == (200,)
    # no face on 90-130 (the event 100-107 included): no interval touches those frames, the curve is 0 there
    hidden = dataclasses.replace(seqs[2], face=np.r_[np.ones(90, bool), np.zeros(41, bool), np.ones(69, bool)])
    kept = mesnet.spot_sequence(model, hidden, "me", meta["threshold"])
    assert not any(iv.onset <= 130 and 90 <= iv.offset for iv in kept)
    assert any(iv.onset <= 100 and 107 <= iv.offset for iv in found)  # without the mask it was found
    assert {iv for iv in found if iv.offset < 90 or iv.onset > 130} <= set(kept)  # the rest stays
    assert (mesnet.frame_curve(model, hidden)[90:131] == 0).all()
    again, m2 = mesnet.SPOTTER.unpack(mesnet.SPOTTER.pack(model, meta))
    assert m2["threshold"] == meta["threshold"]
    assert mesnet.spot_sequence(again, seqs[2], "me", meta["threshold"]) == found


def test_class_weight_corrects_the_imbalance_once():
    """α balances the anchors an epoch draws (half from positive windows), not the raw windows."""
    pos = [10, 0, 0, 0]  # one window with 10 positive anchors, three without
    neg = [90, 100, 100, 100]
    raw = sum(neg) / sum(pos)  # 39: what α was before, on top of the oversampling
    a = mesnet.class_weight(pos, neg, [0], pos_share=0.5)
    # an epoch draws window 0 with probability 0.5 + 0.5/4 = 0.625: E[pos] = 6.25, E[neg] = 0.625*90 + 0.375*100
    assert a == pytest.approx((0.625 * 90 + 0.375 * 100) / 6.25)
    assert a < raw / 2
    # weighted positives equal the negatives in expectation: the loss sees the classes balanced once
    assert a * 6.25 == pytest.approx(0.625 * 90 + 0.375 * 100)
    assert mesnet.class_weight(pos, neg, [0], pos_share=0.0) == pytest.approx(raw)  # no oversampling: N_neg/N_pos
