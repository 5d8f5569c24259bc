"""Learned spotters on tiny synthetic crop sequences: labels, k, training signal, checkpoints, resumable LOSO."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from microexp.features.cache import CropSequence
from microexp.spotting.refcnn3d import (
    LCN,
    RefCNN3DConfig,
    build_refcnn3d,
    clamp_refs,
    fit_refcnn3d,
    frame_labels,
    k_from_durations,
    refcnn3d_curve,
    score_video,
)
from microexp.spotting.train import SpotTrainConfig

SIZE = 32
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synth_seq(n: int, events: list[tuple[int, int]], seed: int, size: int = SIZE,
              texture: int | None = None) -> CropSequence:
    """Static random texture (the 'face'); during each event its lower part moves down and back."""
    import cv2

    rng = np.random.default_rng(seed)
    tex = np.random.default_rng(seed if texture is None else texture)
    base = cv2.GaussianBlur(tex.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 1.0)
    base = 128 + (base - base.mean()) * (50 / base.std())
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    blob = np.exp(-(((yy - 0.7 * size) ** 2) + (xx - 0.5 * size) ** 2) / (2 * (size / 6) ** 2)).astype(np.float32)
    amp = np.zeros(n, np.float32)
    for a, b in events:
        t = np.arange(a, b + 1)
        amp[a:b + 1] = np.sin(np.pi * (t - a) / max(b - a, 1))
    frames = np.empty((n, size, size), np.float32)
    for i in range(n):
        frames[i] = cv2.remap(base, xx, yy - 3.0 * amp[i] * blob, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    frames += rng.normal(0, 2.0, frames.shape)
    crops = np.clip(frames, 0, 255).astype(np.uint8)
    return CropSequence(crops, np.ones(n, bool), np.arange(n), np.arange(n) / 30.0, np.zeros((n, 2, 3), np.float32),
                        30.0, size, f"synth{seed}", f"v{seed}")


def test_k_rule_matches_published_values():
    # CAS(ME)^2 ME mean(off − on) 12.58 -> 6, MaE 35.44 -> 18; SAMM-LV ME 73.31 -> 37, MaE 348.4 -> 174
    for mean, k in ((12.58, 6), (35.44, 18), (73.31, 37), (348.4, 174)):
        assert k_from_durations([mean]) == k
    with pytest.raises(ValueError):
        k_from_durations([])


def test_frame_labels_centred_window():
    y = frame_labels(20, [(8, 10)], 2)
    assert y.tolist() == [0] * 6 + [1] * 7 + [0] * 7
    assert frame_labels(5, [], 2).sum() == 0
    assert frame_labels(5, [(0, 0)], 3).tolist() == [1, 1, 1, 1, 0]


def test_clamped_references():
    a, b = clamp_refs(np.array([0, 5, 9]), 3, 10)
    assert a.tolist() == [0, 2, 6] and b.tolist() == [3, 8, 9]


def test_lcn_layer_normalises_and_has_no_parameters():
    lcn = LCN(9, 2.0)
    x = torch.rand(2, 3, 32, 32) * 0.5 + torch.linspace(0, 0.5, 32)  # texture on an illumination ramp
    y = lcn(x)
    assert y.shape == x.shape and not list(lcn.parameters())
    # the slow ramp is gone: column means of the output are flat compared to the input's
    assert y.mean(dim=(0, 1, 2))[4:-4].std() < 0.2 * (x.mean(dim=(0, 1, 2)).std() / x.std())
    assert torch.isfinite(lcn(torch.zeros(1, 1, 16, 16))).all()


def test_shared_pair_scoring_equals_forward():
    torch.manual_seed(0)
    m = build_refcnn3d(RefCNN3DConfig(k=3, size=SIZE)).eval()
    seq = synth_seq(40, [(10, 18)], 1)
    fast = score_video(m, seq.crops, batch=7)
    t = np.arange(40)
    a, b = clamp_refs(t, 3, 40)
    x = torch.from_numpy(np.stack([seq.crops[a], seq.crops, seq.crops[b]], 1).astype(np.float32) / 255)
    with torch.no_grad():
        ref = m(x).numpy()
    np.testing.assert_allclose(fast, ref, atol=1e-5)


def test_lcn_off_variant_builds():
    m = build_refcnn3d(RefCNN3DConfig(k=2, size=SIZE, lcn=False, residual=True)).eval()
    with torch.no_grad():
        assert m(torch.rand(2, 3, SIZE, SIZE)).shape == (2,)


def test_training_learns_the_event_and_is_deterministic():
    events = {0: [(30, 37), (90, 97)], 1: [(50, 57), (120, 127)], 2: [(20, 27), (100, 107), (150, 157)]}
    seqs = [synth_seq(180, ev, s) for s, ev in events.items()]
    cfg = SpotTrainConfig(epochs=6, batch=16, lr=2e-3, size=SIZE, max_neg_per_pos=2.0, threads=1, k={"me": 4},
                          p=0.6)
    m1, meta = fit_refcnn3d(seqs[:2], [events[0], events[1]], cfg, seed=3)
    hist = meta["loss"]
    assert meta["k"] == 4 and hist[-1] < hist[0]
    curve = refcnn3d_curve(m1, seqs[2])
    inside = np.zeros(180, bool)
    for a, b in events[2]:
        inside[a:b + 1] = True
    assert curve[inside].mean() > curve[~inside].mean() + 0.2
    m2, _ = fit_refcnn3d(seqs[:2], [events[0], events[1]], cfg, seed=3)
    np.testing.assert_allclose(refcnn3d_curve(m2, seqs[2]), curve, atol=1e-6)


def test_epoch_snapshots_see_every_epoch_and_change_nothing():
    """``on_epoch`` (budget curves from one run) sees the model before training and after each epoch, in eval
    mode, and the run ends exactly where a run without it ends; snapshot n is the model of an n-epoch run."""
    events = {0: [(30, 37), (90, 97)], 1: [(50, 57), (120, 127)]}
    seqs = [synth_seq(150, ev, s) for s, ev in events.items()]
    cfg = SpotTrainConfig(epochs=3, batch=16, lr=2e-3, size=SIZE, max_neg_per_pos=2.0, threads=1, k={"me": 4},
                          p=0.6)
    seen = []

    def look(n, model, losses):
        seen.append((n, model.training, len(losses), refcnn3d_curve(model, seqs[1])))

    m1, meta1 = fit_refcnn3d(seqs[:1], [events[0]], cfg, seed=5, on_epoch=look)
    m2, meta2 = fit_refcnn3d(seqs[:1], [events[0]], cfg, seed=5)
    assert [(n, training, k) for n, training, k, _ in seen] == [(0, False, 0), (1, False, 1), (2, False, 2),
                                                                (3, False, 3)]
    assert meta1["loss"] == meta2["loss"]
    np.testing.assert_array_equal(refcnn3d_curve(m1, seqs[1]), refcnn3d_curve(m2, seqs[1]))
    m_two, _ = fit_refcnn3d(seqs[:1], [events[0]], replace(cfg, epochs=2), seed=5)
    np.testing.assert_array_equal(seen[2][3], refcnn3d_curve(m_two, seqs[1]))


def test_training_without_positives_is_a_typed_error():
    from microexp.errors import InputError

    seqs = [synth_seq(40, [], 0)]
    with pytest.raises(InputError):
        fit_refcnn3d(seqs, [[]], SpotTrainConfig(epochs=1, size=SIZE, k={"me": 3}), seed=0)
    with pytest.raises(InputError):  # and k cannot come from spans that are not there
        fit_refcnn3d(seqs, [[]], SpotTrainConfig(epochs=1, size=SIZE), seed=0)


@pytest.mark.parametrize("residual", [False, True])
def test_inference_path_with_folded_batch_norm_equals_the_plain_layers(residual):
    torch.manual_seed(0)
    m = build_refcnn3d(RefCNN3DConfig(k=2, size=SIZE, residual=residual))
    for bn in (mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm3d)):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(-2, 2)  # negative scales too: pooling must stay after the BN
        bn.bias.data.uniform_(-1, 1)
    x = torch.rand(5, 3, SIZE, SIZE)
    with torch.no_grad():
        fused = m.eval()(x)
        m.train()  # the training code path (BN, then ReLU, then pool) ...
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm3d, torch.nn.Dropout)):
                mod.eval()  # ... with BN on its running statistics and no dropout
        plain = m(x)
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=1e-4)


def test_first_layer_starts_as_a_temporal_difference():
    """At init conv1 sees b − a: a frame pair without motion gives the bias alone, whatever the face, so the
    network starts from the motion and need not learn to cancel the static face first (issue 15: without it
    the loss stayed at the constant predictor's level on the calibrated suites)."""
    m = build_refcnn3d(RefCNN3DConfig(k=2, size=SIZE))
    face = torch.rand(2, 1, 1, SIZE, SIZE)
    with torch.no_grad():
        still = m.conv1(torch.cat([face, face], dim=2))
        moved = m.conv1(torch.cat([face, torch.roll(face, 1, dims=-1)], dim=2))
    bias = m.conv1.bias.view(1, -1, 1, 1, 1)
    assert torch.allclose(still, bias.expand_as(still), atol=1e-6)
    assert (moved - bias).abs().mean() > 0.01
    plain = build_refcnn3d(RefCNN3DConfig(k=2, size=SIZE, diff_init=False))
    with torch.no_grad():
        assert (plain.conv1(torch.cat([face, face], dim=2)) - plain.conv1.bias.view(1, -1, 1, 1, 1)).abs().mean() > 0.01
