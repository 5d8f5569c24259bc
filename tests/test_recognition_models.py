"""Architecture checks for STSTNet, MMNet and SLSTT (shapes, paper defaults, key mappings, guards)."""

from __future__ import annotations

import pytest
import torch

from microexp.errors import ConfigError, ModelError
from microexp.recognition.mmnet import MMNet, MMNetConfig, _Attention, build_mmnet
from microexp.recognition.registry import ARCH_NAMES, build, make_config
from microexp.recognition.slstt import (
    SLSTTConfig,
    SpatialViT,
    build_slstt,
    load_vit_weights,
    lukemelas_to_timm,
    resize_pos_embedding,
    timm_to_lukemelas,
)
from microexp.recognition.ststnet import (
    STSTNetConfig,
    build_ststnet,
    feature_side,
    map_published_keys,
    published_input,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_ststnet_paper_shape_and_400_features():
    cfg = STSTNetConfig()
    assert feature_side(cfg) == 5
    m = build_ststnet(cfg)
    assert m.fc.in_features == 400
    assert m(torch.rand(4, 3, 28, 28)).shape == (4, 3)
    # 3*3*3*(3+5+8) conv weights + biases + BN + fc: the authors' files are this size
    assert sum(p.numel() for p in m.parameters()) == 16 * 27 + 16 + 2 * 16 + 400 * 3 + 3


def test_published_key_mapping_roundtrip_and_unknown_key():
    m = build_ststnet()
    ours = m.state_dict()
    theirs = {k.replace("streams.0.conv", "conv1").replace("streams.1.conv", "conv2")
               .replace("streams.2.conv", "conv3").replace("streams.0.bn", "bn1")
               .replace("streams.1.bn", "bn2").replace("streams.2.bn", "bn3"): v for k, v in ours.items()}
    assert map_published_keys(theirs).keys() == ours.keys()
    with pytest.raises(ModelError):
        map_published_keys({"conv9.weight": torch.zeros(1)})


def test_published_input_is_bgr_0_255():
    x = torch.rand(2, 3, 28, 28)
    y = published_input(x)
    assert torch.allclose(y[:, 0], x[:, 2] * 255) and torch.allclose(y[:, 2], x[:, 0] * 255)


def test_mmnet_code_defaults_param_count_and_stage_shapes():
    m = build_mmnet(MMNetConfig())
    n = sum(p.numel() for p in m.parameters())
    assert 8.5e6 < n < 10e6  # spec: trunk 2.5 M + FC 0.5 M + PC ViT 6.3 M
    assert m.fc.in_features == 512 * 14 * 14
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        fused, maps = m.features(x, x)
    assert fused.shape == (1, 512, 14, 14)
    assert [a.shape[-1] for a in maps] == [112, 56, 28, 14]


def test_mmnet_pc_attention_matches_torch_reference():
    torch.manual_seed(0)
    att = _Attention(16, 4).eval()
    x = torch.rand(2, 9, 16)
    q, k, v = att.qkv(x).view(2, 9, 3, 4, 4).permute(2, 0, 3, 1, 4)
    ref = att.proj(torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 9, 16))
    with torch.no_grad():
        assert torch.allclose(att(x), ref, atol=1e-5)


def test_mmnet_attention_is_chained():
    torch.manual_seed(0)
    m = build_mmnet(MMNetConfig(img=32, stem_channels=8, widths=(8, 8, 8, 16), pc_dim=16, pc_img=2,
                                num_classes=3)).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        _, maps = m.features(x, x)
    # each map is the product of sigmoids with its predecessors, so it can only shrink along the chain
    for prev, cur in zip(maps, maps[1:], strict=False):
        pooled = torch.nn.functional.max_pool2d(prev, 3, 2, 1) if prev.shape != cur.shape else prev
        assert torch.all(cur <= pooled + 1e-6)


def test_mmnet_flow_variant_and_guards():
    cfg = make_config("mmnet-flow")
    assert cfg.variant == "flow" and cfg.num_classes == 3
    m = build("mmnet-flow", cfg)
    assert m(torch.rand(3, 6, 28, 28)).shape == (3, 3)
    assert MMNet.motion_side(cfg) == cfg.pc_img == 7
    # flow variant: the motion branch reads channels 0-2 (flow), the PC module channels 3-5 (apex face)
    m.eval()
    x = torch.rand(2, 6, 28, 28)
    with torch.no_grad():
        base = m(x)
        face = x.clone()
        face[:, 3:] = torch.rand(2, 3, 28, 28)
        flow = x.clone()
        flow[:, :3] = torch.rand(2, 3, 28, 28)
        assert not torch.allclose(m(face), base) and not torch.allclose(m(flow), base)
        assert torch.allclose(m(x[:, :3], x[:, 3:]), base)
    with pytest.raises(ConfigError):
        build_mmnet(MMNetConfig(widths=(128, 128, 256, 256)))  # cannot add to a 512-d PC map
    with pytest.raises(ConfigError):
        build_mmnet(MMNetConfig(img=28))  # motion map no longer 14x14


def test_slstt_paper_tokens_and_weight_guard():
    assert SpatialViT.num_tokens(SLSTTConfig()) == 577
    with pytest.raises(ModelError):
        build_slstt(SLSTTConfig())  # no ImageNet weights and no allow_scratch
    with pytest.raises(ConfigError):
        build_slstt(SLSTTConfig(allow_scratch=True, freeze_encoder=True))


def test_slstt_scratch_forward_lstm_and_mean():
    cfg = make_config("slstt-scratch")
    m = build("slstt-scratch", cfg)
    assert m(torch.rand(2, 3, 28, 28)).shape == (2, 3)
    seq = build_slstt(SLSTTConfig(**{**SLSTTConfig.flow_scratch_overrides(), "frames": 5}))
    assert seq(torch.rand(2, 5, 3, 28, 28)).shape == (2, 3)
    mean = build_slstt(SLSTTConfig(**{**SLSTTConfig.flow_scratch_overrides(), "aggregation": "mean"}))
    assert mean(torch.rand(2, 3, 28, 28)).shape == (2, 3)


def test_slstt_key_mapping_roundtrip_and_user_weights(tmp_path):
    small = dict(img=32, patch=16, dim=48, depth=2, heads=4, mlp_dim=96, allow_scratch=True)
    vit = SpatialViT(SLSTTConfig(**small))
    sd = vit.state_dict()
    timm = lukemelas_to_timm(sd)
    assert "blocks.0.attn.qkv.weight" in timm and timm["blocks.0.attn.qkv.weight"].shape == (144, 48)
    back = timm_to_lukemelas(timm)
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)
    # a timm file at another resolution loads, with the positional embedding resized (5 -> 17 tokens)
    p = tmp_path / "vit.pth"
    torch.save(timm, p)
    model = build_slstt(SLSTTConfig(**{**small, "img": 64, "weights": str(p), "allow_scratch": False,
                                       "freeze_encoder": True}))
    assert torch.equal(model.vit.patch_embedding.weight, sd["patch_embedding.weight"])
    assert not model.vit.transformer.blocks[0].attn.proj_q.weight.requires_grad
    assert model.vit.norm.weight.requires_grad
    with pytest.raises(ModelError):
        load_vit_weights(vit, tmp_path / "missing.pth")
    assert resize_pos_embedding(torch.zeros(1, 5, 8), 17).shape == (1, 17, 8)


def test_registry_names():
    assert set(ARCH_NAMES) == {"ststnet", "mmnet", "mmnet-flow", "slstt", "slstt-scratch"}
    with pytest.raises(ConfigError):
        make_config("ststnet", {"nope": 1})
