"""SLSTT (Zhang et al., IEEE TAC 2022): a convolution-free spatio-temporal transformer for ME recognition.

Per frame, a ViT spatial encoder turns one long-term flow image into its class-token feature; a temporal
aggregator combines the frames (``lstm``: 3-layer LSTM -> Linear -> ReLU -> Linear; ``mean``: the encoder's
own classifier per frame, logits averaged over time).

The paper's encoder is ViT-B/16 at 384 px initialised from ImageNet. Those weights cannot be downloaded here:
pass ``weights=PATH`` (lukemelas ``B_16_imagenet1k.pth`` or a timm ViT-B/16 state dict) to get the paper model.
Without weights only a from-scratch configuration is allowed (``allow_scratch=True``); results of it are
labelled ``slstt-scratch`` and are not comparable with the paper. ``flow_scratch_overrides`` sizes such a
model for the 28x28 single-flow composite set (T = 1, which makes the LSTM a one-step aggregator).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from microexp.errors import ConfigError, ModelError
from microexp.io.weights import load_torch_file


@dataclass(frozen=True)
class SLSTTConfig:
    """Paper / code defaults: ViT-B/16 at 384 px, T = 11, LSTM(768 -> 512, 3 layers) -> 256 -> C."""

    img: int = 384
    patch: int = 16
    in_channels: int = 3
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    dropout: float = 0.1
    attn_dropout: float = 0.0
    frames: int = 11
    aggregation: str = "lstm"  # lstm | mean
    lstm_hidden: int = 512
    lstm_layers: int = 3
    head_hidden: int = 256
    num_classes: int = 3
    freeze_encoder: bool = False  # the released code freezes the blocks; the paper trains end to end
    weights: str | None = None  # ImageNet ViT weights supplied by the user
    allow_scratch: bool = False  # build without weights (slstt-scratch)

    @staticmethod
    def flow_scratch_overrides() -> dict:
        """slstt-scratch for 28x28 composite flow: 4x4 patches (49 tokens), dim 64, 4 layers, 4 heads, T = 1."""
        return {"img": 28, "patch": 4, "dim": 64, "depth": 4, "heads": 4, "mlp_dim": 128, "dropout": 0.1,
                "frames": 1, "lstm_hidden": 64, "lstm_layers": 1, "head_hidden": 64, "num_classes": 3,
                "allow_scratch": True}


class _Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v projections (the lukemelas layout)."""

    def __init__(self, dim: int, heads: int, drop: float):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"dim {dim} must be divisible by heads {heads}")
        self.proj_q = nn.Linear(dim, dim)
        self.proj_k = nn.Linear(dim, dim)
        self.proj_v = nn.Linear(dim, dim)
        self.heads = heads
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (p(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.proj_q, self.proj_k, self.proj_v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.drop if self.training else 0.0)
        return out.transpose(1, 2).reshape(b, n, d)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class _Block(nn.Module):
    def __init__(self, cfg: SLSTTConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = _Attention(cfg.dim, cfg.heads, cfg.attn_dropout)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.pwff = _FeedForward(cfg.dim, cfg.mlp_dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.proj(self.attn(self.norm1(x))))
        return x + self.drop(self.pwff(self.norm2(x)))


class _Transformer(nn.Module):
    def __init__(self, cfg: SLSTTConfig):
        super().__init__()
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return x


class _PositionalEmbedding(nn.Module):
    def __init__(self, seq_len: int, dim: int):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.zeros(1, seq_len, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embedding


class SpatialViT(nn.Module):
    """ViT encoder; module names follow the lukemelas layout so its checkpoints load without renaming."""

    def __init__(self, cfg: SLSTTConfig):
        super().__init__()
        if cfg.img % cfg.patch:
            raise ConfigError(f"img {cfg.img} must be a multiple of patch {cfg.patch}")
        self.cfg = cfg
        self.patch_embedding = nn.Conv2d(cfg.in_channels, cfg.dim, cfg.patch, stride=cfg.patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.positional_embedding = _PositionalEmbedding(self.num_tokens(cfg), cfg.dim)
        self.transformer = _Transformer(cfg)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.fc = nn.Linear(cfg.dim, cfg.num_classes)  # per-frame classifier (Mean aggregation)
        nn.init.trunc_normal_(self.positional_embedding.pos_embedding, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.fc.weight)

    @staticmethod
    def num_tokens(cfg: SLSTTConfig) -> int:
        return (cfg.img // cfg.patch) ** 2 + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> class-token feature (B, dim)."""
        x = self.patch_embedding(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.transformer(self.positional_embedding(x))
        return self.norm(x)[:, 0]


class SLSTT(nn.Module):
    def __init__(self, cfg: SLSTTConfig):
        super().__init__()
        if cfg.aggregation not in ("lstm", "mean"):
            raise ConfigError(f"aggregation must be 'lstm' or 'mean', got {cfg.aggregation!r}")
        self.cfg = cfg
        self.vit = SpatialViT(cfg)
        if cfg.aggregation == "lstm":
            self.lstm = nn.LSTM(cfg.dim, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True)
            self.head = nn.Sequential(nn.Linear(cfg.lstm_hidden, cfg.head_hidden), nn.ReLU(inplace=True),
                                      nn.Linear(cfg.head_hidden, cfg.num_classes))
            for m in self.head:
                if isinstance(m, nn.Linear):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) frame sequences, or (B, C, H, W) single frames (T = 1)."""
        if x.ndim == 4:
            x = x[:, None]
        b, t = x.shape[:2]
        feats = self.vit(x.flatten(0, 1))  # (B*T, dim)
        if self.cfg.aggregation == "mean":
            return self.vit.fc(feats).view(b, t, -1).mean(1)
        out, _ = self.lstm(feats.view(b, t, -1))
        return self.head(out[:, -1])


# ---------------------------------------------------------------- user-supplied ImageNet weights

def timm_to_lukemelas(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a timm ViT state dict to the lukemelas layout (fused qkv split into q, k, v)."""
    out = {}
    for k, v in state.items():
        if k.startswith("head."):
            out["fc." + k[5:]] = v
        elif k == "cls_token":
            out["class_token"] = v
        elif k == "pos_embed":
            out["positional_embedding.pos_embedding"] = v
        elif k.startswith("patch_embed.proj."):
            out["patch_embedding." + k.split(".")[-1]] = v
        elif k.startswith("norm."):
            out[k] = v
        elif k.startswith("blocks."):
            _, i, rest = k.split(".", 2)
            p = f"transformer.blocks.{i}."
            if rest.startswith("attn.qkv."):
                kind = rest.split(".")[-1]
                for name, part in zip(("proj_q", "proj_k", "proj_v"), v.chunk(3, dim=0), strict=True):
                    out[f"{p}attn.{name}.{kind}"] = part.clone()
            elif rest.startswith("attn.proj."):
                out[p + "proj." + rest.split(".")[-1]] = v
            elif rest.startswith("mlp."):
                out[p + "pwff." + rest[4:]] = v
            else:  # norm1, norm2
                out[p + rest] = v
        # anything else (e.g. pre_logits) is dropped
    return out


def lukemelas_to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`timm_to_lukemelas` (q, k, v fused back into qkv)."""
    out, qkv = {}, {}
    for k, v in state.items():
        if k.startswith("fc."):
            out["head." + k[3:]] = v
        elif k == "class_token":
            out["cls_token"] = v
        elif k == "positional_embedding.pos_embedding":
            out["pos_embed"] = v
        elif k.startswith("patch_embedding."):
            out["patch_embed.proj." + k.split(".")[-1]] = v
        elif k.startswith("norm."):
            out[k] = v
        elif k.startswith("transformer.blocks."):
            _, _, i, rest = k.split(".", 3)
            p = f"blocks.{i}."
            if rest.startswith("attn.proj_"):
                which, kind = rest.split(".")[1], rest.split(".")[-1]
                qkv.setdefault((i, kind), {})[which] = v
            elif rest.startswith("proj."):
                out[p + "attn.proj." + rest.split(".")[-1]] = v
            elif rest.startswith("pwff."):
                out[p + "mlp." + rest[5:]] = v
            else:
                out[p + rest] = v
    for (i, kind), parts in qkv.items():
        out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([parts["proj_q"], parts["proj_k"], parts["proj_v"]], 0)
    return out


def resize_pos_embedding(pos: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Bilinearly resize a (1, 1 + g*g, D) positional embedding to ``n_tokens`` (class token kept)."""
    if pos.shape[1] == n_tokens:
        return pos
    g_old, g_new = int(round(np.sqrt(pos.shape[1] - 1))), int(round(np.sqrt(n_tokens - 1)))
    cls, grid = pos[:, :1], pos[:, 1:].reshape(1, g_old, g_old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(g_new, g_new), mode="bilinear", align_corners=False)
    return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, g_new * g_new, -1)], dim=1)


def load_vit_weights(vit: SpatialViT, path: str | Path) -> None:
    """Load lukemelas or timm ViT weights into the encoder; only the classifier may be missing or differ."""
    path = Path(path)
    state = load_torch_file(path, "ViT weights")
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if any(k.startswith("blocks.") for k in state):
        state = timm_to_lukemelas(state)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    key = "positional_embedding.pos_embedding"
    if key in state:
        state[key] = resize_pos_embedding(state[key], SpatialViT.num_tokens(vit.cfg))
    missing, unexpected = vit.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ModelError(f"ViT weights do not fit: missing {missing[:3]}, unexpected {list(unexpected)[:3]}", path)


def build_slstt(cfg: SLSTTConfig | None = None) -> SLSTT:
    cfg = cfg or SLSTTConfig()
    if cfg.weights is None and not cfg.allow_scratch:
        raise ModelError("SLSTT needs ImageNet ViT weights (weights=PATH); pass allow_scratch=True to train "
                         "slstt-scratch, which is not comparable with the paper")
    if cfg.freeze_encoder and cfg.weights is None:
        raise ConfigError("freeze_encoder=True without weights would freeze a random encoder")
    model = SLSTT(cfg)
    if cfg.weights is not None:
        load_vit_weights(model.vit, cfg.weights)
    if cfg.freeze_encoder:
        for name, p in model.vit.named_parameters():
            if not (name.startswith("norm.") or name.startswith("fc.")):
                p.requires_grad_(False)
    return model
