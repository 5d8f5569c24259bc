"""Reference-frame 3D-CNN spotter (Yap et al., ACM MM 2022), as reconstructed in spotting-3dcnn.md §3.

Frame t is compared with two temporally oriented reference frames, t − k and t + k, where k is half the mean
expression duration of the training ground truth (so ME and MaE get separate models). Two streams,
``(F_{t−k}, F_t)`` and ``(F_t, F_{t+k})``, share one three-layer depthwise-separable 3D-CNN; LCN runs inside
the network as a fixed layer so no preprocessing step can be forgotten at inference. Layer sizes, LCN
constants and the stem stride are the spec's reconstruction (the paper's are unpublished).

Because the streams share weights, stream 2 of frame t is stream 1 of frame t + k: ``score_video`` computes
each frame pair once and reuses it, halving the cost of scoring a long video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class RefCNN3DConfig:
    """Defaults follow the spec's reconstruction (§3.2, §3.5); ``k`` is set from the training GT."""

    k: int = 6
    size: int = 128
    lcn: bool = True
    lcn_kernel: int = 9
    lcn_sigma: float = 2.0
    channels: tuple[int, int, int] = (16, 32, 64)
    stem_stride: int = 2  # 1 = the table's full-resolution conv1 (≈4× slower on CPU)
    hidden: int = 64
    dropout: float = 0.5
    residual: bool = False  # the arXiv v1 "EL-FACE" variant
    batch_norm: bool = True  # after each conv (not in the spec's table; trains ~3× faster on CPU budgets)


class LCN(nn.Module):
    """Fixed local contrast normalisation: x − G*x, divided by max(sqrt(G*v²), its per-image mean).

    The Gaussian blur with reflect padding is a linear map per axis, applied as two small matrix products
    (``B_h · X · B_wᵀ``): on CPU this is ~10× faster than a one-channel ``conv2d``.
    """

    def __init__(self, kernel: int = 9, sigma: float = 2.0, eps: float = 1e-4):
        super().__init__()
        r = kernel // 2
        g = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
        self.register_buffer("g", g / g.sum(), persistent=False)
        self.r = r
        self.eps = eps
        self._mats: dict[int, torch.Tensor] = {}

    def _matrix(self, n: int) -> torch.Tensor:
        if n not in self._mats:
            eye = torch.eye(n).unsqueeze(1)  # n unit impulses
            padded = F.pad(eye, (self.r, self.r), mode="reflect")
            self._mats[n] = F.conv1d(padded, self.g.view(1, 1, -1))[:, 0, :].T.contiguous()
        return self._mats[n]

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return self._matrix(h) @ x @ self._matrix(w).T

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., H, W), each slice one grey image
        v = x - self.blur(x)
        s = torch.sqrt(self.blur(v * v) + 1e-12)
        floor = s.mean(dim=(-2, -1), keepdim=True).clamp_min(self.eps)
        return v / torch.maximum(s, floor)


class _SepConv3d(nn.Module):
    """Depthwise (1×3×3) + pointwise 3D convolution, ReLU, spatial max-pool; optional 1×1 residual."""

    def __init__(self, cin: int, cout: int, residual: bool, batch_norm: bool):
        super().__init__()
        self.dw = nn.Conv3d(cin, cin, (1, 3, 3), padding=(0, 1, 1), groups=cin)
        self.pw = nn.Conv3d(cin, cout, 1)
        self.bn = nn.BatchNorm3d(cout) if batch_norm else nn.Identity()
        self.skip = nn.Conv3d(cin, cout, 1) if residual else None

    def forward(self, x):
        if not self.training:  # same result, cheaper: BN folded into the pointwise convs, pool before ReLU
            w, b = _fold_bn(self.pw, self.bn)
            y = F.conv3d(self.dw(x), w, b)
            if self.skip is not None:
                ws, bs = _fold_bn(self.skip, self.bn, with_shift=False)
                y = y + F.conv3d(x, ws, bs)
            return F.relu(F.max_pool3d(y, (1, 2, 2)))
        y = self.pw(self.dw(x))
        if self.skip is not None:
            y = y + self.skip(x)
        return F.max_pool3d(F.relu(self.bn(y)), (1, 2, 2))


def _fold_bn(conv: nn.Conv3d, bn: nn.Module, with_shift: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of ``bn(conv(x))`` as one convolution (BN in eval mode is a per-channel affine map).

    ``with_shift=False`` scales only (for a second branch summed before the same BN).
    """
    w, b = conv.weight, conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    if not isinstance(bn, nn.BatchNorm3d):
        return w, b
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale if with_shift else torch.zeros_like(scale)
    return w * scale.view(-1, 1, 1, 1, 1), b * scale + shift


class RefCNN3D(nn.Module):
    """Input: grey frames (B, 3, H, W) = (F_{t−k}, F_t, F_{t+k}) scaled to [0, 1]; output: (B,) scores."""

    def __init__(self, cfg: RefCNN3DConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.channels
        self.lcn = LCN(cfg.lcn_kernel, cfg.lcn_sigma) if cfg.lcn else None
        s = cfg.stem_stride
        self.conv1 = nn.Conv3d(1, c1, (2, 3, 3), stride=(1, s, s), padding=(0, 1, 1))
        self.bn1 = nn.BatchNorm3d(c1) if cfg.batch_norm else nn.Identity()
        self.conv2 = _SepConv3d(c1, c2, cfg.residual, cfg.batch_norm)
        self.conv3 = _SepConv3d(c2, c3, cfg.residual, cfg.batch_norm)
        self.head = nn.Sequential(nn.Linear(2 * c3, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.hidden, 1))

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) in [0, 1] -> LCN per frame (or plain centring when LCN is off)."""
        if self.lcn is not None:
            return self.lcn(frames)
        return frames - 0.5

    def pair_features(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """One stream: normalised frames a (earlier), b (later), each (B, H, W) -> (B, C3)."""
        x = torch.stack([a, b], dim=1).unsqueeze(1)  # (B, 1, 2, H, W)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        if self.training:
            x = F.max_pool3d(F.relu(self.bn1(self.conv1(x))), (1, 2, 2))
        else:  # max-pool commutes with ReLU; BN folded into conv1: ~25 % faster on CPU, same numbers
            w, b = _fold_bn(self.conv1, self.bn1)
            x = F.relu(F.max_pool3d(F.conv3d(x, w, b, stride=self.conv1.stride, padding=self.conv1.padding),
                                    (1, 2, 2)))
        x = self.conv3(self.conv2(x))
        return x.mean(dim=(2, 3, 4))

    def score_pairs(self, f_prev: torch.Tensor, f_next: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([f_prev, f_next], dim=1)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.normalise(x)
        return self.score_pairs(self.pair_features(z[:, 0], z[:, 1]), self.pair_features(z[:, 1], z[:, 2]))


def build_refcnn3d(cfg: RefCNN3DConfig | None = None) -> RefCNN3D:
    return RefCNN3D(cfg or RefCNN3DConfig())


def k_from_durations(durations: np.ndarray | list[int]) -> int:
    """SOFTNet's ``cal_k``: ``int((mean(offset − onset) + 1) / 2)``; e.g. CAS(ME)^2 ME 12.58 -> 6."""
    d = np.asarray(durations, dtype=float)
    if d.size == 0:
        raise ValueError("no ground-truth durations to derive k from")
    return max(1, int((float(d.mean()) + 1) / 2))


def clamp_refs(t: np.ndarray, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference indices t − k and t + k, clamped to the video (spec §3.4)."""
    return np.clip(t - k, 0, n - 1), np.clip(t + k, 0, n - 1)


@torch.no_grad()
def score_video(model: RefCNN3D, crops: np.ndarray, batch: int = 256,
                progress=None) -> np.ndarray:
    """Per-frame scores of a whole video (crops: (N, H, W) uint8), each frame pair computed once.

    Streams share weights, so the feature of pair (j, j + k) serves as stream 2 of frame j and stream 1 of
    frame j + k. Pairs are formed with clamped indices exactly as ``forward`` would see them.
    """
    model.eval()
    n = crops.shape[0]
    k = model.cfg.k
    if n == 0:
        return np.zeros(0, np.float32)
    # unique pairs: (clip(j−k), j) for j in [0, n) covers stream 1 of every t; stream 2 of t = pair (t, clip(t+k))
    # which equals stream 1 of t + k when t + k < n; the clamped tail pairs (t, n−1) are computed separately.
    t = np.arange(n)
    prev_idx, next_idx = clamp_refs(t, k, n)
    feats1 = _pair_feats(model, crops, prev_idx, t, batch, progress, n)
    tail = t[t + k >= n]
    feats_tail = _pair_feats(model, crops, tail, next_idx[tail], batch, None, n)
    feats2 = torch.empty_like(feats1)
    head = t[t + k < n]
    feats2[head] = feats1[head + k]
    feats2[tail] = feats_tail
    out = []
    for s in range(0, n, 4096):
        out.append(model.score_pairs(feats1[s:s + 4096], feats2[s:s + 4096]))
    return torch.cat(out).numpy().astype(np.float32)


def _pair_feats(model: RefCNN3D, crops: np.ndarray, a_idx: np.ndarray, b_idx: np.ndarray, batch: int,
                progress, total: int) -> torch.Tensor:
    """Stream features of pairs (a_idx[i], b_idx[i]); each needed frame is normalised once per chunk."""
    c3 = model.cfg.channels[2]
    out = torch.empty((len(a_idx), c3))
    for s in range(0, len(a_idx), batch):
        a, b = a_idx[s:s + batch], b_idx[s:s + batch]
        lo, hi = int(min(a.min(), b.min())), int(max(a.max(), b.max())) + 1
        z = model.normalise(torch.from_numpy(np.asarray(crops[lo:hi], dtype=np.float32) / 255.0))
        out[s:s + len(a)] = model.pair_features(z[a - lo], z[b - lo])
        if progress:
            progress(min(s + batch, total), total)
    return out


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def receptive_note(cfg: RefCNN3DConfig) -> str:
    """Feature-map side after the three pools (for the results page)."""
    side = cfg.size // cfg.stem_stride // 8
    return f"{cfg.size}px -> {side}x{side}x{cfg.channels[2]} per stream, {int(math.log2(8))} pools"
