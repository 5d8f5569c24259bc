"""MMNet (Li et al., IJCAI 2022): continuous-attention CNN on motion plus a ViT position-calibration module.

Two branches, fused by addition:
* motion branch: ``act = apex - onset`` -> conv(3->180, s2) -> conv(180->128) -> four CA blocks (one block per
  stage, widths 128/128/256/512, strides 1/2/2/2). Each CA block multiplies its output by a spatial attention
  map that is the product of its own map and the max-pooled map of the previous block (continuous attention);
* PC module: the onset frame resized to 14x14 -> 1x1 patch embedding -> learned positions (no class token) ->
  pre-norm transformer blocks -> all 196 tokens as a 512 x 14 x 14 map added to the motion features;
* head: flatten -> linear.

Flow variant (``variant="flow"``): when only an onset->apex flow image and an apex face exist (the MEGC2019
composite set), the motion branch reads the flow image instead of ``apex - onset`` and the PC module reads the
apex face. With 28x28 input the maps and widths are scaled down (``flow_variant_overrides``: motion map
14x14 -> 7x7, PC module on a 7x7 apex face); the block structure, the chained attention, the PC module and
the additive fusion are unchanged. Dead parameters of the public code are not built.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from microexp.errors import ConfigError


@dataclass(frozen=True)
class MMNetConfig:
    """Defaults = the public 5-class CASME II code (``CASME2_5.py``)."""

    variant: str = "frames"  # frames: forward(onset, apex); flow: forward(flow, apex_face)
    img: int = 224
    in_channels: int = 3
    stem_channels: int = 180
    widths: tuple[int, ...] = (128, 128, 256, 512)
    strides: tuple[int, ...] = (1, 2, 2, 2)
    pc_img: int = 14
    pc_dim: int = 512
    pc_depth: int = 2
    pc_heads: int = 4
    pc_mlp_ratio: float = 4.0
    pc_drop_path: float = 0.0
    num_classes: int = 5
    fuse: str = "add"

    @staticmethod
    def three_class() -> MMNetConfig:
        """The 3-class script's settings (with the groups=2 and 5-output bugs fixed)."""
        return MMNetConfig(pc_depth=3, pc_mlp_ratio=2.0, pc_drop_path=0.3, num_classes=3)

    @staticmethod
    def flow_variant_overrides() -> dict:
        """28x28 composite flow + apex face, sized for the data and for a 68-fold LOSO on CPU.

        The input is 8x smaller per side than the code's 224 px, so the maps shrink with it: after the
        stride-2 input conv the motion map is 14x14, one downsampling (layer 2) brings it to 7x7, and the PC
        module reads the apex face at 7x7 (49 tokens). Widths are cut 4-8x (stem 32, stages 32/32/64/64,
        PC dim 64); depth 2, 4 heads and MLP ratio 4 are the 5-class code's.
        """
        return {"variant": "flow", "img": 28, "stem_channels": 32, "widths": (32, 32, 64, 64),
                "strides": (1, 2, 1, 1), "pc_img": 7, "pc_dim": 64, "num_classes": 3}


class CABlock(nn.Module):
    """Residual block with a spatial attention map chained multiplicatively to the previous block's map."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
        self.att_conv = nn.Conv2d(2, 1, 1, bias=False)
        self.att_bn = nn.BatchNorm2d(1)
        self.stride = stride

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = F.relu(out + self.shortcut(x))
        pooled = torch.cat([out.mean(1, keepdim=True), out.amax(1, keepdim=True)], dim=1)
        attn = torch.sigmoid(self.att_bn(self.att_conv(pooled)))
        if prior is not None:
            if prior.shape[-2:] != attn.shape[-2:]:  # the previous map is pooled when the block downsamples
                prior = F.max_pool2d(prior, 3, 2, 1)
            attn = prior * attn
        return out * attn, attn


class _Attention(nn.Module):
    """DeiT-style multi-head self-attention: one qkv projection (with bias), softmax(q k^T / sqrt(d)) v, proj.

    Written out with two matmuls: for the short head dimensions of the flow variant this is several times
    faster on CPU than ``scaled_dot_product_attention``'s flash kernel, and gives the same result.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.heads = heads
        self.scale = (dim // heads) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class _Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6, MHSA with qkv bias, GELU MLP, stochastic depth)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"pc_dim {dim} must be divisible by pc_heads {heads}")
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = drop_path

    def _dp(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_path == 0.0:
            return x
        keep = 1.0 - self.drop_path
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self._dp(self.attn(h))
        return x + self._dp(self.mlp(self.norm2(x)))


class PCModule(nn.Module):
    """ViT with 1x1 patches on a pc_img x pc_img image; returns a (B, dim, pc_img, pc_img) position map."""

    def __init__(self, cfg: MMNetConfig):
        super().__init__()
        self.cfg = cfg
        self.patch = nn.Conv2d(cfg.in_channels, cfg.pc_dim, 1)
        self.pos = nn.Parameter(torch.zeros(1, cfg.pc_img * cfg.pc_img, cfg.pc_dim))
        rates = torch.linspace(0, cfg.pc_drop_path, cfg.pc_depth).tolist() if cfg.pc_depth else []
        self.blocks = nn.ModuleList(_Block(cfg.pc_dim, cfg.pc_heads, cfg.pc_mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(cfg.pc_dim, eps=1e-6)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        s = self.cfg.pc_img
        if img.shape[-2:] != (s, s):
            img = F.interpolate(img, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        tokens = self.patch(img).flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            tokens = blk(tokens)
        tokens = self.norm(tokens)
        return tokens.transpose(1, 2).reshape(img.shape[0], self.cfg.pc_dim, s, s)


class MMNet(nn.Module):
    def __init__(self, cfg: MMNetConfig):
        super().__init__()
        if cfg.variant not in ("frames", "flow"):
            raise ConfigError(f"MMNet variant must be 'frames' or 'flow', got {cfg.variant!r}")
        if cfg.fuse != "add":
            raise ConfigError("MMNet fuses by addition only (fuse='add')")
        if len(cfg.widths) != len(cfg.strides):
            raise ConfigError("widths and strides must have the same length")
        if cfg.widths[-1] != cfg.pc_dim:
            raise ConfigError(f"last width {cfg.widths[-1]} must equal pc_dim {cfg.pc_dim} for additive fusion")
        self.cfg = cfg
        self.conv_act = nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.stem_channels, 3, 2, 1, bias=False),
                                      nn.BatchNorm2d(cfg.stem_channels), nn.ReLU(inplace=True))
        self.stem = nn.Sequential(nn.Conv2d(cfg.stem_channels, cfg.widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cfg.widths[0]), nn.ReLU(inplace=True))
        chans = (cfg.widths[0],) + tuple(cfg.widths)
        self.layers = nn.ModuleList(CABlock(chans[i], chans[i + 1], cfg.strides[i]) for i in range(len(cfg.widths)))
        self.pc = PCModule(cfg)
        side = self.motion_side(cfg)
        if side != cfg.pc_img:
            raise ConfigError(f"motion map is {side}x{side} but the PC map is {cfg.pc_img}x{cfg.pc_img}; "
                              "adjust img/strides")
        self.fc = nn.Linear(cfg.pc_dim * side * side, cfg.num_classes)
        self._init()

    @staticmethod
    def motion_side(cfg: MMNetConfig) -> int:
        side = (cfg.img + 1) // 2
        for s in cfg.strides:
            side = (side - 1) // s + 1
        return side

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m is not self.pc.patch:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.pc.pos, std=0.02)

    def features(self, motion: torch.Tensor, pc_img: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Fused map (B, pc_dim, 14, 14) and the chained attention maps of the four CA blocks."""
        x = self.stem(self.conv_act(motion))
        attn, maps = None, []
        for layer in self.layers:
            x, attn = layer(x, attn)
            maps.append(attn)
        return x + self.pc(pc_img), maps

    def forward(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """frames: ``forward(onset, apex)``; flow: ``forward(flow, apex_face)`` or one 6-channel tensor."""
        c = self.cfg.in_channels
        if b is None:
            if a.shape[1] != 2 * c:
                raise ConfigError(f"MMNet expects two inputs or one {2 * c}-channel tensor, got {a.shape[1]}")
            a, b = a[:, :c], a[:, c:]
        if self.cfg.variant == "frames":
            motion, pc_img = b - a, a  # apex - onset; PC reads the onset frame
        else:
            motion, pc_img = a, b  # flow image; PC reads the apex face
        fused, _ = self.features(motion, pc_img)
        return self.fc(torch.flatten(fused, 1))


def build_mmnet(cfg: MMNetConfig | None = None) -> MMNet:
    return MMNet(cfg or MMNetConfig())
