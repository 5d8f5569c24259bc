"""Named configurations: the papers' (mmnet, slstt) next to our reduced variants (mmnet-flow, slstt-scratch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microexp.errors import ConfigError, ModelError
from microexp.recognition.data import hflip_uvs
from microexp.recognition.registry import ARCH_NAMES, INPUTS, build, get_arch, make_config, require_input
from microexp.recognition.slstt import SLSTTConfig, build_slstt

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_config_says_which_it_is():
    for name in ARCH_NAMES:
        arch = get_arch(name)
        assert arch.label.startswith(name + " (") and arch.input in INPUTS
        assert ("(paper" in arch.label) == arch.paper
        assert ("variant" in arch.label or "not comparable" in arch.label) == (not arch.paper)
    assert get_arch("mmnet").paper and not get_arch("mmnet-flow").paper
    assert get_arch("slstt").paper and not get_arch("slstt-scratch").paper
    assert get_arch("mmnet-flow").with_apex and not get_arch("mmnet").with_apex


def test_mmnet_paper_config_reads_rgb_onset_apex_at_224():
    cfg = make_config("mmnet")
    assert (cfg.variant, cfg.img, cfg.stem_channels, cfg.widths, cfg.pc_img) == ("frames", 224, 180,
                                                                                  (128, 128, 256, 512), 14)
    m = build("mmnet", make_config("mmnet", {"num_classes": 5})).eval()
    assert 8.5e6 < sum(p.numel() for p in m.parameters()) < 10e6
    onset, apex = torch.rand(1, 3, 224, 224), torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        out = m(onset, apex)
        assert out.shape == (1, 5)
        # the position module reads the onset: a different onset with the same apex-onset still changes the output
        shifted = m(onset + 0.5, apex + 0.5)
    assert not torch.allclose(out, shifted)
    assert get_arch("mmnet").train.epochs == 74 and get_arch("mmnet").train.flow_channels == ()


def test_slstt_paper_config_is_vit_b16_and_needs_user_weights(tmp_path):
    cfg = make_config("slstt")
    assert (cfg.img, cfg.patch, cfg.dim, cfg.depth, cfg.heads, cfg.frames, cfg.aggregation) == (
        384, 16, 768, 12, 12, 11, "lstm")
    with pytest.raises(ModelError, match="weights"):
        build("slstt", cfg)  # never downloads: without a weights file the paper model is refused
    # parameter count of the full paper model (built from scratch only to count)
    full = build_slstt(SLSTTConfig(allow_scratch=True))
    n = sum(p.numel() for p in full.parameters())
    assert 90e6 < n < 96e6  # ViT-B/16 86 M + LSTM(768->512, 3 layers) 5.8 M + head
    del full
    # a reduced-depth paper-shaped model loads a user weights file and runs one clip of T frames
    small = {"img": 64, "depth": 1, "frames": 2}
    donor = build_slstt(SLSTTConfig(allow_scratch=True, **small))
    path = tmp_path / "vit.pth"
    torch.save(donor.vit.state_dict(), path)
    m = build("slstt", make_config("slstt", {**small, "weights": str(path)})).eval()
    assert torch.equal(m.vit.class_token, donor.vit.class_token)
    with torch.no_grad():
        assert m(torch.rand(1, 2, 3, 64, 64)).shape == (1, 3)


def test_inputs_are_checked_before_training():
    with pytest.raises(ConfigError, match="mmnet-flow"):
        require_input("mmnet", "flow28+apex")
    with pytest.raises(ConfigError, match="slstt-scratch"):
        require_input("slstt", "flow28")
    assert require_input("ststnet", "flow28+apex").name == "ststnet"
    assert require_input("mmnet-flow", "flow28+apex").name == "mmnet-flow"
    with pytest.raises(ConfigError):
        require_input("mmnet-flow", "flow28")
    with pytest.raises(ConfigError):
        get_arch("mmnet-paper")


def test_mirror_handles_rgb_and_sequences():
    x = np.random.default_rng(0).random((2, 6, 4, 5)).astype(np.float32)
    rgb = hflip_uvs(x, ())
    assert np.array_equal(rgb, x[..., ::-1])
    seq = np.random.default_rng(1).random((2, 3, 3, 4, 5)).astype(np.float32)  # N, T, C, H, W
    out = hflip_uvs(seq)
    assert np.allclose(out[:, :, 0], 1 - seq[:, :, 0, :, ::-1]) and np.array_equal(out[:, :, 1], seq[:, :, 1, :, ::-1])
    assert np.allclose(hflip_uvs(x)[:, 0], 1 - x[:, 0, :, ::-1])
