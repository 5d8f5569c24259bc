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
    diff_init: bool = True  # conv1 starts as a temporal difference (w(t+1) = −w(t)); the paper's init is unpublished


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
        if cfg.diff_init:  # each filter sees b − a at init: the static face cancels, only motion passes
            with torch.no_grad():
                self.conv1.weight[:, :, 1] = -self.conv1.weight[:, :, 0]
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


# ---------------------------------------------------------------------------------------------------------
# Training on whole videos: per-frame pseudo-labels, balanced sampling, regression (spec §3.6-3.7)


def frame_labels(n: int, spans: list[tuple[int, int]], half: int) -> np.ndarray:
    """``y_t = 1`` iff the window ``[t − half, t + half]`` overlaps a GT span (SOFTNet's rule, centred)."""
    d = np.zeros(n + 1, np.int32)
    for a, b in spans:
        lo, hi = max(0, a - half), min(n - 1, b + half)
        if lo <= hi:
            d[lo] += 1
            d[hi + 1] -= 1
    return (np.cumsum(d[:n]) > 0).astype(np.float32)


def usable_frames(face: np.ndarray, k: int) -> np.ndarray:
    """Frames whose face and both reference frames (t ± k, clamped) were found."""
    n = face.size
    t = np.arange(n)
    return face & face[np.clip(t - k, 0, n - 1)] & face[np.clip(t + k, 0, n - 1)]


def fit_refcnn3d(seqs: list, spans: list[list[tuple[int, int]]], cfg, seed: int, kind: str = "me",
                 progress=None, on_epoch=None) -> tuple[RefCNN3D, dict]:
    """Train one refcnn3d (one type) on whole videos, then pick its peak threshold ``p`` on the same videos.

    ``cfg`` is a ``SpotTrainConfig``; k comes from ``cfg.k[kind]`` or the training spans. Returns the model in
    eval mode and its meta (k, p, the absolute tests of the peak threshold, the per-epoch loss). ``on_epoch``:
    see ``spotting.loop.train_epochs``.
    """
    from microexp.errors import InputError
    from microexp.spotting.loop import train_epochs

    if kind in cfg.k:
        k = int(cfg.k[kind])
    else:
        durations = [b - a for sp in spans for a, b in sp]
        if not durations:
            raise InputError(f"no positive frames: the training videos hold no {kind} expression")
        k = k_from_durations(durations)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_refcnn3d(RefCNN3DConfig(**{**cfg.model, "k": int(k), "size": cfg.size}))
    pos, neg = [], []
    for vi, (seq, sp) in enumerate(zip(seqs, spans, strict=True)):
        y = frame_labels(seq.n_frames, sp, max(1, k // 2))
        ok = usable_frames(np.asarray(seq.face, bool), k)
        stride = cfg.frame_stride or max(1, int(round(seq.fps / 30.0)))
        ok[np.arange(seq.n_frames) % stride != 0] = False
        idx = np.flatnonzero(ok)
        pos.append(np.stack([np.full((y[idx] > 0).sum(), vi), idx[y[idx] > 0]], 1))
        neg.append(np.stack([np.full((y[idx] == 0).sum(), vi), idx[y[idx] == 0]], 1))
    pos = np.concatenate(pos) if pos else np.zeros((0, 2), int)
    neg = np.concatenate(neg) if neg else np.zeros((0, 2), int)
    if len(pos) == 0:
        raise InputError(f"no positive frames for k={k}: the training videos hold no expression of this type")
    n_neg = int(len(neg) * cfg.neg_keep)
    if cfg.max_neg_per_pos is not None:
        n_neg = min(n_neg, int(cfg.max_neg_per_pos * len(pos)))
    n_samples = len(pos) + n_neg
    labels = np.concatenate([np.ones(len(pos), np.float32), np.zeros(n_neg, np.float32)])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr or 5e-4, weight_decay=cfg.weight_decay)

    def batches(_epoch):
        pick = neg[rng.choice(len(neg), size=n_neg, replace=False)] if n_neg else neg[:0]
        samples = np.concatenate([pos, pick])  # negatives re-drawn every epoch (SOFTNet drops half)
        order = rng.permutation(n_samples)
        for s in range(0, n_samples, cfg.batch):
            b = order[s:s + cfg.batch]
            yield samples[b], labels[b]

    def loss_of(batch):
        samples, yb = batch
        x = np.empty((len(samples), 3, cfg.size, cfg.size), np.float32)
        for i, (vi, t) in enumerate(samples):
            seq = seqs[vi]
            a, c = clamp_refs(np.array([t]), k, seq.n_frames)
            x[i] = np.asarray(seq.crops[[a[0], t, c[0]]], np.float32) / 255.0
        if cfg.augment:  # both classes alike: class-specific augmentation is a shortcut to the label
            flip = rng.random(len(samples)) < 0.5
            x[flip] = x[flip][..., ::-1]
            if cfg.noise_sd:
                x += rng.normal(0, cfg.noise_sd, size=x.shape).astype(np.float32)
        out = model(torch.from_numpy(x))
        target = torch.from_numpy(yb)
        if cfg.loss == "mse":
            return F.mse_loss(out, target)
        return F.binary_cross_entropy_with_logits(out, target)

    history = train_epochs(model, opt, cfg.epochs, batches, loss_of, int(np.ceil(n_samples / cfg.batch)), progress,
                           on_epoch)
    meta = {"k": int(k), "p": None, "floor": cfg.floor, "min_contrast": cfg.min_contrast, "objective": cfg.loss}
    if cfg.p is None:
        meta["p"], meta["p_train_f1"] = choose_p(model, meta, seqs, spans, kind, cfg.p_grid, cfg.select_semantics)
    else:
        meta["p"], meta["p_train_f1"] = float(cfg.p), {}
    meta["loss"] = history
    return model, meta


def choose_p(model: RefCNN3D, meta: dict, seqs: list, spans: list, kind: str, grid, semantics: str
             ) -> tuple[float, dict]:
    """The grid's p with the best F1 on the training videos (the test subject is never looked at)."""
    import pandas as pd

    from microexp.eval.spotting import evaluate

    curves = [refcnn3d_curve(model, seq, meta["objective"]) for seq in seqs]
    gt = pd.DataFrame([(str(i), a, b, kind) for i, sp in enumerate(spans) for a, b in sp],
                      columns=["video", "onset", "offset", "type"])
    scores = {}
    for p in grid:
        rows = [(str(i), iv.onset, iv.offset, kind) for i, (c, seq) in enumerate(zip(curves, seqs, strict=True))
                for iv in curve_intervals(c, {**meta, "p": float(p)}, kind, seq.n_frames, np.asarray(seq.face, bool))]
        pred = pd.DataFrame(rows, columns=["video", "onset", "offset", "type"])
        scores[float(p)] = float(evaluate(gt, pred, semantics, types=(kind,))
                                 .table.loc[kind, "f1"]) if len(gt) else 0.0
    best = max(scores, key=lambda q: (scores[q], q))
    return best, scores


def refcnn3d_curve(model: RefCNN3D, seq, objective: str = "mse") -> np.ndarray:
    """Per-frame scores in the units of the training target (a BCE model's logits go through a sigmoid).

    Frames without a usable face get the video's median: they cannot form a peak.
    """
    s = score_video(model, seq.crops).astype(np.float64)
    if objective == "bce":
        s = 1.0 / (1.0 + np.exp(-s))
    ok = usable_frames(np.asarray(seq.face, bool), model.cfg.k)
    if ok.any() and not ok.all():
        s[~ok] = np.median(s[ok])
    return s


def curve_intervals(curve: np.ndarray, meta: dict, kind: str, n_frames: int, face: np.ndarray | None = None) -> list:
    """Peaks to intervals (apex ± k); with ``face``, each interval is cut to the run of face frames around its
    apex: a peak just after the face appears would otherwise reach back into frames where nobody is seen."""
    from microexp.records import Interval
    from microexp.spotting.postprocess import spot_curve

    out = []
    for pk in spot_curve(curve, meta["k"], meta["p"], n_frames=n_frames, floor=meta.get("floor"),
                         min_contrast=meta.get("min_contrast")):
        on, off = pk.onset, pk.offset
        if face is not None:
            if not face[pk.apex]:
                continue
            on, off = pk.apex, pk.apex  # walk out from the apex while the face is there
            while on > pk.onset and face[on - 1]:
                on -= 1
            while off < pk.offset and face[off + 1]:
                off += 1
            if off <= on:
                continue
        out.append(Interval(on, pk.apex, off, kind, pk.score))
    return out


# ---------------------------------------------------------------------------------------------------------
# Registry entry


def _pack(model: RefCNN3D, meta: dict) -> dict:
    from dataclasses import asdict

    keep = ("k", "p", "floor", "min_contrast", "objective")
    return {"config": asdict(model.cfg), "state_dict": model.state_dict(), **{k: meta[k] for k in keep},
            "exclude_other": bool(meta.get("exclude_other", False))}


def _unpack(m: dict, fps_scale: float = 1.0) -> tuple[RefCNN3D, dict]:
    cfg = dict(m["config"])
    cfg["channels"] = tuple(cfg["channels"])
    k = max(1, int(round(m["k"] * fps_scale)))
    net = build_refcnn3d(RefCNN3DConfig(**{**cfg, "k": k}))
    net.load_state_dict(m["state_dict"])
    meta = {"k": k, "p": float(m["p"]), "floor": m.get("floor"), "min_contrast": m.get("min_contrast"),
            "objective": m.get("objective", "mse"), "exclude_other": bool(m.get("exclude_other", False))}
    return net.eval(), meta


def _detect(model: RefCNN3D, meta: dict, seq, kind: str) -> list:
    return curve_intervals(refcnn3d_curve(model, seq, meta["objective"]), meta, kind, seq.n_frames,
                           np.asarray(seq.face, bool))


def _score(model: RefCNN3D, meta: dict, seq, kind: str):
    """Intervals plus the curve scaled so the peak threshold is 1 (on the 2k-smoothed curve, centred)."""
    from microexp.spotting.learned import KindScore
    from microexp.spotting.postprocess import curve_threshold, window_mean

    curve = refcnn3d_curve(model, seq, meta["objective"])
    k, n = meta["k"], seq.n_frames
    sm = window_mean(curve, k)
    thr = curve_threshold(sm, meta["p"], meta.get("floor"), meta.get("min_contrast"))
    full = np.full(n, np.nan)
    full[k:k + sm.size] = sm[: max(0, n - k)]
    base = float(np.nanmin(full)) if np.isfinite(full).any() else 0.0
    scaled = np.nan_to_num((full - base) / max(thr - base, 1e-9), nan=0.0)
    return KindScore(curve_intervals(curve, meta, kind, n, np.asarray(seq.face, bool)), curve, scaled)


def _spotter():
    from microexp.spotting.learned import LearnedSpotter

    return LearnedSpotter("refcnn3d", RefCNN3DConfig, fit_refcnn3d, _pack, _unpack, _detect, _score)


SPOTTER = _spotter()
